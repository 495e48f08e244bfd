"""Maker/checker: deployment requests, the policy gates they must pass, waivers, comments, and decisions
bound to the evidence digests (the model version's artifact digest, the audit's result hash).

Every service takes the audit log's lock first (auditlog.services.audit_log_lock), then its own rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlparse

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from governance.roles import ADMIN, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.permissions import user_has_role
from governance.approvals import gates
from governance.approvals.models import (Approval, Decision, DeploymentPolicy, DeploymentRequest, GateWaiver,
                                         RequestComment, RequestStatus, Webhook, WebhookEvent)
from governance.approvals.notifications import notify, reviewer_emails
from governance.approvals.selectors import approvals_live, policy_for, request_can_comment
from governance.audits.models import Audit, AuditStatus
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import InvalidState, NotAllowed, NotFound, ValidationFailed
from governance.registry.choices import Environment, VersionStatus
from governance.registry.models import ModelVersion
from governance.registry.services import deployment_start
from governance.keys import text_digest

MAX_WAIVER_DAYS = 365


def _results_of(audit: Audit) -> dict:
    return {r.kind: r.data for r in audit.results.all()}


def _evaluate(request: DeploymentRequest, *, policy: DeploymentPolicy, now: datetime) -> list[dict]:
    judged = gates.evaluate(policy=policy, model_version=request.model_version, audit=request.audit,
                            results=_results_of(request.audit), now=now)
    return gates.apply_waivers(judged, request.waivers.select_related("granted_by"), now)


def _store_gates(request: DeploymentRequest, results: list[dict], now: datetime) -> None:
    request.gate_results, request.gates_evaluated_at = results, now
    request.save(update_fields=["gate_results", "gates_evaluated_at"])


@transaction.atomic
def deployment_request_create(*, actor, model_version: ModelVersion, environment: str, audit: Audit,
                              justification: str) -> DeploymentRequest:
    audit_log_lock()
    if not user_has_role(actor, ML_ENGINEER):
        raise NotAllowed("Only an ML engineer can request a deployment.")
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
    policy = policy_for(environment)
    request = DeploymentRequest.objects.create(
        model_version=model_version, environment=environment, audit=audit, justification=justification.strip(),
        requested_by=actor, artifact_digest=model_version.artifact_digest, audit_result_hash=audit.result_hash,
        required_approvals=policy.required_approvals)
    now = timezone.now()
    results = _evaluate(request, policy=policy, now=now)
    _store_gates(request, results, now)
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


def _lock(request_id: int) -> DeploymentRequest:
    try:
        return (DeploymentRequest.objects.select_for_update(of=("self",))
                .select_related("model_version__model", "model_version__dataset_version__dataset", "audit",
                                "requested_by").get(pk=request_id))
    except DeploymentRequest.DoesNotExist as exc:
        raise NotFound(f"There is no deployment request #{request_id}.") from exc


def _lock_pending(request_id: int) -> DeploymentRequest:
    request = _lock(request_id)
    if request.status != RequestStatus.PENDING:
        raise InvalidState(f"The request is {request.get_status_display().lower()}; it cannot be decided again.")
    return request


def _newer_failing_audit(request: DeploymentRequest, policy: DeploymentPolicy, now: datetime):
    """The newest completed audit of the version after the request's one, if it fails an unwaived audit gate."""
    newer = (Audit.objects.filter(model_version=request.model_version_id, status=AuditStatus.COMPLETE,
                                  finished_at__gt=request.audit.finished_at)
             .exclude(pk=request.audit_id).order_by("-finished_at").first())
    if newer is None:
        return None, []
    judged = gates.evaluate(policy=policy, model_version=request.model_version, audit=newer,
                            results=_results_of(newer), now=now, only=gates.AUDIT_GATES)
    failing = [r for r in gates.apply_waivers(judged, request.waivers.select_related("granted_by"), now)
               if r["blocking"]]
    return (newer, failing) if failing else (None, [])


def _evidence_problem(request: DeploymentRequest, policy: DeploymentPolicy, now: datetime) -> tuple[str, Audit | None]:
    """Why the approvals on this request no longer stand ("" when they do), and the audit to rebind to."""
    request.model_version.refresh_from_db(fields=["artifact_digest"])
    request.audit.refresh_from_db(fields=["result_hash"])
    if request.model_version.artifact_digest != request.artifact_digest:
        return (f"the model version's artifact digest changed from {request.artifact_digest[:12]}… to "
                f"{request.model_version.artifact_digest[:12]}…"), None
    if request.audit.result_hash != request.audit_result_hash:
        return (f"audit #{request.audit_id}'s result hash changed from {request.audit_result_hash[:12]}… to "
                f"{request.audit.result_hash[:12]}…"), None
    newer, failing = _newer_failing_audit(request, policy, now)
    if newer is not None:
        return (f"a newer audit #{newer.pk} of this version fails "
                f"{', '.join(r['label'].lower() for r in failing)}"), newer
    return "", None


def _void(*, request: DeploymentRequest, actor, why: str, rebind_audit: Audit | None, now: datetime) -> None:
    """Void the live approvals and return the request to review, bound to the evidence as it is now."""
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
    policy = policy_for(request.environment)
    _store_gates(request, _evaluate(request, policy=policy, now=now), now)
    audit_log_append(actor=actor, action="deployment_request.voided", obj=request,
                     payload={"why": why, "voided_approvals": voided, "before": old,
                              "after": {"artifact_digest": request.artifact_digest, "audit": request.audit_id,
                                        "audit_result_hash": request.audit_result_hash}})
    reviewers = User.objects.filter(pk__in=request.approvals.filter(pk__in=voided).values("reviewer"))
    notify(event=WebhookEvent.VOIDED, request=request, actor=actor,
           recipients=[request.requested_by.email, *(u.email for u in reviewers)],
           extra={"why": why, "voided_approvals": voided})


def deployment_request_recheck(*, actor, request_id: int) -> tuple[DeploymentRequest, str]:
    """Re-judge the evidence and the gates of a pending or approved request. Returns (request, why voided
    or "")."""
    with transaction.atomic():
        audit_log_lock()
        request = _lock(request_id)
        if request.status not in (RequestStatus.PENDING, RequestStatus.APPROVED):
            return request, ""
        now = timezone.now()
        policy = policy_for(request.environment)
        why, rebind = _evidence_problem(request, policy, now)
        if why:
            _void(request=request, actor=actor, why=why, rebind_audit=rebind, now=now)
        else:
            _store_gates(request, _evaluate(request, policy=policy, now=now), now)
        return request, why


def deployment_requests_recheck_for_version(*, actor, model_version_id: int) -> list[int]:
    """After a new audit of a version completes: void the requests it undermines. Returns their ids."""
    ids = list(DeploymentRequest.objects.filter(model_version_id=model_version_id,
                                                status__in=(RequestStatus.PENDING, RequestStatus.APPROVED))
               .values_list("pk", flat=True))
    return [pk for pk in ids if deployment_request_recheck(actor=actor, request_id=pk)[1]]


def deployment_request_approve(*, actor, request_id: int, reason: str = "") -> DeploymentRequest:
    with transaction.atomic():
        audit_log_lock()
        request = _lock_pending(request_id)
        if actor.pk == request.requested_by_id:
            raise NotAllowed("You cannot approve your own deployment request.")
        if not user_has_role(actor, REVIEWER):
            raise NotAllowed("Only a reviewer can approve a deployment request.")
        policy = policy_for(request.environment)
        pool = list(policy.approvers.all()) if policy.pk else []
        if pool and actor.pk not in {u.pk for u in pool}:
            raise NotAllowed(f"You are not one of the {len(pool)} reviewers designated to approve "
                             f"{request.environment} deployments.")
        if request.approvals.filter(reviewer=actor, voided=False).exists():
            raise InvalidState("You have already decided on this request.")
        now = timezone.now()
        why, rebind = _evidence_problem(request, policy, now)
        if not why:
            results = _evaluate(request, policy=policy, now=now)
            _store_gates(request, results, now)
            blocking = [r for r in results if r["blocking"]]
            if blocking:
                raise InvalidState("Gates fail without a waiver: " + "; ".join(
                    f"{r['label']}: {r['detail']}" for r in blocking))
            return _approve(actor=actor, request=request, reason=reason, policy=policy)
        # The void is committed before the error is raised, so it is not rolled back with it.
        _void(request=request, actor=actor, why=why, rebind_audit=rebind, now=now)
    raise InvalidState(f"The evidence changed ({why}); earlier approvals are void and the request is back in "
                       f"review, bound to the current evidence.")


def _approve(*, actor, request: DeploymentRequest, reason: str, policy: DeploymentPolicy) -> DeploymentRequest:
    approval = Approval.objects.create(request=request, reviewer=actor, decision=Decision.APPROVE,
                                       reason=(reason or "").strip(), artifact_digest=request.artifact_digest,
                                       audit_result_hash=request.audit_result_hash)
    # The policy may have changed since the request: the stricter of the two applies.
    needed = max(request.required_approvals, policy.required_approvals)
    if needed != request.required_approvals:
        request.required_approvals = needed
        request.save(update_fields=["required_approvals"])
    approvals = len(approvals_live(request=request))
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
    if actor.pk == request.requested_by_id:
        raise NotAllowed("You cannot decide on your own deployment request.")
    if not user_has_role(actor, REVIEWER):
        raise NotAllowed("Only a reviewer can reject a deployment request.")
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
    request = _lock(request_id)
    if not request_can_comment(user=actor, request=request):
        raise NotAllowed("Only the requester, reviewers and compliance officers can comment on a request.")
    comment = RequestComment.objects.create(request=request, author=actor, body=body.strip())
    audit_log_append(actor=actor, action="deployment_request.commented", obj=request,
                     payload={"comment": comment.pk, "body": text_digest(comment.body)})
    return comment


@transaction.atomic
def gate_waiver_create(*, actor, request_id: int, gate: str, reason: str, expires_at: datetime) -> GateWaiver:
    audit_log_lock()
    if not user_has_role(actor, COMPLIANCE_OFFICER):
        raise NotAllowed("Only a compliance officer can waive a gate.")
    if gate not in gates.GATES:
        raise ValidationFailed(f"'{gate}' is not a gate.", field="gate")
    if not (reason or "").strip():
        raise ValidationFailed("A waiver needs a reason.", field="reason")
    now = timezone.now()
    if expires_at is None or expires_at <= now:
        raise ValidationFailed("The expiry must be in the future.", field="expires_at")
    if expires_at > now + timedelta(days=MAX_WAIVER_DAYS):
        raise ValidationFailed(f"A waiver lasts at most {MAX_WAIVER_DAYS} days.", field="expires_at")
    request = _lock(request_id)
    if request.status in (RequestStatus.REJECTED, RequestStatus.VOID):
        raise InvalidState("The request is closed; there is nothing to waive.")
    waiver = GateWaiver.objects.create(request=request, gate=gate, reason=reason.strip(), expires_at=expires_at,
                                       granted_by=actor)
    _store_gates(request, _evaluate(request, policy=policy_for(request.environment), now=now), now)
    audit_log_append(actor=actor, action="gate_waiver.created", obj=waiver,
                     payload={"request": request.pk, "gate": gate, "reason": text_digest(waiver.reason),
                              "expires_at": expires_at.isoformat()})
    return waiver


@transaction.atomic
def deployment_policy_update(*, actor, environment: str, required_approvals: int, approvers: list | None = None,
                             min_accuracy: float | None = None, fairness_rules: list | None = None,
                             max_audit_age_days: int | None = None, require_explanations: bool = True,
                             require_dpia_for_personal_data: bool = True,
                             require_lawful_basis: bool = True) -> DeploymentPolicy:
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
    if max_audit_age_days is not None and not 1 <= max_audit_age_days <= 3650:
        raise ValidationFailed("Between 1 and 3650 days.", field="max_audit_age_days")
    try:
        gates.fairness_rules_normalise(fairness_rules or [])
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="fairness_rules") from exc
    policy, _ = DeploymentPolicy.objects.select_for_update().get_or_create(environment=environment)
    fields = {"required_approvals": required_approvals, "min_accuracy": min_accuracy,
              "fairness_rules": fairness_rules or [], "max_audit_age_days": max_audit_age_days,
              "require_explanations": bool(require_explanations),
              "require_dpia_for_personal_data": bool(require_dpia_for_personal_data),
              "require_lawful_basis": bool(require_lawful_basis)}
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_by = actor
    policy.save()
    policy.approvers.set(approvers)
    audit_log_append(actor=actor, action="deployment_policy.updated", obj=policy,
                     payload={**fields, "environment": environment,
                              "approvers": sorted(u.username for u in approvers)})
    return policy


@transaction.atomic
def webhook_create(*, actor, url: str, events: list[str], secret: str = "") -> Webhook:
    audit_log_lock()
    if not user_has_role(actor, ADMIN):
        raise NotAllowed("Only an administrator can register a webhook.")
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationFailed("The URL must be http(s)://host/…", field="url")
    unknown = set(events or []) - set(WebhookEvent.values)
    if not events or unknown:
        raise ValidationFailed(f"Events must be among {', '.join(WebhookEvent.values)}.", field="events")
    if secret and len(secret) < 16:
        raise ValidationFailed("A secret of at least 16 characters (or none: one is generated).", field="secret")
    hook = Webhook.objects.create(url=url, events=sorted(set(events)), secret=secret or secrets.token_hex(32),
                                  created_by=actor)
    audit_log_append(actor=actor, action="webhook.created", obj=hook, payload={"url": url, "events": hook.events})
    return hook
