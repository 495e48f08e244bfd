"""The Celery app object: the worker (workers/celery.py) runs it; jobs send and run their tasks through it.

It sits in jobs, below every app, so that enqueueing a job never imports workers/. It reads Django settings
under the CELERY_ prefix. Its tasks: one per job kind, defined by the job-kind registry
(governance.jobs.kinds), and the periodic ones (workers.tasks); each names JobTask (governance.jobs.tasks)
as its base class.
"""

from __future__ import annotations

from celery import Celery

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
