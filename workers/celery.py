"""The Celery app. Reads Django settings under the CELERY_ prefix; tasks live in workers.tasks."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.demo")

# Every task gets late acks, requeue on a lost worker, retries with backoff and failure recording.
app = Celery("governance", task_cls="workers.job_task:JobTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])


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
