"""Writes of the deployments: start (on an approved request), suspend (its approval lost), roll back (to a
version whose request still stands), retire. Each takes the audit log's lock before the deployment rows."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.keys import text_digest
from governance.accounts.predicates import object_has_role, object_require_role
from governance.registry.choices import Environment, VersionStatus
from governance.registry.models import Deployment, DeploymentKind, Model, ModelVersion
from governance.registry.signals import deployment_authorise
from governance.roles import ML_ENGINEER, REVIEWER

APPROVED = "approved"  # a DeploymentRequest's status that authorises serving (approvals sits above: no import)


@transaction.atomic
def deployment_start(*, actor, model_version: ModelVersion, environment: str, request=None) -> Deployment:
    """Serve `model_version` in `environment`, ending what served there (a suspended deployment of the same
    version ends as resumed). Only on a deployment request that is approved: approvals calls it once the
    request's gates, evidence and approvals have just been judged."""
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if model_version.status != VersionStatus.READY:
        raise InvalidState("Only a ready model version can be deployed.")
    if request is None or request.status != APPROVED:
        raise InvalidState("A version is deployed only on an approved deployment request.")
    audit_log_lock()  # the log's lock before the deployment rows, as every writer takes them
    now = timezone.now()
    current = list(Deployment.objects.select_for_update().filter(
        model_version__model=model_version.model, environment=environment, ended_at__isnull=True))
    for old in current:
        resumed = old.suspended_at is not None and old.model_version_id == model_version.pk
        old.ended_at = now
        old.ended_reason = (f"resumed: request #{request.pk} approved again" if resumed
                            else f"replaced by v{model_version.version}")
        old.save(update_fields=["ended_at", "ended_reason"])
    deployment = Deployment.objects.create(model_version=model_version, environment=environment, request=request,
                                           started_at=now, started_by=getattr(actor, "username", "") or "")
    audit_log_append(actor=actor, action="deployment.started", obj=deployment,
                     payload={"model_version": model_version.pk, "environment": environment,
                              "artifact_digest": model_version.artifact_digest, "request": request.pk,
                              "replaced": [d.model_version_id for d in current]})
    return deployment


@transaction.atomic
def deployments_suspend(*, actor, request_id: int, reason: str) -> list[Deployment]:
    """Suspend at once every deployment still serving on deployment request `request_id` (its approval was
    just lost): they stop serving until the request is approved again. Called by approvals in the
    transaction that voids the request. Returns the suspended deployments."""
    audit_log_lock()
    now = timezone.now()
    suspended = list(Deployment.objects.select_for_update().select_related("model_version")
                     .filter(request_id=request_id, ended_at__isnull=True, suspended_at__isnull=True))
    for deployment in suspended:
        deployment.suspended_at, deployment.suspended_reason = now, reason[:300]
        deployment.save(update_fields=["suspended_at", "suspended_reason"])
        audit_log_append(actor=actor, action="deployment.suspended", obj=deployment,
                         payload={"model_version": deployment.model_version_id, "environment": deployment.environment,
                                  "request": request_id, "reason": reason})
    return suspended


def _current(*, model: Model, environment: str) -> Deployment:
    """The deployment not yet ended (serving or suspended) of the model in the environment, locked."""
    current = (Deployment.objects.select_for_update().select_related("model_version")
               .filter(model_version__model=model, environment=environment, ended_at__isnull=True).first())
    if current is None:
        raise InvalidState(f"{model.name} is not serving in {environment}.")
    return current


def _rollback_target(*, model: Model, environment: str, current: Deployment) -> Deployment:
    previous = (Deployment.objects.select_related("model_version", "request")
                .filter(model_version__model=model, environment=environment, started_at__lt=current.started_at)
                .exclude(model_version=current.model_version).order_by("-started_at").first())
    if previous is None:
        raise InvalidState(f"No earlier version of {model.name} served in {environment}; retire it instead.")
    if previous.model_version.status != VersionStatus.READY:
        raise InvalidState(f"{previous.model_version} is no longer ready to serve.")
    if previous.request_id is None:
        raise InvalidState(f"{previous.model_version} served without a deployment request; it cannot be served "
                           "again without an approved one.")
    return previous


def _authorisation_refusal(*, request_id: int, actor) -> str:
    """Why request `request_id` does not authorise serving its version now ("" when it does), as the apps
    above answer registry.signals.deployment_authorise; none answering is a refusal."""
    answers = [answer for _, answer in deployment_authorise.send(sender=Deployment, request_id=request_id,
                                                                 actor=actor)]
    if not answers:
        return "no approvals app answers for it"
    return "; ".join(a for a in answers if a)


def deployment_rollback(*, actor, model: Model, environment: str, reason: str) -> Deployment:
    """End the serving version and serve again the version that served before it, only when the deployment
    request it was approved on is still approved on evidence that still holds (re-judged now: a request that
    no longer stands is voided, committed, and the rollback refused)."""
    object_require_role(actor, model, ML_ENGINEER, REVIEWER, what="model")
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if not (reason or "").strip():
        raise ValidationFailed("A rollback needs a reason.", field="reason")
    with transaction.atomic():
        target = _rollback_target(model=model, environment=environment,
                                  current=_current(model=model, environment=environment))
    refusal = _authorisation_refusal(request_id=target.request_id, actor=actor)  # its own transactions
    if refusal:
        _log_refusal(actor=actor, action="deployment.rollback_refused", obj=target,
                     payload={"environment": environment, "to_version": target.model_version_id,
                              "request": target.request_id, "why": refusal})
        raise NotAllowed(f"Cannot roll back to {target.model_version}: its deployment request #{target.request_id} "
                         f"is not approved on evidence that still holds ({refusal}).")
    with transaction.atomic():
        audit_log_lock()
        current = _current(model=model, environment=environment)
        previous = _rollback_target(model=model, environment=environment, current=current)
        if previous.pk != target.pk or previous.request.status != APPROVED:
            raise InvalidState("The deployments changed meanwhile; try again.")
        now = timezone.now()
        current.ended_at = now
        current.ended_reason = f"rolled back to v{previous.model_version.version}: {reason.strip()}"[:200]
        current.save(update_fields=["ended_at", "ended_reason"])
        deployment = Deployment.objects.create(model_version=previous.model_version, environment=environment,
                                               request=previous.request, started_at=now,
                                               kind=DeploymentKind.ROLLBACK, started_by=actor.username)
        audit_log_append(actor=actor, action="deployment.rolled_back", obj=deployment,
                         payload={"environment": environment, "from_version": current.model_version_id,
                                  "to_version": previous.model_version_id, "reason": text_digest(reason.strip()),
                                  "request": previous.request_id,
                                  "artifact_digest": previous.model_version.artifact_digest})
        return deployment


@transaction.atomic
def _log_refusal(*, actor, action: str, obj, payload: dict) -> None:
    audit_log_lock()
    audit_log_append(actor=actor, action=action, obj=obj, payload=payload)


@transaction.atomic
def deployment_retire(*, actor, model: Model, environment: str, reason: str) -> Deployment:
    """Stop serving the model in the environment (serving or suspended), with no successor. Production
    needs a reviewer: an ML engineer may retire from staging only."""
    audit_log_lock()
    object_require_role(actor, model, ML_ENGINEER, REVIEWER, what="model")
    if environment not in Environment.values:
        raise ValidationFailed(f"'{environment}' is not an environment.", field="environment")
    if environment == Environment.PRODUCTION and not object_has_role(actor, model, REVIEWER):
        raise NotAllowed("Retiring from production needs a reviewer.")
    if not (reason or "").strip():
        raise ValidationFailed("A retirement needs a reason.", field="reason")
    current = _current(model=model, environment=environment)
    current.ended_at, current.ended_reason = timezone.now(), f"retired: {reason.strip()}"[:200]
    current.save(update_fields=["ended_at", "ended_reason"])
    audit_log_append(actor=actor, action="deployment.retired", obj=current,
                     payload={"environment": environment, "model_version": current.model_version_id,
                              "was": "suspended" if current.suspended_at else "serving",
                              "reason": text_digest(reason.strip())})
    return current
