"""approvals' receivers of signals sent by the apps below it; connected in approvals/apps.py `ready()`."""

from __future__ import annotations

from governance.approvals.models import DeploymentRequest, RequestStatus, WebhookEvent
from governance.approvals.notifications import audit_log_event_notify
from governance.approvals.services import (deployment_request_recheck, deployment_requests_recheck,
                                           deployment_requests_recheck_for_version)


def deployment_requests_recheck_on_audit_completed(*, sender, audit, actor, **_) -> None:
    """governance.audits.signals.audit_completed: a newer audit of a version that fails a gate voids the
    approvals of the version's open requests (deployment_requests_recheck_for_version)."""
    deployment_requests_recheck_for_version(actor=actor, model_version_id=audit.model_version_id)


def webhooks_on_audit_log_checkpoint(*, sender, checkpoint: dict, **_) -> None:
    """governance.auditlog.signals.checkpoint_signed: the signed head (the whole checkpoint, with its public key
    and signature) to the `auditlog.checkpoint` webhooks, so outside witnesses can hold the organisation to it."""
    audit_log_event_notify(event=WebhookEvent.AUDITLOG_CHECKPOINT, payload={"checkpoint": checkpoint})


def webhooks_on_audit_log_verification_failed(*, sender, problems: list[str], reason: str, actor: str, **_) -> None:
    """governance.auditlog.signals.verification_failed: the checkpoint writer refused to sign."""
    audit_log_event_notify(event=WebhookEvent.AUDITLOG_VERIFICATION_FAILED,
                           payload={"reason": reason, "actor": actor, "problems": problems[:50]})
def deployment_requests_recheck_on_dataset_metadata(*, sender, dataset, actor, **_) -> None:
    """governance.datasets.signals.dataset_metadata_changed: the DPIA and lawful-basis gates of the requests
    of versions trained on the dataset are judged again (an approved one whose gate now fails is voided)."""
    ids = list(DeploymentRequest.objects.filter(
        model_version__dataset_version__dataset=dataset,
        status__in=(RequestStatus.PENDING, RequestStatus.APPROVED)).values_list("pk", flat=True))
    deployment_requests_recheck(actor=actor, request_ids=ids)


def deployment_request_authorise(*, sender, request_id: int, actor, **_) -> str:
    """governance.registry.signals.deployment_authorise: "" when the request still stands approved on its
    evidence (judged now; voided and committed when it does not), otherwise why not."""
    request, why = deployment_request_recheck(actor=actor, request_id=request_id)
    if why:
        return f"its approval was just voided: {why}"
    if request.status != RequestStatus.APPROVED:
        return f"request #{request.pk} is {request.get_status_display().lower()}"
    return ""
