"""Writes of the serving app: answering a batch (the decisions, logged before the answer), outcomes, the
per-environment serving policy, and the decision log's retention."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.accounts.predicates import object_has_role
from governance.auditlog.services import audit_log_append, audit_log_lock
from governance.errors import DomainError, NotAllowed, NotFound, ValidationFailed
from governance.permissions import user_has_role
from governance.registry.choices import Environment
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from governance.serving.decision_queue import decisions_enqueue
from governance.serving.models import Decision, DecisionOutcome, ServiceToken, ServingPolicy
from governance.serving.resolution import serving_target
from governance.serving.runtime import SERVED
from models_core.errors import InputError


class QueueUnavailable(DomainError):
    status_code = 503


_POLICY_CACHE: dict[str, tuple[float, bool]] = {}
_POLICY_TTL_S = 2.0


def store_text_allowed(environment: str) -> bool:
    """Whether the environment's serving policy lets the decision log keep input texts (read every 2 s)."""
    cached = _POLICY_CACHE.get(environment)
    if cached and time.monotonic() - cached[0] < _POLICY_TTL_S:
        return cached[1]
    allowed = bool(ServingPolicy.objects.filter(environment=environment).values_list("store_text", flat=True).first())
    _POLICY_CACHE[environment] = (time.monotonic(), allowed)
    return allowed


def token_scope_check(*, token: ServiceToken, model_id: int, environment: str) -> None:
    if token.revoked_at is not None:
        raise NotAllowed("This service token was revoked.")
    if token.model_id != model_id:
        raise NotAllowed("This service token is scoped to another model.")
    if token.environment != environment:
        raise NotAllowed(f"This service token is scoped to {token.environment}, not {environment}.")


def decisions_make(*, token: ServiceToken, model_id: int, environment: str, instances: list[dict]) -> dict:
    """Answer a batch with the version approved and deployed now, each decision queued for the log before
    the answer is returned. Refusals: 403 (token scope), 409 (nothing servable, with the reason), 400
    (input), 503 (the write-ahead queue is down: no decision is answered that is not logged)."""
    token_scope_check(token=token, model_id=model_id, environment=environment)
    target = serving_target(model_id=model_id, environment=environment)
    loaded = SERVED.get(target)
    texts = [i["text"] for i in instances]
    attributes = [i.get("attributes") or {} for i in instances]
    groups = {k: [a.get(k) for a in attributes] for k in {k for a in attributes for k in a}}
    try:
        decided = loaded.decide(texts, groups)
    except InputError as exc:
        raise ValidationFailed(str(exc), field="instances") from exc
    names = list(loaded.bundle.label_names)
    keep_text = store_text_allowed(environment)
    now = timezone.now().isoformat()
    rows, answers = [], []
    for instance, attrs, probs, chosen in zip(instances, attributes, decided.probabilities, decided.predictions):
        decision_id = str(uuid.uuid4())
        probabilities = {name: float(p) for name, p in zip(names, probs)}
        rows.append({"id": decision_id, "decided_at": now, "project_id": target.project_id, "model_id": model_id,
                     "model_version_id": target.model_version_id, "deployment_id": target.deployment_id,
                     "environment": environment, "token_id": token.pk,
                     "input_sha256": hashlib.sha256(instance["text"].encode("utf-8", "surrogatepass")).hexdigest(),
                     "text": instance["text"] if keep_text else None, "subject_id": instance.get("subject_id") or "",
                     "attributes": attrs, "predicted_label": names[chosen], "probabilities": probabilities})
        answers.append({"decision_id": decision_id, "label": names[chosen], "probabilities": probabilities})
    try:
        decisions_enqueue(rows)
    except redis.RedisError as exc:
        raise QueueUnavailable("The decision log cannot be written now; nothing was decided. Retry shortly.") from exc
    return {"model": model_id, "model_name": target.model_name, "environment": environment,
            "model_version": target.model_version_id, "version": target.version,
            "artifact_digest": target.artifact_digest, "deployment": target.deployment_id,
            "decided_at": now, "rule": decided.rule, "decisions": answers}


# ------------------------------------------------------------------------------------------------ outcomes
def _may_record_outcomes(actor, decision: Decision) -> bool:
    if isinstance(actor, ServiceToken):
        return (actor.revoked_at is None and actor.model_id == decision.model_id
                and actor.environment == decision.environment)
    from governance.registry.models import Model

    model = Model.objects.filter(pk=decision.model_id).first()
    return model is not None and object_has_role(actor, model, ML_ENGINEER, REVIEWER)


@transaction.atomic
def outcomes_record(*, actor, outcomes: list[dict[str, Any]]) -> list[DecisionOutcome]:
    """Attach the ground truth to logged decisions (by id): all or none. A decision not in the log (unknown,
    not yet flushed, out of the actor's reach) is a 400 naming it; its label must be one of the model's."""
    audit_log_lock()
    ids = [o["decision_id"] for o in outcomes]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("A decision appears twice.", field="outcomes")
    decisions = {d.pk: d for d in Decision.objects.filter(pk__in=ids)}
    stored = []
    for index, outcome in enumerate(outcomes):
        decision = decisions.get(outcome["decision_id"])
        if decision is None or not _may_record_outcomes(actor, decision):
            raise ValidationFailed(f"outcomes[{index}]: no logged decision {outcome['decision_id']} (it may not be "
                                   f"flushed yet: retry in a few seconds).", field="outcomes")
        if outcome["label"] not in decision.probabilities:
            raise ValidationFailed(f"outcomes[{index}]: '{outcome['label']}' is not one of the model's labels "
                                   f"{sorted(decision.probabilities)}.", field="outcomes")
        row, _ = DecisionOutcome.objects.update_or_create(
            decision_id=decision.pk, defaults={"decided_at": decision.decided_at, "deployment_id": decision.deployment_id,
                                               "label": outcome["label"], "recorded_by": _actor_name(actor)})
        stored.append(row)
    audit_log_append(actor=actor if not isinstance(actor, ServiceToken) else None, action="decisions.outcomes_recorded",
                     object_type="serving.decision",
                     payload={"count": len(stored), "by": _actor_name(actor),
                              "decisions_sha256": hashlib.sha256("\n".join(sorted(map(str, ids))).encode()).hexdigest()})
    return stored


def _actor_name(actor) -> str:
    if isinstance(actor, ServiceToken):
        return f"service token {actor.prefix}…"
    return getattr(actor, "username", "") or "system"


# -------------------------------------------------------------------------------------------------- policy
POLICY_FIELDS = ("store_text", "retention_days", "min_decisions", "max_psi", "max_prediction_shift",
                 "fairness_rules", "n_boot", "auto_suspend", "alert_emails")
MIN_RETENTION_DAYS = 183  # AI Act Art. 19(1), 26(6): automatically generated logs kept at least six months


def serving_policy_get(environment: str) -> ServingPolicy:
    if environment not in Environment.values:
        raise NotFound(f"'{environment}' is not an environment.")
    return ServingPolicy.objects.filter(environment=environment).first() or ServingPolicy(environment=environment)


@transaction.atomic
def serving_policy_update(*, actor, environment: str, **values) -> ServingPolicy:
    audit_log_lock()
    if not user_has_role(actor, COMPLIANCE_OFFICER):
        raise NotAllowed("Only a compliance officer edits the serving policies.")
    from models_core.errors import CoreError
    from models_core.fairness.rules import evaluate_thresholds

    policy = serving_policy_get(environment)
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.", field="non_field_errors")
    if values.get("retention_days") is not None and values["retention_days"] < MIN_RETENTION_DAYS:
        raise ValidationFailed(f"Decisions are automatically generated logs: keep them at least {MIN_RETENTION_DAYS} "
                               f"days (AI Act Art. 19(1), 26(6)).", field="retention_days")
    if "fairness_rules" in values:
        try:
            evaluate_thresholds({"groupings": {}}, values["fairness_rules"] or [])
        except (CoreError, KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"Invalid fairness rules: {exc}", field="fairness_rules") from exc
    before = {f: getattr(policy, f) for f in POLICY_FIELDS}
    for field, value in values.items():
        setattr(policy, field, value)
    policy.updated_by = actor
    policy.save()
    _POLICY_CACHE.pop(environment, None)
    audit_log_append(actor=actor, action="serving_policy.updated", obj=policy,
                     payload={"environment": environment, "before": before,
                              "after": {f: getattr(policy, f) for f in POLICY_FIELDS}})
    return policy


# ----------------------------------------------------------------------------------------------- retention
@transaction.atomic
def decisions_retention_purge(*, now=None) -> dict:
    """Delete the decisions (and their outcomes) older than their environment's retention; drop whole
    monthly partitions past the longest retention. Logged with the counts."""
    now = now or timezone.now()
    audit_log_lock()
    deleted: dict[str, int] = {}
    longest = 0
    for environment in Environment.values:
        days = serving_policy_get(environment).retention_days
        longest = max(longest, days)
        cutoff = now - timedelta(days=days)
        old = Decision.objects.filter(environment=environment, decided_at__lt=cutoff)
        DecisionOutcome.objects.filter(decision_id__in=old.values("id")).delete()
        deleted[environment], _ = old.delete()
    dropped: list[str] = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT serving_decision_partitions_drop_before(%s)",
                           [(now - timedelta(days=longest)).date()])
            dropped = [r[0] for r in cursor.fetchall()]
    audit_log_append(actor=None, action="decisions.retention_purged", object_type="serving.decision",
                     payload={"deleted": deleted, "partitions_dropped": dropped, "at": now.isoformat()})
    return {"deleted": deleted, "partitions_dropped": dropped}
