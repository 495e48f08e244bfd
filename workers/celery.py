"""The Celery app. Reads Django settings under the CELERY_ prefix; tasks live in workers.tasks."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import worker_init, worker_ready, worker_shutting_down

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.demo")

# Every task gets late acks, requeue on a lost worker, retries with backoff and failure recording.
app = Celery("governance", task_cls="workers.job_task:JobTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])

log = logging.getLogger(__name__)
_ready_at = None  # when this worker (its main process) became ready: see _hand_back_on_shutdown


@worker_init.connect
def _preload_core(**_) -> None:
    """Import the inference stack once in the worker's main process, before the pool forks: every pool
    child (including one replacing a child that died) starts with it loaded instead of spending seconds
    importing torch inside its first task's time limit. Importing starts no torch threads, so forking
    after it is safe."""
    import models_core.artifacts  # noqa: F401
    import models_core.fairness  # noqa: F401
    import models_core.inference  # noqa: F401
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

    Runs in the main process, inside Celery's signal handler; a failure here must not stop the shutdown (the
    messages come back all the same, only the interrupted attempt then counts), so it is logged, not raised.
    A warm shutdown (`how="Warm"`) lets every task finish: nothing to hand back.
    """
    if how != "Cold" or _ready_at is None:
        return
    from django.db import connection

    from governance.jobs.services import job_hand_back

    try:
        job_hand_back(worker_name=sender, since=_ready_at)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("worker %s: could not mark its cancelled jobs handed back", sender)
    finally:
        connection.close()
