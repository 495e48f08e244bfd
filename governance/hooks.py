"""Extension points through which an upper app adds to what a lower app shows, with no upward import.

A lower app declares the hook here and calls it; the upper app registers its provider in its AppConfig.ready()
(an ordinary function reference, no dotted string). This module sits below every app and imports none of them.
A hook with no provider yields nothing: the lower app shows what it owns alone.

- `audit_report_sections` (called by governance.audits.report, filled by approvals): extra context entries of
  an audit's report, called with `audit`, `results` (kind -> data) and `now` (the time the policies are judged
  at); approvals adds `verdicts`, each environment's deployment policy judged on the audit.
- `model_version_page_sections` (called by governance.registry.views, filled by audits): extra context entries
  of a model version's page, called with `model_version`; audits adds `audits`, the version's audits.
- `model_page_sections` (called by governance.registry.selectors.model_page, filled by serving): extra context
  entries of a model's page, called with `model` and `user`; serving adds `monitoring` (its deployments'
  monitoring charts, alerts and service tokens).
- `model_compute_records` (called by governance.registry.selectors.compute_summary, filled by audits): stored
  compute records beyond training, called with `versions` (a ModelVersion queryset); audits returns
  {"inference": [...], "explanations": [...]}, read in one query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

R = TypeVar("R")


class Hook(Generic[R]):
    """An ordered list of providers, each called with the same keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._providers: list[Callable[..., R]] = []

    @property
    def providers(self) -> tuple[Callable[..., R], ...]:
        return tuple(self._providers)

    def register(self, provider: Callable[..., R]) -> Callable[..., R]:
        if provider not in self._providers:  # ready() runs once a process, but a test may call it again
            self._providers.append(provider)
        return provider

    def collect(self, **kwargs: Any) -> list[R]:
        return [provider(**kwargs) for provider in self._providers]

    def merged(self, **kwargs: Any) -> dict:
        """The providers' dicts merged in registration order (for hooks whose providers return dicts)."""
        merged: dict = {}
        for part in self.collect(**kwargs):
            merged.update(part)
        return merged


audit_report_sections: Hook[dict] = Hook("audit_report_sections")
model_version_page_sections: Hook[dict] = Hook("model_version_page_sections")
model_page_sections: Hook[dict] = Hook("model_page_sections")
model_compute_records: Hook[dict[str, list[dict]]] = Hook("model_compute_records")
