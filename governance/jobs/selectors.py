from __future__ import annotations

from governance.jobs.models import Job, JobStatus


def job_get(*, job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def job_list(*, filters: dict):
    """Jobs newest first, narrowed by status, kind, subject and a minimum attempt count."""
    lookups = {"status": "status", "kind": "kind", "subject_type": "subject_type", "subject_id": "subject_id",
               "min_attempts": "attempts__gte"}
    narrowed = Job.objects.filter(**{lookups[k]: v for k, v in filters.items() if k in lookups})
    return narrowed.order_by("-created_at", "-pk")


def job_list_active(*, limit: int = 20):
    return Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("-created_at")[:limit]


def job_list_recent_failed(*, limit: int = 10):
    return Job.objects.filter(status=JobStatus.FAILED).order_by("-finished_at")[:limit]


def job_for(subject) -> Job | None:
    return (Job.objects.filter(subject_type=subject._meta.label_lower, subject_id=subject.pk)
            .order_by("-created_at").first())
