"""Waivers of failing gates: a compliance officer's, never the requester's, signed with a step-up, and bound
to the audit result hash and the measured value they waive (judging.store_gates voids one that no longer
matches)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from governance.accounts.step_up import step_up_verify
from governance.approvals import gates
from governance.approvals.judging import evaluate, lock, store_gates, tampering
from governance.approvals.models import DeploymentRequest, GateWaiver, RequestStatus
from governance.approvals.selectors import policy_for
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import DomainError, InvalidState, NotAllowed, NotFound, ValidationFailed
from governance.keys import text_digest
from governance.accounts.predicates import object_require_role
from governance.permissions import user_has_role
from governance.roles import COMPLIANCE_OFFICER

MAX_WAIVER_DAYS = 365


def refusal_log(*, actor, action: str, obj, payload: dict, error: DomainError) -> DomainError:
    """Append (committed, whatever the caller does next) the refusal of an attempt, and return the error to
    raise: a refused attack leaves its trace in the audit log."""
    with transaction.atomic():
        audit_log_lock()
        audit_log_append(actor=actor, action=action, obj=obj, payload={**payload, "refused": error.message})
    return error


def step_up_or_refuse(*, actor, request: DeploymentRequest, decision: str, password: str, otp_token: str) -> str:
    """The step-up of a decision on `request` (accounts.step_up); a failure is logged and raised (403)."""
    try:
        return step_up_verify(user=actor, password=password, otp_token=otp_token,
                              require_totp=policy_for(request.environment).require_totp)
    except NotAllowed as exc:
        raise refusal_log(actor=actor, action="deployment_request.step_up_failed", obj=request,
                          payload={"decision": decision, "gave": sorted(k for k, v in (("password", password),
                                                                                    ("otp_token", otp_token)) if v)},
                          error=exc) from None


def gate_waiver_create(*, actor, request_id: int, gate: str, reason: str, expires_at: datetime,
                       password: str = "", otp_token: str = "") -> GateWaiver:
    if not user_has_role(actor, COMPLIANCE_OFFICER):  # the request's project is checked once it is read
        raise NotAllowed("Only a compliance officer can waive a gate.")
    request = DeploymentRequest.objects.filter(pk=request_id).first()
    if request is None:
        raise NotFound(f"There is no deployment request #{request_id}.")
    object_require_role(actor, request, COMPLIANCE_OFFICER, what="deployment request")
    if gate not in gates.GATES:
        raise ValidationFailed(f"'{gate}' is not a gate.", field="gate")
    if not (reason or "").strip():
        raise ValidationFailed("A waiver needs a reason.", field="reason")
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        raise ValidationFailed("The expiry must be in the future.", field="expires_at")
    if expires_at > now + timedelta(days=MAX_WAIVER_DAYS):
        raise ValidationFailed(f"A waiver lasts at most {MAX_WAIVER_DAYS} days.", field="expires_at")
    if request.requested_by_id == actor.pk:  # the maker never waives the checker's gates, whatever their roles
        raise refusal_log(actor=actor, action="gate_waiver.refused", obj=request,
                          payload={"gate": gate, "why": "requester"},
                          error=NotAllowed("You requested this deployment; you cannot waive its gates."))
    step_up_or_refuse(actor=actor, request=request, decision="waive", password=password, otp_token=otp_token)
    with transaction.atomic():
        audit_log_lock()
        request = lock(request_id)
        if request.status in (RequestStatus.REJECTED, RequestStatus.VOID):
            raise InvalidState("The request is closed; there is nothing to waive.")
        if tampering(request.audit, request.audit_result_hash):
            raise InvalidState("The audit's stored results do not match the hash the request is bound to; "
                               "re-check the request instead of waiving.")
        judged = {r["gate"]: r for r in evaluate(request, policy=policy_for(request.environment), now=now)}
        if gate not in judged:
            raise ValidationFailed(f"The {request.environment} policy does not judge '{gate}'.", field="gate")
        if judged[gate]["passed"]:
            raise ValidationFailed(f"'{gates.GATES[gate]}' passes; there is nothing to waive.", field="gate")
        waiver = GateWaiver.objects.create(request=request, gate=gate, reason=reason.strip(), expires_at=expires_at,
                                           granted_by=actor, audit_result_hash=request.audit_result_hash,
                                           measured=judged[gate].get("measured"))
        store_gates(request, evaluate(request, policy=policy_for(request.environment), now=now), now, actor=actor)
        audit_log_append(actor=actor, action="gate_waiver.created", obj=waiver,
                         payload={"request": request.pk, "gate": gate, "reason": text_digest(waiver.reason),
                                  "expires_at": expires_at.isoformat(), "audit_result_hash": waiver.audit_result_hash,
                                  "measured": waiver.measured})
        return waiver
