"""jobs.job_run, the steps every job service shares: repeat-safe, transient errors escape, others recorded."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from governance.jobs import services as jobs
from governance.jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db


class Steps:
    """A job's callbacks that note each call; `error` makes the computation raise it."""

    def __init__(self, *, done: bool = False, error: Exception | None = None):
        self.calls: list[tuple] = []
        self._done, self._error = done, error

    def load(self, job: Job) -> str:
        self.calls.append(("load", job.pk))
        return "subject"

    def done(self, subject: str) -> bool:
        return self._done

    def start(self, subject: str) -> None:
        self.calls.append(("start", subject))

    def compute(self, subject: str, job: Job) -> int:
        self.calls.append(("compute", subject))
        if self._error is not None:
            raise self._error
        return 42

    def store(self, subject: str, job: Job, result: int) -> None:
        self.calls.append(("store", subject, result))
        jobs.job_complete(job=job)

    def failed(self, subject: str, job_id: int, error: str) -> None:
        self.calls.append(("failed", subject, error))
        jobs.job_fail(job_id=job_id, error=error)

    def run(self, job: Job, *, failed: bool = True) -> None:
        jobs.job_run(job_id=job.pk, name="test", load=self.load, done=self.done, start=self.start,
                     compute=self.compute, store=self.store, failed=self.failed if failed else None)


def _job(engineer) -> Job:
    return jobs.job_create(kind="test", subject=engineer, created_by=engineer)


def _status(job: Job) -> tuple[str, str]:
    job.refresh_from_db()
    return job.status, job.error


def test_the_steps_run_in_order_and_store_gets_the_result(engineer):
    job, steps = _job(engineer), Steps()
    steps.run(job)
    assert steps.calls == [("load", job.pk), ("start", "subject"), ("compute", "subject"), ("store", "subject", 42)]
    assert _status(job) == (JobStatus.COMPLETE, "") and job.attempts == 1


def test_a_stored_result_only_completes_the_job_and_a_finished_job_is_left_alone(engineer):
    job, steps = _job(engineer), Steps(done=True)
    steps.run(job)
    assert steps.calls == [("load", job.pk)]
    assert _status(job) == (JobStatus.COMPLETE, "")
    steps.run(job)  # a repeat of the finished job loads nothing
    assert steps.calls == [("load", job.pk)]


def test_a_failure_is_recorded_on_the_subject_and_nothing_is_stored(engineer):
    job, steps = _job(engineer), Steps(error=ValueError("no rows"))
    steps.run(job)
    assert steps.calls[-1] == ("failed", "subject", "ValueError: no rows")
    assert _status(job) == (JobStatus.FAILED, "ValueError: no rows")


def test_without_a_subject_status_the_failure_is_recorded_on_the_job(engineer):
    job, steps = _job(engineer), Steps(error=KeyError("drift"))
    steps.run(job, failed=False)
    assert [c[0] for c in steps.calls] == ["load", "start", "compute"]
    assert _status(job) == (JobStatus.FAILED, "KeyError: 'drift'")


def test_a_transient_error_escapes_for_the_task_to_retry(engineer):
    job, steps = _job(engineer), Steps(error=OperationalError("server closed the connection unexpectedly"))
    with pytest.raises(OperationalError):
        steps.run(job)
    assert [c[0] for c in steps.calls] == ["load", "start", "compute"]
    assert _status(job) == (JobStatus.RUNNING, "")


def test_without_store_the_computation_stores_its_own_result(engineer):
    job, steps = _job(engineer), Steps()
    jobs.job_run(job_id=job.pk, name="test", load=steps.load, done=steps.done,
                 compute=lambda subject, j: jobs.job_complete(job=j), store=None)
    assert steps.calls == [("load", job.pk)]
    assert _status(job) == (JobStatus.COMPLETE, "")
