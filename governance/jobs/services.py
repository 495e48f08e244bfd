"""Job state transitions. Each refuses a wrong status, which makes a repeated task harmless."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

# Progress writes are throttled so a fast loop does not hammer the database.
_PROGRESS_MIN_INTERVAL_S = 0.5


def job_create(*, kind: str, subject, created_by=None) -> Job:
    return Job.objects.create(kind=kind, subject_type=subject._meta.label_lower, subject_id=subject.pk,
                              created_by=created_by if getattr(created_by, "pk", None) else None)


@transaction.atomic
def job_start(*, job_id: int) -> Job | None:
    """Mark running and count the attempt; None when the job is already finished (a repeat)."""
    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status in (JobStatus.COMPLETE, JobStatus.FAILED):
        return None
    if job.attempts >= settings.JOB_MAX_ATTEMPTS:
        job.status, job.finished_at = JobStatus.FAILED, timezone.now()
        job.error = job.error or f"Gave up after {job.attempts} attempts (the worker died each time)."
        job.save(update_fields=["status", "finished_at", "error"])
        return None
    now = timezone.now()
    job.status, job.attempts, job.heartbeat_at = JobStatus.RUNNING, job.attempts + 1, now
    job.started_at = job.started_at or now
    job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at"])
    return job


def job_progress(*, job: Job, stage: str, percent: float, force: bool = False, **detail) -> None:
    now = timezone.now()
    if not force and job.heartbeat_at and (now - job.heartbeat_at).total_seconds() < _PROGRESS_MIN_INTERVAL_S \
            and stage == job.stage:
        return
    job.stage, job.percent, job.heartbeat_at = stage, max(0.0, min(100.0, float(percent))), now
    if detail:
        job.detail = {**job.detail, **{k: v for k, v in detail.items() if _jsonable(v)}}
    Job.objects.filter(pk=job.pk).update(stage=job.stage, percent=job.percent, heartbeat_at=now, detail=job.detail)


def job_complete(*, job: Job) -> None:
    job.status, job.percent, job.stage, job.finished_at = JobStatus.COMPLETE, 100.0, "done", timezone.now()
    job.save(update_fields=["status", "percent", "stage", "finished_at"])


def job_fail(*, job_id: int, error: str) -> None:
    Job.objects.filter(pk=job_id).exclude(status=JobStatus.COMPLETE).update(
        status=JobStatus.FAILED, error=error[:4000], finished_at=timezone.now())


def _jsonable(value) -> bool:
    return isinstance(value, (int, float, str, bool, type(None)))
