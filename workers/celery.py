"""The worker's entry point (`celery -A workers worker`): the Celery app (governance.jobs.celery_app), the
periodic tasks (workers.tasks) and what a worker process does as it starts and stops.

The job kinds' tasks are defined as Django starts (each app registers its kinds in its apps.py `ready()`,
governance.jobs.kinds); Celery's Django fixup runs django.setup() before this worker consumes anything.
"""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_init, worker_ready, worker_shutting_down

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.demo")

from governance.jobs.celery_app import app  # noqa: E402  (reads the settings module named above)

__all__ = ["app"]
app.autodiscover_tasks(["workers"])

log = logging.getLogger(__name__)
_ready_at = None  # when this worker (its main process) became ready: see _hand_back_on_shutdown
_HAND_BACK_TIMEOUT_S = 5  # the most a shutdown waits on the database to mark its cancelled jobs handed back


@worker_init.connect
def _preload_core(**_) -> None:
    """Import the inference stack once in the worker's main process, before the pool forks: every pool
    child (including one replacing a child that died) starts with it loaded instead of spending seconds
    importing torch inside its first task's time limit. Importing starts no torch threads, so forking
    after it is safe."""
    import models_core.audit  # noqa: F401
    import models_core.encoder.artifacts  # noqa: F401
    import sklearn.metrics  # noqa: F401


@worker_ready.connect
def _note_ready(**_) -> None:
    """Remember when this worker started taking tasks; warn when SIGTERM would not bound its shutdown."""
    global _ready_at
    from django.conf import settings
    from django.utils import timezone

    _ready_at = timezone.now()
    if settings.CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT > 0 and os.environ.get("REMAP_SIGTERM") != "SIGQUIT":
        log.warning("REMAP_SIGTERM=SIGQUIT is not set in this worker's environment: SIGTERM (a deploy, a "
                    "scale-down) will wait for running tasks however long they take instead of handing them "
                    "back after CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT_S=%s", settings.CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT)


@worker_shutting_down.connect
def _hand_back_on_shutdown(sender=None, how=None, **_) -> None:
    """A cold shutdown (SIGTERM with REMAP_SIGTERM=SIGQUIT, SIGQUIT, a second Ctrl+C) has just cancelled the
    tasks still running after the soft-shutdown grace period; Celery restores their messages to the queue
    when it closes the broker connection, right after this. Mark their jobs handed back first, so the next
    worker's attempt is not charged toward JOB_MAX_ATTEMPTS (governance.jobs.services.job_hand_back).

    Only the tasks this worker cancelled (governance.jobs.tasks.JobRequest notes each: task id and pool process),
    taken off the list, so that a second signal (it cancels, then the first one's handler runs this again)
    counts each once; nothing cancelled (an idle worker, a warm shutdown that lets every task finish): no
    database work at all.

    Runs in the main process, inside Celery's signal handler, which may have interrupted whatever the main
    thread was doing (with the solo pool: a task, maybe mid-transaction). So the database work runs in a
    short-lived thread of its own: Django's connections are per thread, it opens its own and closes it, and
    the main thread's connection is neither used nor closed. A failure must not stop the shutdown (the
    messages come back all the same, only the interrupted attempt then counts), so it is logged, not raised,
    and the wait is bounded: a database that does not answer within _HAND_BACK_TIMEOUT_S is left behind (the
    thread is a daemon) rather than holding the shutdown past the orchestrator's kill deadline.
    """
    if how != "Cold" or _ready_at is None:
        return
    from governance.jobs.tasks import cancelled_requests

    deliveries = list(cancelled_requests)
    del cancelled_requests[:len(deliveries)]
    if not deliveries:
        return
    thread = threading.Thread(target=_hand_back, args=(sender, deliveries, _ready_at), name="hand-back",
                              daemon=True)
    thread.start()
    thread.join(_HAND_BACK_TIMEOUT_S)
    if thread.is_alive():
        log.error("worker %s: marking its cancelled jobs handed back took over %s s; shutting down without it",
                  sender, _HAND_BACK_TIMEOUT_S)


def _hand_back(worker_name: str, deliveries: list[tuple[str, str]], since) -> None:
    from django.db import connection

    from governance.jobs.services import job_hand_back

    try:
        job_hand_back(deliveries=deliveries, since=since)
    except Exception:  # noqa: BLE001 - see _hand_back_on_shutdown
        log.exception("worker %s: could not mark its cancelled jobs handed back", worker_name)
    finally:
        connection.close()  # this thread's own connection (Django's are per thread), not the main thread's
