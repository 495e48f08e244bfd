"""approvals' receivers of signals sent by the apps below it; connected in approvals/apps.py `ready()`."""

from __future__ import annotations

from governance.approvals.services import deployment_requests_recheck_for_version


def deployment_requests_recheck_on_audit_completed(*, sender, audit, actor, **_) -> None:
    """governance.audits.signals.audit_completed: a newer audit of a version that fails a gate voids the
    approvals of the version's open requests (deployment_requests_recheck_for_version)."""
    deployment_requests_recheck_for_version(actor=actor, model_version_id=audit.model_version_id)
