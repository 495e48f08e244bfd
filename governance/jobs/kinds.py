"""The one registry of job kinds: for each kind, its Celery task name, subject, runner and failure handler.

Each app registers the kinds it owns in its `apps.py` `ready()`, with the callables themselves (no dotted
paths), so the import checker sees every edge and jobs never imports an app:

    job_kind_register(JobKind(kind="audit", task_name=services.AUDIT_TASK, subject=Audit,
                              run=services.audit_run, failed=services.audit_job_failed))

Registering defines the kind's task on the Celery app (governance.jobs.celery_app) under `task_name`, with
the JobTask base class (governance.jobs.tasks) and the kind attached (`task.job_kind`: JobTask calls its
failure handler), so the worker (workers/), the demo's in-process thread and the inline mode all run the same
task object. Task names are routing keys (CELERY_TASK_ROUTES): keep them. The worker defines its tasks as
Django starts (Celery's Django fixup runs django.setup() before the worker consumes), the web process and the
tests likewise: every kind is registered before any job is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import Model

from governance.jobs.celery_app import app
from governance.jobs.tasks import JobTask


class JobRunner(Protocol):
    """A service that runs one job of its kind: `run(job_id=...)`; repeating it is harmless."""

    def __call__(self, *, job_id: int) -> None: ...


class JobFailedHandler(Protocol):
    """A service that records on the job's subject, once, that its job failed for good."""

    def __call__(self, *, job_id: int, error: str) -> None: ...


@dataclass(frozen=True)
class JobKind:
    kind: str                      # Job.kind ("audit", "training", ...)
    task_name: str                 # the Celery task name, a routing key in CELERY_TASK_ROUTES
    subject: type[Model]           # the row the job works on (Job.subject_type / subject_id)
    run: JobRunner
    failed: JobFailedHandler | None = None
    listed: bool = True            # False: plumbing (webhook deliveries) kept off the users' job lists


_KINDS: dict[str, JobKind] = {}


def job_kind_register(kind: JobKind) -> None:
    """Register a kind and define its task on the Celery app; registering the same kind again is harmless."""
    known = _KINDS.get(kind.kind)
    if known == kind:
        return
    if known is not None:
        raise ValueError(f"job kind {kind.kind!r} is registered already, differently: {known}")
    clash = next((k for k in _KINDS.values() if k.task_name == kind.task_name and k.kind != kind.kind), None)
    if clash is not None:
        raise ValueError(f"task {kind.task_name!r} already runs job kind {clash.kind!r}")
    _KINDS[kind.kind] = kind
    app.task(name=kind.task_name, base=JobTask, job_kind=kind, shared=False, lazy=False)(_task_body(kind))


def job_kind_get(kind: str) -> JobKind | None:
    return _KINDS.get(kind)


def job_kinds() -> list[JobKind]:
    return sorted(_KINDS.values(), key=lambda k: k.kind)


def job_kinds_unlisted() -> list[str]:
    """The kinds registered with listed=False: the home page and the jobs list leave them out."""
    return sorted(k.kind for k in _KINDS.values() if not k.listed)


def _task_body(kind: JobKind) -> Callable[[int], None]:
    # The first parameter is named job_id: that is how JobTask tells a job task from any other task.
    def job(job_id: int) -> None:
        kind.run(job_id=job_id)

    job.__name__ = job.__qualname__ = f"run_{kind.kind}_job"
    job.__module__ = __name__
    job.__doc__ = f"Runs one {kind.kind} job ({kind.subject._meta.label_lower}) by its id."
    return job
