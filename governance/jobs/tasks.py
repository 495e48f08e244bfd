"""The base class of every job and periodic task (each names it: `base=JobTask`; governance.jobs.kinds does
for the job kinds). It is not the app's default task class: the app (celery_app.py) cannot import it without
an import cycle through jobs.services, so a new task must name it.

What it adds to a plain Celery task, so that no job is lost, none runs forever, and none is done twice:
- late acknowledgement, and a rejection back to the queue when the worker process dies mid-task;
- a note of each running task a shutting-down worker cancels (JobRequest), to hand its job back;
- automatic retries with exponential backoff and jitter for transient errors (governance.jobs.retry);
- when a job task fails for good (retries used up, an exception the service did not record, or job_start
  giving up after JOB_MAX_ATTEMPTS), the job row is marked failed and its kind's failure handler (registered
  in governance.jobs.kinds: a domain service taking `job_id` and `error`) records it on the job's subject
  (the audit, the model version), once. A job task's first parameter is named `job_id`; other tasks are left
  alone.
"""

from __future__ import annotations

import inspect
import logging

from celery import Task, states
from celery.worker.request import Request

from governance.jobs.retry import MAX_RETRIES, RETRY_BACKOFF_MAX_S, RETRY_BACKOFF_S, TRANSIENT_ERRORS

log = logging.getLogger(__name__)

# (Celery task id, "<node name>:<pool process id>") of each running task this worker cancelled: a cold shutdown
# (after the soft-shutdown grace) cancels what still runs. The worker's main process appends here and its
# shutdown handler (workers/celery.py) takes them to hand their jobs back. The pair is what job_start records
# on the row (Job.delivery, Job.worker: governance.jobs.dispatch.current_delivery).
cancelled_requests: list[tuple[str, str]] = []


class JobRequest(Request):
    """Celery's request (the worker main process' record of one message it runs) that notes its cancellation."""

    def cancel(self, pool, signal=None, emit_retry=True):
        if self.time_start and self.worker_pid:  # started in a pool process: Request.cancel terminates it
            cancelled_requests.append((self.id, f"{self.hostname}:{self.worker_pid}"))
        return super().cancel(pool, signal=signal, emit_retry=emit_retry)


class JobTask(Task):
    Request = JobRequest
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = RETRY_BACKOFF_S
    retry_backoff_max = RETRY_BACKOFF_MAX_S
    retry_jitter = True
    max_retries = MAX_RETRIES
    # A job kind's task carries its kind (governance.jobs.kinds.JobKind, set when the kind is registered);
    # its `failed` handler records a job that failed for good on the job's subject.
    job_kind = None

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = self._job_id(args, kwargs)
        if job_id is None:
            return
        from governance.jobs import services as jobs

        error = f"{type(exc).__name__}: {exc}"
        jobs.job_fail(job_id=job_id, error=error)
        self._record_on_subject(job_id)

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        job_id = self._job_id(args, kwargs)
        if status != states.SUCCESS or job_id is None:
            return
        from governance.jobs.models import Job, JobStatus

        # job_start gives up on a job that used its attempts (returns None, the service returns): the
        # subject still says queued or running until its handler records the failure.
        if Job.objects.filter(pk=job_id, status=JobStatus.FAILED).exists():
            self._record_on_subject(job_id)

    def _job_id(self, args, kwargs) -> int | None:
        """The job id of a job task's call; None for any other task (a periodic sweep, an export)."""
        params = list(inspect.signature(self.run).parameters)
        if not params or params[0] != "job_id":
            return None
        value = kwargs.get("job_id", args[0] if args else None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _record_on_subject(self, job_id: int) -> None:
        if self.job_kind is None or self.job_kind.failed is None:
            return
        from governance.jobs.models import Job

        error = Job.objects.filter(pk=job_id).values_list("error", flat=True).first() or "failed"
        self.job_kind.failed(job_id=job_id, error=error)

