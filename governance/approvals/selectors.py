from __future__ import annotations

from django.db.models import QuerySet

from governance.approvals.models import DeploymentRequest, RequestStatus


def request_list() -> QuerySet[DeploymentRequest]:
    return DeploymentRequest.objects.select_related("model_version__model", "audit", "requested_by")


def request_inbox(*, reviewer) -> QuerySet[DeploymentRequest]:
    """Pending requests this reviewer may decide: not their own, not already decided by them."""
    return (request_list().filter(status=RequestStatus.PENDING).exclude(requested_by=reviewer)
            .exclude(approvals__reviewer=reviewer, approvals__voided=False))


def request_get(*, request_id: int) -> DeploymentRequest:
    return request_list().prefetch_related("approvals__reviewer").get(pk=request_id)
