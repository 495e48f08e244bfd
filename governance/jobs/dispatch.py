"""Hands a job to whoever runs it, after the surrounding transaction commits: the one dispatch switch.

JOB_DISPATCH=celery sends the task by name to the broker (workers consume it); JOB_DISPATCH=thread runs
the same task object in a thread of this process (the demo's in-process worker, no broker needed);
JOB_DISPATCH=inline runs it at once in this thread after commit (the demo loader, with a terminal bar; the
tests' inline_jobs). The in-process modes find the task on the app (governance.jobs.celery_app), where the
job-kind registry defined it, and run it through Celery's `apply`: the same base class, status changes,
failure recording and retries as in a worker; a `countdown` (a retry's backoff) is not waited for there.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.db import transaction

from governance.jobs.celery_app import app


def enqueue(task_name: str, job_id: int, *, countdown: float | None = None) -> None:
    from governance.jobs.models import Job

    # The row remembers its task so that a job stranded by a dead worker can be sent again (the sweep).
    Job.objects.filter(pk=job_id).exclude(task_name=task_name).update(task_name=task_name)
    transaction.on_commit(lambda: _send(task_name, job_id, countdown))


def current_delivery() -> tuple[str, str]:
    """(broker message id, worker process) of the task running in this thread; ("", "") outside a task.

    A redelivered message keeps its task id, so a job whose row names this delivery was held by a worker
    that died; a different id on a running job means a duplicate message for work someone else holds.
    """
    import os
    import socket

    from celery import current_task

    request = getattr(current_task, "request", None)
    task_id = getattr(request, "id", None) or ""
    return task_id, f"{getattr(request, 'hostname', None) or socket.gethostname()}:{os.getpid()}"


def _send(task_name: str, job_id: int, countdown: float | None) -> None:
    if settings.JOB_DISPATCH == "inline":
        app.tasks[task_name].apply(args=[job_id])
    elif settings.JOB_DISPATCH == "thread":
        task = app.tasks[task_name]
        threading.Thread(target=_run_in_thread, args=(task, job_id), daemon=True,
                         name=f"job-{job_id}").start()
    else:
        app.send_task(task_name, args=[job_id], countdown=countdown)


def _run_in_thread(task, job_id: int) -> None:
    from django.db import connection

    try:
        task.apply(args=[job_id])
    finally:
        connection.close()
