"""The page sections that upper apps add to lower apps' pages (governance/hooks.py) are registered at start-up,
so no page silently loses a section: the report's policy verdicts, the version page's audits, and the audits'
compute in the registry's compute summary."""

from __future__ import annotations

from governance import hooks
from governance.approvals.selectors import audit_report_verdicts
from governance.audits.selectors import audit_compute_records, model_version_audits_section


def test_each_hook_has_its_upper_app_s_provider():
    assert audit_report_verdicts in hooks.audit_report_sections.providers
    assert model_version_audits_section in hooks.model_version_page_sections.providers
    assert audit_compute_records in hooks.model_compute_records.providers


def test_a_hook_merges_its_providers_in_order_and_registers_each_once():
    hook = hooks.Hook("example")
    first, second = (lambda **kw: {"a": 1, "b": kw["x"]}), (lambda **kw: {"b": 3})
    for provider in (first, second, first):
        hook.register(provider)
    assert hook.collect(x=2) == [{"a": 1, "b": 2}, {"b": 3}]
    assert hook.merged(x=2) == {"a": 1, "b": 3}
