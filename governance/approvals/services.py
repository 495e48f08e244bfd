"""Maker/checker: deployment requests, the policy gates they must pass, comments, and decisions bound to the
evidence digests (the model version's artifact digest, the audit's result hash, recomputed from the stored
result rows at each judgement). A request that loses its approval suspends its deployments at once.

Every service takes the audit log's lock first (auditlog.services.audit_log_lock), then its own rows.
Judging the evidence: judging.py; waivers: waivers.py; webhooks: notifications.py.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from governance.roles import ADMIN, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.accounts.predicates import object_has_role, object_require_role, object_require_visible
from governance.permissions import user_has_role
from governance.approvals import gates
from governance.approvals.judging import (approval_problem, evaluate, evidence_problem, lock, store_gates,
                                          tampering)
from governance.approvals.models import (Approval, Decision, DeploymentPolicy, DeploymentRequest, RequestComment,
                                         RequestStatus, WebhookEvent)
from governance.approvals.notifications import notify, reviewer_emails
from governance.approvals.notifications import webhook_create  # noqa: F401  (importable from here)
from governance.approvals.selectors import approvals_counted, policy_for, request_can_comment
from governance.approvals.waivers import MAX_WAIVER_DAYS, gate_waiver_create  # noqa: F401  (importable from here)
from governance.approvals.waivers import refusal_log, step_up_or_refuse
from governance.audits.models import Audit, AuditStatus
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from governance.keys import text_digest
from governance.registry.choices import Environment, VersionStatus
from governance.registry.models import ModelVersion
from governance.registry.services import deployment_start, deployments_suspend


def deployment_request_create(*, actor, model_version: ModelVersion, environment: str, audit: Audit,
                              justification: str) -> DeploymentRequest:
    with transaction.atomic():
        audit_log_lock()
        object_require_role(actor, model_version, ML_ENGINEER, what="model version")
        object_require_visible(actor, audit, what="audit")
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
        forged = tampering(audit, audit.result_hash)
        if not forged:
            return _create(actor=actor, model_version=model_version, environment=environment, audit=audit,
                           justification=justification)
    raise refusal_log(actor=actor, action="audit.tampering_detected", obj=audit,
                      payload={"when": "deployment request", "why": forged},
                      error=ValidationFailed(f"Audit #{audit.pk} cannot be cited: {forged}.", field="audit"))


def _create(*, actor, model_version: ModelVersion, environment: str, audit: Audit,
            justification: str) -> DeploymentRequest:
    policy = policy_for(environment)
    request = DeploymentRequest.objects.create(
        model_version=model_version, environment=environment, audit=audit, justification=justification.strip(),
        requested_by=actor, artifact_digest=model_version.artifact_digest, audit_result_hash=audit.result_hash,
        required_approvals=policy.required_approvals)
    now = timezone.now()
    results = evaluate(request, policy=policy, now=now)
    store_gates(request, results, now, actor=actor)
    audit_log_append(actor=actor, action="deployment_request.created", obj=request,
                     payload={"model_version": model_version.pk, "environment": environment, "audit": audit.pk,
                              "artifact_digest": request.artifact_digest,
                              "audit_result_hash": request.audit_result_hash,
                              "required_approvals": request.required_approvals,
                              "gates": {r["gate"]: r["passed"] for r in results}})
    notify(event=WebhookEvent.REQUESTED, request=request, actor=actor,
           recipients=reviewer_emails(policy=policy, exclude_user_id=actor.pk),
           extra={"gates": {r["gate"]: r["passed"] for r in results}})
    return request


def _lock_pending(request_id: int) -> DeploymentRequest:
    request = lock(request_id)
    if request.status != RequestStatus.PENDING:
        raise InvalidState(f"The request is {request.get_status_display().lower()}; it cannot be decided again.")
    return request


def _void(*, request: DeploymentRequest, actor, why: str, rebind_audit: Audit | None, now: datetime,
          tampered: bool = False) -> None:
    """Void the live approvals and return the request to review, bound to the evidence as it is now. An
    approved request's deployments are suspended at once (until it is approved again)."""
    was_approved = request.status == RequestStatus.APPROVED
    voided = list(request.approvals.filter(voided=False).values_list("pk", flat=True))
    request.approvals.filter(pk__in=voided).update(voided=True, voided_reason=why[:300], voided_at=now)
    old = {"artifact_digest": request.artifact_digest, "audit": request.audit_id,
           "audit_result_hash": request.audit_result_hash, "status": request.status}
    if rebind_audit is not None:
        request.audit = rebind_audit
    request.artifact_digest = request.model_version.artifact_digest
    request.audit_result_hash = request.audit.result_hash
    request.status, request.decided_at = RequestStatus.PENDING, None
    request.voided_count += 1
    request.save(update_fields=["audit", "artifact_digest", "audit_result_hash", "status", "decided_at",
                                "voided_count"])
    if tampered:
        audit_log_append(actor=actor, action="audit.tampering_detected", obj=request.audit,
                         payload={"when": "deployment request judged", "request": request.pk, "why": why})
    policy = policy_for(request.environment)
    store_gates(request, evaluate(request, policy=policy, now=now), now, actor=actor)
    audit_log_append(actor=actor, action="deployment_request.voided", obj=request,
                     payload={"why": why, "voided_approvals": voided, "before": old, "tampering": tampered,
                              "after": {"artifact_digest": request.artifact_digest, "audit": request.audit_id,
                                        "audit_result_hash": request.audit_result_hash}})
    reviewers = User.objects.filter(pk__in=request.approvals.filter(pk__in=voided).values("reviewer"))
    notify(event=WebhookEvent.VOIDED, request=request, actor=actor,
           recipients=[request.requested_by.email, *(u.email for u in reviewers)],
           extra={"why": why, "voided_approvals": voided})
    if was_approved:
        suspended = deployments_suspend(actor=actor, request_id=request.pk,
                                        reason=f"request #{request.pk} lost its approval: {why}")
        if suspended:
            notify(event=WebhookEvent.SUSPENDED, request=request, actor=actor,
                   recipients=[request.requested_by.email, *(u.email for u in reviewers)],
                   extra={"why": why, "deployments": [d.pk for d in suspended]})


def _rejudge(*, request: DeploymentRequest, actor, policy: DeploymentPolicy, now: datetime) -> str:
    """Judge a pending or approved request again (locked); void it when its approvals no longer stand.
    Returns why it was voided, or ""."""
    why, rebind, tampered = evidence_problem(request, policy, now)
    if not why:
        results = evaluate(request, policy=policy, now=now)
        store_gates(request, results, now, actor=actor)
        why = approval_problem(request, policy, results)
    if why:
        _void(request=request, actor=actor, why=why, rebind_audit=rebind, now=now, tampered=tampered)
    return why


def deployment_request_recheck(*, actor, request_id: int) -> tuple[DeploymentRequest, str]:
    """Re-judge the evidence, the gates and (approved) the approvals that count of a pending or approved
    request. Returns (request, why voided or "")."""
    with transaction.atomic():
        audit_log_lock()
        request = lock(request_id)
        if request.status not in (RequestStatus.PENDING, RequestStatus.APPROVED):
            return request, ""
        return request, _rejudge(request=request, actor=actor, policy=policy_for(request.environment),
                                 now=timezone.now())


def deployment_request_recheck_asked(*, actor, request_id: int) -> tuple[DeploymentRequest, str]:
    """A user's "re-check now": of a request of a project where they are an ML engineer, a reviewer or a
    compliance officer (404 for a project they do not see). The rechecks the apps trigger themselves (an
    audit completed, a policy or metadata changed) call deployment_request_recheck."""
    request = DeploymentRequest.objects.filter(pk=request_id).first()
    if request is None:
        raise NotFound(f"There is no deployment request #{request_id}.")
    object_require_role(actor, request, ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, what="deployment request")
    return deployment_request_recheck(actor=actor, request_id=request_id)


def deployment_requests_recheck(*, actor, request_ids) -> list[int]:
    """Re-judge these requests (those still open); returns the ids of those voided."""
    return [pk for pk in request_ids if deployment_request_recheck(actor=actor, request_id=pk)[1]]


def deployment_requests_recheck_for_version(*, actor, model_version_id: int) -> list[int]:
    """After a new audit of a version completes: void the requests it undermines. Returns their ids."""
    ids = list(DeploymentRequest.objects.filter(model_version_id=model_version_id,
                                                status__in=(RequestStatus.PENDING, RequestStatus.APPROVED))
               .values_list("pk", flat=True))
    return deployment_requests_recheck(actor=actor, request_ids=ids)


def _decision_precheck(*, actor, request: DeploymentRequest, decision: str) -> None:
    object_require_visible(actor, request, what="deployment request")
    if actor.pk == request.requested_by_id:
        raise NotAllowed("You cannot approve your own deployment request." if decision == "approve" else
                         "You cannot decide on your own deployment request.")
    if not object_has_role(actor, request, REVIEWER):
        raise NotAllowed(f"Only a reviewer of the model's project can {decision} a deployment request.")


def deployment_request_approve(*, actor, request_id: int, reason: str = "", password: str = "",
                               otp_token: str = "") -> DeploymentRequest:
    """A reviewer's approval, signed with a step-up (the password, or a TOTP code where the reviewer has a
    device), on the evidence judged now: the artifact digest, the audit result hash recomputed from the stored
    rows (a mismatch voids and is logged as tampering), every later audit of the version, the gates."""
    request = DeploymentRequest.objects.filter(pk=request_id).first()
    if request is None:
        raise NotFound(f"There is no deployment request #{request_id}.")
    _decision_precheck(actor=actor, request=request, decision="approve")
    step_up_or_refuse(actor=actor, request=request, decision="approve", password=password, otp_token=otp_token)
    with transaction.atomic():
        audit_log_lock()
        request = _lock_pending(request_id)
        _decision_precheck(actor=actor, request=request, decision="approve")
        policy = policy_for(request.environment)
        pool = list(policy.approvers.all()) if policy.pk else []
        if pool and actor.pk not in {u.pk for u in pool}:
            raise NotAllowed(f"You are not one of the {len(pool)} reviewers designated to approve "
                             f"{request.environment} deployments.")
        if request.approvals.filter(reviewer=actor, voided=False).exists():
            raise InvalidState("You have already decided on this request.")
        now = timezone.now()
        why, rebind, tampered = evidence_problem(request, policy, now)
        if not why:
            results = evaluate(request, policy=policy, now=now)
            store_gates(request, results, now, actor=actor)
            blocking = [r for r in results if r["blocking"]]
            if not blocking:
                return _approve(actor=actor, request=request, reason=reason, policy=policy)
        else:
            # The void is committed before the error is raised, so it is not rolled back with it.
            _void(request=request, actor=actor, why=why, rebind_audit=rebind, now=now, tampered=tampered)
    if tampered:
        raise NotAllowed(f"Approval refused: {why}. The approvals are void and the tampering is logged.")
    if why:
        raise InvalidState(f"The evidence changed ({why}); earlier approvals are void and the request is back in "
                           f"review, bound to the current evidence.")
    raise refusal_log(actor=actor, action="deployment_request.approval_refused", obj=request,
                      payload={"blocking": {r["gate"]: r["detail"] for r in blocking}},
                      error=InvalidState("Gates fail without a waiver: " + "; ".join(
                          f"{r['label']}: {r['detail']}" for r in blocking)))


def _approve(*, actor, request: DeploymentRequest, reason: str, policy: DeploymentPolicy) -> DeploymentRequest:
    approval = Approval.objects.create(request=request, reviewer=actor, decision=Decision.APPROVE,
                                       reason=(reason or "").strip(), artifact_digest=request.artifact_digest,
                                       audit_result_hash=request.audit_result_hash)
    # The policy may have changed since the request: the stricter of the two applies.
    needed = max(request.required_approvals, policy.required_approvals)
    if needed != request.required_approvals:
        request.required_approvals = needed
        request.save(update_fields=["required_approvals"])
    approvals = len(approvals_counted(request=request, policy=policy))
    audit_log_append(actor=actor, action="deployment_request.approved", obj=request,
                     payload={"approval": approval.pk, "artifact_digest": approval.artifact_digest,
                              "audit_result_hash": approval.audit_result_hash, "approvals": approvals,
                              "required_approvals": needed,
                              "waived_gates": [r["gate"] for r in request.gate_results if r.get("waiver")]})
    if approvals >= needed:
        request.status, request.decided_at = RequestStatus.APPROVED, timezone.now()
        request.save(update_fields=["status", "decided_at"])
        deployment_start(actor=actor, model_version=request.model_version, environment=request.environment,
                         request=request)
    notify(event=WebhookEvent.APPROVED, request=request, actor=actor, recipients=[request.requested_by.email],
           extra={"approvals": approvals, "required_approvals": needed, "reviewer": actor.username})
    return request


@transaction.atomic
def deployment_request_reject(*, actor, request_id: int, reason: str) -> DeploymentRequest:
    if not (reason or "").strip():
        raise ValidationFailed("A rejection needs a reason.", field="reason")
    audit_log_lock()
    request = _lock_pending(request_id)
    _decision_precheck(actor=actor, request=request, decision="reject")
    if request.approvals.filter(reviewer=actor, voided=False).exists():
        raise InvalidState("You have already decided on this request.")
    approval = Approval.objects.create(request=request, reviewer=actor, decision=Decision.REJECT,
                                       reason=reason.strip(), artifact_digest=request.artifact_digest,
                                       audit_result_hash=request.audit_result_hash)
    request.status, request.decided_at = RequestStatus.REJECTED, timezone.now()
    request.save(update_fields=["status", "decided_at"])
    audit_log_append(actor=actor, action="deployment_request.rejected", obj=request,
                     payload={"approval": approval.pk, "reason": text_digest(approval.reason)})
    notify(event=WebhookEvent.REJECTED, request=request, actor=actor, recipients=[request.requested_by.email],
           extra={"reason": approval.reason, "reviewer": actor.username})
    return request


@transaction.atomic
def deployment_request_comment(*, actor, request_id: int, body: str) -> RequestComment:
    if not (body or "").strip():
        raise ValidationFailed("A comment cannot be empty.", field="body")
    if len(body) > 10_000:
        raise ValidationFailed("A comment is at most 10,000 characters.", field="body")
    audit_log_lock()
    request = lock(request_id)
    object_require_visible(actor, request, what="deployment request")
    if not request_can_comment(user=actor, request=request):
        raise NotAllowed("Only the requester, reviewers and compliance officers can comment on a request.")
    comment = RequestComment.objects.create(request=request, author=actor, body=body.strip())
    audit_log_append(actor=actor, action="deployment_request.commented", obj=request,
                     payload={"comment": comment.pk, "body": text_digest(comment.body)})
    return comment


@transaction.atomic
def deployment_policy_update(*, actor, environment: str, required_approvals: int, approvers: list | None = None,
                             min_accuracy: float | None = None, fairness_rules: list | None = None,
                             max_audit_age_days: int | None = None, require_explanations: bool = True,
                             require_dpia_for_personal_data: bool = True,
                             require_lawful_basis: bool = True, require_totp: bool = False,
                             max_canary_exposure: float | None = 10.0,
                             forbid_pii_extraction: bool = True,
                             max_invariance_flip_rate: float | None = None,
                             max_directional_failure_rate: float | None = None,
                             max_attack_success_rate: float | None = None) -> DeploymentPolicy:
    audit_log_lock()
    if not user_has_role(actor, COMPLIANCE_OFFICER, ADMIN):
        raise NotAllowed("Only a compliance officer or an administrator can change a deployment policy.")
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if not isinstance(required_approvals, int) or not 1 <= required_approvals <= 10:
        raise ValidationFailed("Between 1 and 10 approvals.", field="required_approvals")
    if environment == Environment.PRODUCTION and required_approvals < 2:
        raise ValidationFailed("Production needs at least two approvals from two reviewers.",
                               field="required_approvals")
    approvers = list(approvers or [])
    not_reviewers = [u.username for u in approvers if not user_has_role(u, REVIEWER)]
    if not_reviewers:
        raise ValidationFailed(f"Not reviewers: {', '.join(not_reviewers)}.", field="approvers")
    if approvers and required_approvals > len(approvers):
        raise ValidationFailed(f"{required_approvals} approvals cannot come from {len(approvers)} designated "
                               f"reviewers (N of M needs N ≤ M).", field="required_approvals")
    if min_accuracy is not None and not 0 <= min_accuracy <= 1:
        raise ValidationFailed("Accuracy is between 0 and 1.", field="min_accuracy")
    if max_canary_exposure is not None and not 0 <= max_canary_exposure <= 64:
        raise ValidationFailed("Exposure is between 0 and 64 bits.", field="max_canary_exposure")
    if max_audit_age_days is not None and not 1 <= max_audit_age_days <= 3650:
        raise ValidationFailed("Between 1 and 3650 days.", field="max_audit_age_days")
    limits = {"max_invariance_flip_rate": max_invariance_flip_rate,
              "max_directional_failure_rate": max_directional_failure_rate,
              "max_attack_success_rate": max_attack_success_rate}
    for name, value in limits.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 <= value <= 1):
            raise ValidationFailed("A rate limit is between 0 and 1.", field=name)
    try:
        gates.fairness_rules_normalise(fairness_rules or [])
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="fairness_rules") from exc
    policy, _ = DeploymentPolicy.objects.select_for_update().get_or_create(environment=environment)
    fields = {"required_approvals": required_approvals, "min_accuracy": min_accuracy,
              "fairness_rules": fairness_rules or [], "max_audit_age_days": max_audit_age_days,
              "require_explanations": bool(require_explanations),
              "require_dpia_for_personal_data": bool(require_dpia_for_personal_data),
              "require_lawful_basis": bool(require_lawful_basis), "require_totp": bool(require_totp),
              "max_canary_exposure": max_canary_exposure, "forbid_pii_extraction": bool(forbid_pii_extraction),
              **{name: None if value is None else float(value) for name, value in limits.items()}}
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.save()
    policy.approvers.set(approvers)
    audit_log_append(actor=actor, action="deployment_policy.updated", obj=policy,
                     payload={**fields, "environment": environment,
                              "approvers": sorted(u.username for u in approvers)})
    _policy_rejudge(actor=actor, policy=policy)
    return policy


def _policy_rejudge(*, actor, policy: DeploymentPolicy) -> None:
    """A policy change re-judges the environment's open requests: an approved one whose gates now fail or
    whose counted approvals (designated reviewers only) fall short is voided and its deployments suspended;
    approvals from reviewers no longer designated stop counting (logged, request by request)."""
    now = timezone.now()
    outcome = {}
    for pk in DeploymentRequest.objects.filter(environment=policy.environment, status__in=(
            RequestStatus.PENDING, RequestStatus.APPROVED)).order_by("pk").values_list("pk", flat=True):
        request = lock(pk)
        counted = {a.pk for a in approvals_counted(request=request, policy=policy)}
        discounted = sorted(a.reviewer.username for a in request.approvals.filter(voided=False, decision=Decision.APPROVE)
                            .select_related("reviewer") if a.pk not in counted)
        why = _rejudge(request=request, actor=actor, policy=policy, now=now)
        outcome[str(pk)] = {"voided": why, "approvals_no_longer_counted": discounted}
    if outcome:
        audit_log_append(actor=actor, action="deployment_policy.requests_rejudged", obj=policy,
                         payload={"environment": policy.environment, "requests": outcome})
