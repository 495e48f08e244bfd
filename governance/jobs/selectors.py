from __future__ import annotations

from typing import Any, Mapping

from django.db.models import Q, QuerySet

from governance.jobs.kinds import job_kinds_unlisted
from governance.jobs.models import Job, JobStatus
from governance.list_filters import narrowed, ordered
from governance.permissions import user_projects_visible

JOB_FILTERS = {"status": "status", "kind": "kind", "subject_type": "subject_type", "subject_id": "subject_id",
               "min_attempts": "attempts__gte", "created_after": "created_at__gte",
               "created_before": "created_at__lt"}
JOB_ORDERING = {"id": "pk", "created_at": "created_at", "started_at": "started_at", "finished_at": "finished_at",
                "attempts": "attempts"}


def _scoped(jobs: QuerySet[Job], user) -> QuerySet[Job]:
    """The jobs of the projects `user` sees (None: the system, all), and those of no project (their subject
    belongs to none: as listed before projects; webhook deliveries stay unlisted but for admins)."""
    if user is None:
        return jobs
    visible = user_projects_visible(user)
    return jobs if visible is None else jobs.filter(Q(project_id__in=visible) | Q(project_id__isnull=True))


def job_get(*, job_id: int, user) -> Job:
    """The job, if `user` sees its project (None: the system); Job.DoesNotExist otherwise."""
    return _scoped(Job.objects.all(), user).get(pk=job_id)


def job_list(*, user, filters: Mapping[str, Any] | None = None, include_unlisted: bool = False) -> QuerySet[Job]:
    """The jobs of the projects `user` sees (None: all) narrowed by status, kind, subject, a minimum attempt
    count and when they were created; newest first unless filters["ordering"] names a key of JOB_ORDERING.
    Kinds registered unlisted (webhook deliveries) only with include_unlisted (administrators)."""
    filters = filters or {}
    jobs = _scoped(Job.objects.all() if include_unlisted else _listed(), user)
    return ordered(narrowed(jobs, filters, JOB_FILTERS), filters.get("ordering", ""),
                   fields=JOB_ORDERING, default="-created_at")


def job_list_active(*, user, limit: int = 20):
    return (_scoped(_listed(), user).filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .order_by("-created_at")[:limit])


def job_list_recent_failed(*, user, limit: int = 10):
    return _scoped(_listed(), user).filter(status=JobStatus.FAILED).order_by("-finished_at")[:limit]


def _listed() -> QuerySet[Job]:
    return Job.objects.exclude(kind__in=job_kinds_unlisted())


def job_for(subject) -> Job | None:
    return (Job.objects.filter(subject_type=subject._meta.label_lower, subject_id=subject.pk)
            .order_by("-created_at").first())
