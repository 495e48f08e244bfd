"""Reads of the serving app: tokens, decisions, monitoring reports and alerts, scoped to the projects a user
sees; the model page's monitoring section; a subject's decisions (for access requests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from governance.accounts.predicates import project_scoped, projects_visible_ids
from governance.list_filters import narrowed, ordered
from governance.registry.models import Deployment
from governance.serving.models import (Decision, DecisionOutcome, MonitoringAlert, MonitoringReport, ServiceToken,
                                       ServingPolicy)

TOKEN_FILTERS = {"model": "model_id", "environment": "environment", "revoked": "revoked_at__isnull"}
TOKEN_ORDERING = {"created_at": "created_at", "name": "name", "environment": "environment"}
REPORT_FILTERS = {"deployment": "deployment_id", "model": "deployment__model_version__model_id",
                  "window": "window", "status": "status", "environment": "deployment__environment"}
REPORT_ORDERING = {"window_start": "window_start", "created_at": "created_at", "decisions": "decisions"}
ALERT_FILTERS = {"deployment": "deployment_id", "model": "deployment__model_version__model_id",
                 "acknowledged": "acknowledged_at__isnull"}
ALERT_ORDERING = {"created_at": "created_at"}
DECISION_FILTERS = {"model": "model_id", "environment": "environment", "deployment": "deployment_id",
                    "model_version": "model_version_id", "decided_after": "decided_at__gte",
                    "decided_before": "decided_at__lt"}
DECISION_ORDERING = {"decided_at": "decided_at"}


def service_token_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[ServiceToken]:
    filters = dict(filters or {})
    if "revoked" in filters and filters["revoked"] is not None:
        filters["revoked"] = not filters["revoked"]  # revoked=true: revoked_at is not null
    qs = project_scoped(ServiceToken.objects.select_related("model", "created_by"), user=user, via="model__project")
    return ordered(narrowed(qs, filters, TOKEN_FILTERS), filters.get("ordering", ""), fields=TOKEN_ORDERING,
                   default="-created_at")


def decision_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Decision]:
    filters = filters or {}
    visible = None if user is None else projects_visible_ids(user)
    qs = Decision.objects.all() if visible is None else Decision.objects.filter(project_id__in=visible)
    return ordered(narrowed(qs, filters, DECISION_FILTERS), filters.get("ordering", ""), fields=DECISION_ORDERING,
                   default="-decided_at")


def monitoring_report_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[MonitoringReport]:
    filters = filters or {}
    qs = project_scoped(MonitoringReport.objects.select_related("deployment__model_version__model"), user=user,
                        via="deployment__model_version__model__project")
    return ordered(narrowed(qs, filters, REPORT_FILTERS), filters.get("ordering", ""), fields=REPORT_ORDERING,
                   default="-window_start")


def monitoring_alert_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[MonitoringAlert]:
    filters = dict(filters or {})
    if filters.get("acknowledged") is not None:
        filters["acknowledged"] = not filters["acknowledged"]
    qs = project_scoped(MonitoringAlert.objects.select_related("deployment__model_version__model", "report"),
                        user=user, via="deployment__model_version__model__project")
    return ordered(narrowed(qs, filters, ALERT_FILTERS), filters.get("ordering", ""), fields=ALERT_ORDERING,
                   default="-created_at")


def serving_policies() -> list[ServingPolicy]:
    from governance.registry.choices import Environment

    stored = {p.environment: p for p in ServingPolicy.objects.all()}
    return [stored.get(env) or ServingPolicy(environment=env) for env in Environment.values]


def subject_decisions(*, subject_id: str) -> list[Decision]:
    """Every logged decision about a data subject (their id as the client sent it), oldest first."""
    if not subject_id:
        return []
    return list(Decision.objects.filter(subject_id=subject_id).order_by("decided_at", "id"))


def outcomes_of(decision_ids) -> dict:
    return {o.decision_id: o for o in DecisionOutcome.objects.filter(decision_id__in=list(decision_ids))}


def model_page_monitoring(*, model, user) -> dict:
    """The model page's serving section (governance.hooks.model_page_sections): per deployment not ended,
    its monitoring reports over time (charts), open alerts, and the model's service tokens."""
    from governance.serving.charts import monitoring_charts

    deployments = list(Deployment.objects.filter(model_version__model=model).select_related("model_version")
                       .order_by("environment", "-started_at"))
    reports = list(MonitoringReport.objects.filter(deployment__in=deployments).exclude(status="queued")
                   .order_by("window_start"))
    lanes = []
    for deployment in deployments:
        mine = [r for r in reports if r.deployment_id == deployment.pk]
        if mine or deployment.ended_at is None:
            lanes.append({"deployment": deployment, "reports": mine[-30:], "charts": monitoring_charts(mine[-30:])})
    return {"monitoring": {
        "lanes": lanes,
        "alerts": list(MonitoringAlert.objects.filter(deployment__in=deployments, acknowledged_at__isnull=True)
                       .select_related("deployment__model_version")[:20]),
        "tokens": list(ServiceToken.objects.filter(model=model).select_related("created_by")),
    }}
