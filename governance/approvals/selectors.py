from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from governance.accounts.predicates import object_has_role, project_scoped, projects_with_role
from governance.accounts.step_up import step_up_method
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from governance.approvals import gates
from governance.approvals.models import (Approval, Decision, DeploymentPolicy, DeploymentRequest, GateWaiver,
                                         RequestComment, RequestStatus, Webhook)
from governance.audits.models import Audit
from governance.list_filters import ListFilters, narrowed, ordered, searched
from governance.registry.choices import Environment

# Without a stored policy an environment gets these (the model's field defaults otherwise).
DEFAULT_REQUIRED_APPROVALS = {Environment.STAGING: 1, Environment.PRODUCTION: 2}
REQUEST_FILTERS = {"project": "model_version__model__project_id", "status": "status", "environment": "environment", "model": "model_version__model_id",
                   "model_version": "model_version_id", "audit": "audit_id", "requested_by": "requested_by__username",
                   "created_after": "created_at__gte", "created_before": "created_at__lt"}
REQUEST_SEARCH = ("model_version__model__name__icontains", "requested_by__username__icontains",
                  "environment__iexact")
REQUEST_ORDERING = {"id": "pk", "created_at": "created_at", "decided_at": "decided_at", "status": "status",
                    "environment": "environment"}
WEBHOOK_FILTERS = {"active": "active", "created_after": "created_at__gte", "created_before": "created_at__lt"}
WEBHOOK_ORDERING = {"id": "pk", "url": "url", "created_at": "created_at"}
POLICY_ORDERING = ("environment", "required_approvals")
COMMENT_FILTERS = {"author": "author__username", "created_after": "created_at__gte", "created_before": "created_at__lt"}
COMMENT_ORDERING = {"id": "pk", "created_at": "created_at"}


def policy_for(environment: str) -> DeploymentPolicy:
    """The stored policy of an environment, or an unsaved default (every gate on, production 2 approvals)."""
    policy = DeploymentPolicy.objects.filter(environment=environment).prefetch_related("approvers").first()
    return policy or DeploymentPolicy(environment=environment,
                                      required_approvals=DEFAULT_REQUIRED_APPROVALS.get(environment, 1))


def policy_list(*, filters: Mapping[str, Any] | None = None) -> list[DeploymentPolicy]:
    """Each environment's policy, stored or default. `filters`: environment, stored (true: saved by an
    officer, false: the default), ordering ("environment" or "required_approvals", "-" for descending; ties
    by environment in the same direction)."""
    filters = filters or {}
    policies = [policy_for(env) for env in Environment.values
                if filters.get("environment") in (None, env)]
    if filters.get("stored") is not None:
        policies = [p for p in policies if (p.pk is not None) == filters["stored"]]
    key = filters.get("ordering") or "environment"
    field = key.removeprefix("-")
    promotion = {env: i for i, env in enumerate(Environment.values)}  # staging before production, not A-Z
    return sorted(policies, key=lambda p: (promotion[p.environment] if field == "environment" else getattr(p, field),
                                           promotion[p.environment]), reverse=key.startswith("-"))


def request_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[DeploymentRequest]:
    """The deployment requests of the projects `user` sees (None: all), newest first. `filters`: q (the
    request number, or the model's name or the requester contains, or the environment), project, status,
    environment, model, model_version, audit, requested_by (username), created_after/before, ordering (a key
    of REQUEST_ORDERING)."""
    filters = filters or {}
    qs = project_scoped(DeploymentRequest.objects.select_related("model_version__model", "audit", "requested_by"),
                        user=user, via="model_version__model__project")
    qs = narrowed(searched(qs, filters.get("q", ""), fields=REQUEST_SEARCH, by_number=True), filters,
                  REQUEST_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=REQUEST_ORDERING, default="-created_at")


def request_inbox(*, reviewer) -> QuerySet[DeploymentRequest]:
    """Pending requests this reviewer may decide: of a project where they are a reviewer, not their own, not
    already decided by them, and in an environment whose policy names them when it names approvers at all."""
    projects = projects_with_role(reviewer, REVIEWER)
    pools = DeploymentPolicy.objects.filter(approvers__isnull=False).values_list("environment", flat=True)
    named = DeploymentPolicy.objects.filter(approvers=reviewer).values_list("environment", flat=True)
    mine = request_list(user=None) if projects is None else request_list(user=None).filter(
        model_version__model__project__in=projects)
    return (mine.filter(status=RequestStatus.PENDING).exclude(requested_by=reviewer)
            .exclude(approvals__reviewer=reviewer, approvals__voided=False)
            .filter(Q(environment__in=named) | ~Q(environment__in=pools)).distinct())


def request_get(*, request_id: int, user) -> DeploymentRequest:
    """The request, if `user` sees its project (None: the system); DeploymentRequest.DoesNotExist otherwise."""
    return request_list(user=user).prefetch_related("approvals__reviewer", "comments__author",
                                           "waivers__granted_by").get(pk=request_id)


def request_comment_list(*, request_id: int, user,
                         filters: Mapping[str, Any] | None = None) -> QuerySet[RequestComment]:
    """A request's comments, oldest first (DeploymentRequest.DoesNotExist when `user` does not see it).
    `filters`: author (username), created_after/before, ordering ("created_at" or "id", "-" descending)."""
    filters = filters or {}
    request = request_list(user=user).get(pk=request_id)
    qs = narrowed(RequestComment.objects.filter(request=request).select_related("author"), filters,
                  COMMENT_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=COMMENT_ORDERING, default="created_at")


def waivers_for_model_version(*, model_version_id: int) -> QuerySet[GateWaiver]:
    """Every waiver recorded on requests for this version (for reports and exports)."""
    return (GateWaiver.objects.filter(request__model_version_id=model_version_id)
            .select_related("granted_by", "request").order_by("-created_at"))


def webhook_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Webhook]:
    """Webhooks by URL. `filters`: q (URL contains), active, event (subscribed to it), created_after/before,
    ordering (a key of WEBHOOK_ORDERING)."""
    filters = filters or {}
    qs = narrowed(searched(Webhook.objects.select_related("created_by"), filters.get("q", ""),
                           fields=("url__icontains",)), filters, WEBHOOK_FILTERS)
    if filters.get("event"):
        if connection.features.supports_json_field_contains:
            qs = qs.filter(events__contains=[filters["event"]])
        else:  # SQLite (the demo) has no JSON containment: match the few webhooks in Python
            qs = qs.filter(pk__in=[pk for pk, events in qs.values_list("pk", "events") if filters["event"] in (events or [])])
    return ordered(qs, filters.get("ordering", ""), fields=WEBHOOK_ORDERING, default="url")


def request_search(*, user, filters: ListFilters) -> QuerySet[DeploymentRequest]:
    """Requests matching a list page's filters: `q` is the request number, the model's name, the requester
    or the environment; status and model are exact."""
    return request_list(user=user, filters=filters.as_dict())


def request_pending_of(*, requester) -> QuerySet[DeploymentRequest]:
    """This user's own requests still awaiting a decision, newest first."""
    return request_list(user=requester).filter(requested_by=requester, status=RequestStatus.PENDING)


def approvals_live(*, request: DeploymentRequest) -> list[Approval]:
    """The approvals that count towards the request's required approvals: decided "approve" and not voided by
    a change of evidence. Reads the prefetched approvals when request_get prefetched them."""
    return [a for a in request.approvals.all() if not a.voided and a.decision == Decision.APPROVE]


def approvals_counted(*, request: DeploymentRequest, policy: DeploymentPolicy) -> list[Approval]:
    """The live approvals that count towards N of M now: from reviewers designated by the policy in force
    (none named: anyone who is still an active reviewer), never the requester. An approval from a reviewer a
    policy change removed stays on record but no longer counts."""
    pool = {u.pk for u in policy.approvers.all()} if policy.pk else set()
    counted = []
    for approval in approvals_live(request=request):
        reviewer = approval.reviewer
        if reviewer.pk == request.requested_by_id or not reviewer.is_active:
            continue
        if (pool and reviewer.pk in pool) or (not pool and object_has_role(reviewer, request, REVIEWER)):
            counted.append(approval)
    return counted


def request_can_comment(*, user: AbstractBaseUser, request: DeploymentRequest) -> bool:
    """Who may comment on a request: its requester, and the reviewers and compliance officers of its project
    (or of the organisation; admins hold all roles). The page shows the form by it and
    approvals.services.deployment_request_comment refuses by it."""
    return user.pk == request.requested_by_id or object_has_role(user, request, REVIEWER, COMPLIANCE_OFFICER)


def request_page(*, request_id: int, user: AbstractBaseUser) -> dict:
    """A request's detail page context for `user` (raises DeploymentRequest.DoesNotExist): the request with its
    approvals, comments and waivers, its environment's policy and named approvers, the live approvals and
    whether the user may comment."""
    deployment_request = request_get(request_id=request_id, user=user)
    policy = policy_for(deployment_request.environment)
    return {"req": deployment_request, "policy": policy,
            "approvers": list(policy.approvers.all()) if policy.pk else [],
            "live_approvals": len(approvals_counted(request=deployment_request, policy=policy)),
            "uncounted_approvals": [a for a in approvals_live(request=deployment_request)
                                    if a not in approvals_counted(request=deployment_request, policy=policy)],
            "step_up": step_up_method(user=user, require_totp=policy.require_totp),
            "can_comment": request_can_comment(user=user, request=deployment_request)}


def policy_initial(*, policy: DeploymentPolicy) -> dict:
    """A policy's fields as the edit form's initial values."""
    return {"required_approvals": policy.required_approvals, "min_accuracy": policy.min_accuracy,
            "fairness_rules": policy.fairness_rules, "max_audit_age_days": policy.max_audit_age_days,
            "require_explanations": policy.require_explanations,
            "require_dpia_for_personal_data": policy.require_dpia_for_personal_data,
            "require_lawful_basis": policy.require_lawful_basis, "require_totp": policy.require_totp,
            "max_canary_exposure": policy.max_canary_exposure, "forbid_pii_extraction": policy.forbid_pii_extraction,
            "max_invariance_flip_rate": policy.max_invariance_flip_rate,
            "max_directional_failure_rate": policy.max_directional_failure_rate,
            "max_attack_success_rate": policy.max_attack_success_rate,
            "approvers": list(policy.approvers.all()) if policy.pk else []}


def audit_policy_verdict(*, audit: Audit, results: dict, now: datetime | None = None) -> list[dict]:
    """Each environment's deployment policy judged on this audit's stored results, exactly as a deployment
    request citing it would be judged at `now` (default: now) (approvals.gates): [{environment, label, passed,
    gates}]."""
    if audit.status != "complete":
        return []
    now = now or timezone.now()
    verdicts = []
    for policy in policy_list():
        judged = gates.evaluate(policy=policy, model_version=audit.model_version, audit=audit, results=results,
                                now=now)
        verdicts.append({"environment": policy.environment, "label": policy.get_environment_display(),
                         "passed": all(g["passed"] for g in judged), "gates": judged,
                         "failing": [g for g in judged if not g["passed"]],
                         "not_checked": [gates.GATES[gate] for gate in gates.gates_applicable(audit)
                                         if gate not in {g["gate"] for g in judged}],
                         "required_approvals": policy.required_approvals})
    return verdicts


def audit_report_verdicts(*, audit: Audit, results: dict, now: datetime | None) -> dict:
    """The audit report's policy section (governance.hooks.audit_report_sections, registered in apps.py)."""
    return {"verdicts": audit_policy_verdict(audit=audit, results=results, now=now)}
