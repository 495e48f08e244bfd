"""Celery tasks: each takes a job id, and a service loads the rows, runs models_core and stores.

Names are explicit and stable (they are the routing keys in CELERY_TASK_ROUTES). Job state lives in
PostgreSQL rows, never in the result backend; every task is safe to repeat (the services refuse a
finished job).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.train_model_version", acks_late=True, reject_on_worker_lost=True)
def train_model_version(job_id: int) -> None:
    from governance.registry.services import model_version_train

    model_version_train(job_id=job_id)


@shared_task(name="governance.run_audit", acks_late=True, reject_on_worker_lost=True)
def run_audit(job_id: int) -> None:
    from governance.audits.services import audit_run

    audit_run(job_id=job_id)


@shared_task(name="governance.build_datasheet", acks_late=True, reject_on_worker_lost=True)
def build_datasheet(job_id: int) -> None:
    from governance.datasets.services import datasheet_build

    datasheet_build(job_id=job_id)
