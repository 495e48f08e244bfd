"""The Celery app. Reads Django settings under the CELERY_ prefix; tasks live in workers.tasks."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings.demo")

# Every task gets late acks, requeue on a lost worker, retries with backoff and failure recording.
app = Celery("governance", task_cls="workers.job_task:JobTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
