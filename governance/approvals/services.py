"""Maker/checker: deployment requests and the decisions on them, bound to the evidence digests."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.accounts.roles import REVIEWER
from governance.accounts.selectors import user_has_role
from governance.approvals.models import Approval, Decision, DeploymentRequest, RequestStatus
from governance.audits.models import Audit, AuditStatus
from governance.compliance.services import audit_log_append
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.registry.choices import Environment, VersionStatus
from governance.registry.models import ModelVersion
from governance.registry.services import deployment_start


@transaction.atomic
def deployment_request_create(*, actor, model_version: ModelVersion, environment: str, audit: Audit,
                              justification: str) -> DeploymentRequest:
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if not (justification or "").strip():
        raise ValidationFailed("A justification is required.", field="justification")
    if model_version.status != VersionStatus.READY:
        raise InvalidState("Only a ready model version can be deployed.")
    if audit.model_version_id != model_version.pk:
        raise ValidationFailed("The audit is not of this model version.", field="audit")
    if audit.status != AuditStatus.COMPLETE:
        raise ValidationFailed("The audit has not completed.", field="audit")
    if DeploymentRequest.objects.filter(model_version=model_version, environment=environment,
                                        status=RequestStatus.PENDING).exists():
        raise InvalidState("A request for this version and environment is already awaiting review.")
    request = DeploymentRequest.objects.create(
        model_version=model_version, environment=environment, audit=audit, justification=justification.strip(),
        requested_by=actor, artifact_digest=model_version.artifact_digest, audit_result_hash=audit.result_hash)
    audit_log_append(actor=actor, action="deployment_request.created", obj=request,
                     payload={"model_version": model_version.pk, "environment": environment, "audit": audit.pk,
                              "artifact_digest": request.artifact_digest,
                              "audit_result_hash": request.audit_result_hash})
    return request


def _lock_pending(request_id: int) -> DeploymentRequest:
    request = (DeploymentRequest.objects.select_for_update()
               .select_related("model_version", "audit").get(pk=request_id))
    if request.status != RequestStatus.PENDING:
        raise InvalidState(f"The request is {request.get_status_display().lower()}; it cannot be decided again.")
    return request


def _evidence_unchanged(request: DeploymentRequest) -> bool:
    return (request.model_version.artifact_digest == request.artifact_digest
            and request.audit.result_hash == request.audit_result_hash)


def deployment_request_approve(*, actor, request_id: int, reason: str = "") -> DeploymentRequest:
    with transaction.atomic():
        request = _lock_pending(request_id)
        if actor.pk == request.requested_by_id:
            raise NotAllowed("You cannot approve your own deployment request.")
        if not user_has_role(actor, REVIEWER):
            raise NotAllowed("Only a reviewer can approve a deployment request.")
        if request.approvals.filter(reviewer=actor, voided=False).exists():
            raise InvalidState("You have already decided on this request.")
        if _evidence_unchanged(request):
            return _approve(actor=actor, request=request, reason=reason)
        # The void is committed before the error is raised, so it is not rolled back with it.
        _void(request=request, actor=actor, why="the artifact or the audit result changed since the request")
    raise InvalidState("The evidence changed since the request was made; the request is void.")


def _approve(*, actor, request: DeploymentRequest, reason: str) -> DeploymentRequest:
    approval = Approval.objects.create(request=request, reviewer=actor, decision=Decision.APPROVE,
                                       reason=reason.strip(), artifact_digest=request.artifact_digest,
                                       audit_result_hash=request.audit_result_hash)
    audit_log_append(actor=actor, action="deployment_request.approved", obj=request,
                     payload={"approval": approval.pk, "artifact_digest": approval.artifact_digest,
                              "audit_result_hash": approval.audit_result_hash})
    approvals = request.approvals.filter(decision=Decision.APPROVE, voided=False).count()
    if approvals >= request.required_approvals:
        request.status, request.decided_at = RequestStatus.APPROVED, timezone.now()
        request.save(update_fields=["status", "decided_at"])
        deployment_start(actor=actor, model_version=request.model_version, environment=request.environment,
                         request=request)
    return request


@transaction.atomic
def deployment_request_reject(*, actor, request_id: int, reason: str) -> DeploymentRequest:
    if not (reason or "").strip():
        raise ValidationFailed("A rejection needs a reason.", field="reason")
    request = _lock_pending(request_id)
    if actor.pk == request.requested_by_id:
        raise NotAllowed("You cannot decide on your own deployment request.")
    if not user_has_role(actor, REVIEWER):
        raise NotAllowed("Only a reviewer can reject a deployment request.")
    approval = Approval.objects.create(request=request, reviewer=actor, decision=Decision.REJECT,
                                       reason=reason.strip(), artifact_digest=request.artifact_digest,
                                       audit_result_hash=request.audit_result_hash)
    request.status, request.decided_at = RequestStatus.REJECTED, timezone.now()
    request.save(update_fields=["status", "decided_at"])
    audit_log_append(actor=actor, action="deployment_request.rejected", obj=request,
                     payload={"approval": approval.pk, "reason": approval.reason})
    return request


def _void(*, request: DeploymentRequest, actor, why: str) -> None:
    request.approvals.filter(voided=False).update(voided=True)
    request.status, request.decided_at = RequestStatus.VOID, timezone.now()
    request.save(update_fields=["status", "decided_at"])
    audit_log_append(actor=actor, action="deployment_request.voided", obj=request, payload={"why": why})
