from __future__ import annotations

from django.db.models import Q, QuerySet

from governance.approvals.models import DeploymentPolicy, DeploymentRequest, GateWaiver, RequestStatus, Webhook
from governance.registry.choices import Environment

# Without a stored policy an environment gets these (the model's field defaults otherwise).
DEFAULT_REQUIRED_APPROVALS = {Environment.STAGING: 1, Environment.PRODUCTION: 2}


def policy_for(environment: str) -> DeploymentPolicy:
    """The stored policy of an environment, or an unsaved default (every gate on, production 2 approvals)."""
    policy = DeploymentPolicy.objects.filter(environment=environment).prefetch_related("approvers").first()
    return policy or DeploymentPolicy(environment=environment,
                                      required_approvals=DEFAULT_REQUIRED_APPROVALS.get(environment, 1))


def policy_list() -> list[DeploymentPolicy]:
    return [policy_for(env) for env in Environment.values]


def request_list() -> QuerySet[DeploymentRequest]:
    return DeploymentRequest.objects.select_related("model_version__model", "audit", "requested_by")


def request_inbox(*, reviewer) -> QuerySet[DeploymentRequest]:
    """Pending requests this reviewer may decide: not their own, not already decided by them, and in an
    environment whose policy names them when it names approvers at all."""
    pools = DeploymentPolicy.objects.filter(approvers__isnull=False).values_list("environment", flat=True)
    named = DeploymentPolicy.objects.filter(approvers=reviewer).values_list("environment", flat=True)
    return (request_list().filter(status=RequestStatus.PENDING).exclude(requested_by=reviewer)
            .exclude(approvals__reviewer=reviewer, approvals__voided=False)
            .filter(Q(environment__in=named) | ~Q(environment__in=pools)).distinct())


def request_get(*, request_id: int) -> DeploymentRequest:
    return request_list().prefetch_related("approvals__reviewer", "comments__author",
                                           "waivers__granted_by").get(pk=request_id)


def waivers_for_model_version(*, model_version_id: int) -> QuerySet[GateWaiver]:
    """Every waiver recorded on requests for this version (for reports and exports)."""
    return (GateWaiver.objects.filter(request__model_version_id=model_version_id)
            .select_related("granted_by", "request").order_by("-created_at"))


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.select_related("created_by")


def request_search(*, filters) -> QuerySet[DeploymentRequest]:
    """Requests matching a list page's filters: `q` is the request number, the model's name, the requester
    or the environment; status and model are exact."""
    return filters.apply(request_list(), search=("model_version__model__name__icontains",
                                                 "requested_by__username__icontains", "environment__iexact"),
                         by_number=True, status="status", model="model_version__model_id")
