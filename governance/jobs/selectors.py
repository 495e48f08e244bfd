from __future__ import annotations

from typing import Any, Mapping

from django.db.models import QuerySet

from governance.jobs.kinds import job_kinds_unlisted
from governance.jobs.models import Job, JobStatus
from governance.list_filters import narrowed, ordered

JOB_FILTERS = {"status": "status", "kind": "kind", "subject_type": "subject_type", "subject_id": "subject_id",
               "min_attempts": "attempts__gte", "created_after": "created_at__gte",
               "created_before": "created_at__lt"}
JOB_ORDERING = {"id": "pk", "created_at": "created_at", "started_at": "started_at", "finished_at": "finished_at",
                "attempts": "attempts"}


def job_get(*, job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def job_list(*, filters: Mapping[str, Any] | None = None, include_unlisted: bool = False) -> QuerySet[Job]:
    """Jobs narrowed by status, kind, subject, a minimum attempt count and when they were created; newest
    first unless filters["ordering"] names a key of JOB_ORDERING. Kinds registered unlisted (webhook
    deliveries) only with include_unlisted (administrators)."""
    filters = filters or {}
    jobs = Job.objects.all() if include_unlisted else _listed()
    return ordered(narrowed(jobs, filters, JOB_FILTERS), filters.get("ordering", ""),
                   fields=JOB_ORDERING, default="-created_at")


def job_list_active(*, limit: int = 20):
    return _listed().filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("-created_at")[:limit]


def job_list_recent_failed(*, limit: int = 10):
    return _listed().filter(status=JobStatus.FAILED).order_by("-finished_at")[:limit]


def _listed() -> QuerySet[Job]:
    return Job.objects.exclude(kind__in=job_kinds_unlisted())


def job_for(subject) -> Job | None:
    return (Job.objects.filter(subject_type=subject._meta.label_lower, subject_id=subject.pk)
            .order_by("-created_at").first())
