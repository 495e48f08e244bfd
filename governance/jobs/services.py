"""Job state transitions. Each refuses a wrong status, which makes a repeated task harmless."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from governance.jobs.models import Job, JobStatus
from governance.jobs.retry import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

Subject = TypeVar("Subject")
Result = TypeVar("Result")

# Progress writes are throttled so a fast loop does not hammer the database.
_PROGRESS_MIN_INTERVAL_S = 0.5


def job_create(*, kind: str, subject, created_by=None) -> Job:
    return Job.objects.create(kind=kind, subject_type=subject._meta.label_lower, subject_id=subject.pk,
                              project_id=getattr(subject, "project_id", None),
                              created_by=created_by if getattr(created_by, "pk", None) else None)


@transaction.atomic
def job_start(*, job_id: int, max_attempts: int | None = None) -> Job | None:
    """Mark running and count the attempt; None when there is nothing to do.

    None for a finished job (a repeat), for a job that has used up JOB_MAX_ATTEMPTS (or `max_attempts`, for
    a kind that starts again by design: a webhook delivery's backoff) (it is marked failed:
    a job that kills its worker every time is not redelivered forever), and for a duplicate message of a
    job that another live worker holds (running, fresh heartbeat, another delivery id). A redelivery of the
    same message (same task id: the broker re-queued it because its worker died) takes the job over.
    """
    from governance.jobs.dispatch import current_delivery

    job = Job.objects.select_for_update().get(pk=job_id)
    if job.status in (JobStatus.COMPLETE, JobStatus.FAILED):
        return None
    delivery, worker = current_delivery()
    now = timezone.now()
    if (job.status == JobStatus.RUNNING and delivery and job.delivery and delivery != job.delivery
            and job.heartbeat_at and (now - job.heartbeat_at).total_seconds() < settings.JOB_STALE_AFTER_S):
        log.warning("job %s: duplicate delivery %s ignored; %s holds it", job_id, delivery, job.worker)
        return None
    if _attempts_charged(job) >= (max_attempts or settings.JOB_MAX_ATTEMPTS):
        _give_up(job, now, max_attempts)
        return None
    job.status, job.attempts, job.heartbeat_at = JobStatus.RUNNING, job.attempts + 1, now
    job.started_at = job.started_at or now
    job.delivery, job.worker = delivery, worker
    job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "delivery", "worker"])
    if job.attempts > 1:
        log.warning("job %s: attempt %s (redelivered; %s cut short by a worker shutting down, not counted "
                    "toward JOB_MAX_ATTEMPTS=%s)", job_id, job.attempts, job.handed_back, settings.JOB_MAX_ATTEMPTS)
    return job


def _attempts_charged(job: Job) -> int:
    """The attempts that count toward JOB_MAX_ATTEMPTS: every start, less those a worker shutting down handed
    back (job_hand_back). A deploy or a scale-down says nothing about the job, so a long job that lives through
    several restarts is not taken for poison; but only JOB_MAX_HANDED_BACK of them are forgiven, so a job that
    gets its worker stopped every time (a failing liveness probe, an out-of-memory eviction that sends SIGTERM
    first) still ends failed instead of being handed around forever."""
    return job.attempts - min(job.handed_back, settings.JOB_MAX_HANDED_BACK)


def _give_up(job: Job, now, max_attempts: int | None = None) -> None:
    job.status, job.finished_at = JobStatus.FAILED, now
    limit = f"JOB_MAX_ATTEMPTS={settings.JOB_MAX_ATTEMPTS}" if max_attempts is None else f"at most {max_attempts}"
    if job.handed_back:
        cause = (f"the worker running it was lost {job.attempts - job.handed_back} times and shut down "
                 f"{job.handed_back} times ({limit}, JOB_MAX_HANDED_BACK={settings.JOB_MAX_HANDED_BACK})")
    else:
        cause = f"the worker running it was lost each time ({limit})"
    job.error = job.error or f"Gave up after {job.attempts} attempts: {cause}."
    job.save(update_fields=["status", "finished_at", "error"])


@transaction.atomic
def job_hand_back(*, deliveries: Collection[tuple[str, str]], since) -> list[int]:
    """A worker shutting down (SIGTERM, soft shutdown) has cancelled the tasks it was still running once the
    grace period passed, and is about to restore their messages to the queue: count the hand-back on their
    jobs, so that the next attempt is not charged toward JOB_MAX_ATTEMPTS. Returns the job ids.

    `deliveries` names each cancelled task exactly as job_start recorded it on the row: (Celery task id, the
    worker id string "<node name>:<pool process id>"); `since` (the moment this worker started) also leaves
    out a row an earlier worker of the same name wrote. So a job whose transient-error retry (same task id)
    waits on another worker, or one held by another worker that shares the node name, is not touched. A job
    that committed its completion meanwhile is not running any more and is left alone; so is one whose row a
    cancelled process still locks (skip_locked: the shutdown must not wait on it; its attempt then counts).

    The job stays RUNNING, its holder and heartbeat as they were: the restored message (same task id) is
    taken over by the next worker's job_start like any redelivery, and if this worker dies before it restores
    the messages (SIGKILL at the orchestrator's deadline), the stale-job sweep (job_requeue_stale) still
    re-sends the job once its heartbeat is JOB_STALE_AFTER_S old, instead of it waiting for the broker's
    visibility timeout. Called from the worker's main process (workers/celery.py), before it closes its
    broker connection, so the rows are marked before any other worker can receive the restored messages.
    """
    if not deliveries:
        return []
    cancelled = Q()
    for delivery, worker in deliveries:
        cancelled |= Q(delivery=delivery, worker=worker)
    held = list(Job.objects.select_for_update(skip_locked=True)
                .filter(cancelled, status=JobStatus.RUNNING, heartbeat_at__gte=since)
                .values_list("pk", flat=True))
    if held:
        Job.objects.filter(pk__in=held).update(handed_back=F("handed_back") + 1,
                                               stage="handed back (worker shut down)")
        log.warning("worker shutting down: handed back jobs %s", held)
    return held


@transaction.atomic
def job_requeue_stale(*, older_than_s: float | None = None) -> dict[str, list[int]]:
    """Find running jobs whose worker stopped beating (it died, or its machine did) and send them again;
    a job that has used up its attempts is marked failed instead. Returns the job ids of each outcome.

    `skip_locked`: two sweeps at once (two beat schedulers, or the command run by hand) split the rows
    instead of both re-sending one job. The heartbeat threshold must exceed the longest silent stretch of
    any job (JOB_STALE_AFTER_S), or a live job is re-sent too; its repeat is then harmless (job_start
    refuses the duplicate, the stores are idempotent) but wasted.
    """
    from governance.jobs.dispatch import enqueue

    threshold = settings.JOB_STALE_AFTER_S if older_than_s is None else older_than_s
    cutoff = timezone.now() - timezone.timedelta(seconds=threshold)
    requeued, failed = [], []
    stale = (Job.objects.select_for_update(skip_locked=True)
             .filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).order_by("pk"))
    for job in stale:
        if _attempts_charged(job) >= settings.JOB_MAX_ATTEMPTS or not job.task_name:
            if not job.task_name:
                job.error = "The worker running it was lost, and the job does not name a task to re-send."
            _give_up(job, timezone.now())
            failed.append(job.pk)
            continue
        job.status, job.delivery, job.stage = JobStatus.QUEUED, "", "re-queued (worker lost)"
        job.save(update_fields=["status", "delivery", "stage"])
        enqueue(job.task_name, job.pk)
        requeued.append(job.pk)
    if requeued or failed:
        log.warning("stale jobs: re-queued %s, failed %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}


def job_progress(*, job: Job, stage: str, percent: float, force: bool = False, **detail) -> None:
    now = timezone.now()
    if not force and job.heartbeat_at and (now - job.heartbeat_at).total_seconds() < _PROGRESS_MIN_INTERVAL_S \
            and stage == job.stage:
        return
    job.stage, job.percent, job.heartbeat_at = stage, max(0.0, min(100.0, float(percent))), now
    if detail:
        job.detail = {**job.detail, **{k: v for k, v in detail.items() if _jsonable(v)}}
    Job.objects.filter(pk=job.pk).update(stage=job.stage, percent=job.percent, heartbeat_at=now, detail=job.detail)


def job_retry_later(*, job: Job, countdown_s: float, stage: str) -> None:
    """A job that ends its attempt to start again after `countdown_s` (a backoff its service decides): back to
    queued, so the stale-job sweep leaves it alone while it waits, and sent again with that countdown; the
    next start counts an attempt (job_start's `max_attempts` bounds them)."""
    from governance.jobs.dispatch import enqueue

    job.status, job.delivery, job.stage, job.heartbeat_at = JobStatus.QUEUED, "", stage, timezone.now()
    job.save(update_fields=["status", "delivery", "stage", "heartbeat_at"])
    enqueue(job.task_name, job.pk, countdown=countdown_s)


def job_complete(*, job: Job) -> None:
    job.status, job.percent, job.stage, job.finished_at = JobStatus.COMPLETE, 100.0, "done", timezone.now()
    job.save(update_fields=["status", "percent", "stage", "finished_at"])


def job_fail(*, job_id: int, error: str) -> None:
    Job.objects.filter(pk=job_id).exclude(status__in=[JobStatus.COMPLETE, JobStatus.FAILED]).update(
        status=JobStatus.FAILED, error=error[:4000], finished_at=timezone.now())


def job_run(*, job_id: int, name: str, load: Callable[[Job], Subject], done: Callable[[Subject], bool],
            compute: Callable[[Subject, Job], Result], store: Callable[[Subject, Job, Result], None] | None,
            failed: Callable[[Subject, int, str], None] | None = None,
            start: Callable[[Subject], None] | None = None) -> None:
    """Run one job for its worker task, in the steps every job service shares; `name` names it in the log.

    1. `job_start`: nothing to do for a finished job, a duplicate delivery, or a job out of attempts.
    2. `load(job)` the subject. When `done(subject)` (its result is stored already: the worker died after
       storing, before acknowledging), the repeat only completes the job.
    3. `start(subject)`, when given, marks the subject running; its errors go to the task.
    4. `compute(subject, job)` does the work and reports progress. A transient error (TRANSIENT_ERRORS)
       escapes, so that the task retries with backoff (governance/jobs/tasks.py); any other is logged and
       recorded: by `failed(subject, job_id, error)`, which marks the subject failed and calls `job_fail`,
       or by `job_fail` alone when the subject has no status of its own.
    5. `store(subject, job, result)` writes the result in its own transaction and completes the job (the
       audit's store also refuses a result stored already; training and mitigation rely on step 2's check);
       its errors go to the task. None when `compute` stores its result itself, so that
       a failing store is recorded on the subject like a failing computation.
    """
    job = job_start(job_id=job_id)
    if job is None:
        return
    subject = load(job)
    if done(subject):
        job_complete(job=job)
        return
    if start is not None:
        start(subject)
    try:
        result = compute(subject, job)
    except TRANSIENT_ERRORS:  # the database or broker blinked: the task retries with backoff
        raise
    except Exception as exc:  # recorded on the job (and its subject); the worker keeps running
        log.exception("%s job %s failed", name, job_id)
        error = f"{type(exc).__name__}: {exc}"
        if failed is None:
            job_fail(job_id=job_id, error=error)
        else:
            failed(subject, job_id, error)
        return
    if store is not None:
        store(subject, job, result)


def _jsonable(value) -> bool:
    return isinstance(value, (int, float, str, bool, type(None)))
