"""Hands a job to whoever runs it, after the surrounding transaction commits.

JOB_DISPATCH=celery sends the task by name to the broker (workers consume it); JOB_DISPATCH=thread runs
the same task function in a thread of this process (the demo's in-process worker, no broker needed);
JOB_DISPATCH=inline runs it at once in this thread after commit (the demo loader, with a terminal bar).
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.db import transaction


def enqueue(task_name: str, job_id: int) -> None:
    transaction.on_commit(lambda: _send(task_name, job_id))


def _send(task_name: str, job_id: int) -> None:
    import workers.tasks  # noqa: F401  (registers the tasks on the app)
    from workers.celery import app

    if settings.JOB_DISPATCH == "inline":
        app.tasks[task_name].apply(args=[job_id])
    elif settings.JOB_DISPATCH == "thread":
        task = app.tasks[task_name]
        threading.Thread(target=_run_in_thread, args=(task, job_id), daemon=True,
                         name=f"job-{job_id}").start()
    else:
        app.send_task(task_name, args=[job_id])


def _run_in_thread(task, job_id: int) -> None:
    from django.db import connection

    try:
        task.apply(args=[job_id])
    finally:
        connection.close()
