"""Celery tasks: each takes a job id, and a service loads the rows, runs models_core and stores.

Names are explicit and stable (they are the routing keys in CELERY_TASK_ROUTES). Job state lives in
PostgreSQL rows, never in the result backend; every task is safe to repeat (the services refuse a
finished job).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="governance.train_model_version", acks_late=True, reject_on_worker_lost=True,
             job_failed_handler="governance.registry.services.model_version_job_failed")
def train_model_version(job_id: int) -> None:
    from governance.registry.services import model_version_train

    model_version_train(job_id=job_id)


@shared_task(name="governance.run_audit", acks_late=True, reject_on_worker_lost=True,
             job_failed_handler="governance.audits.services.audit_job_failed")
def run_audit(job_id: int) -> None:
    from governance.audits.services import audit_run

    audit_run(job_id=job_id)


@shared_task(name="governance.mitigate_model_version", acks_late=True, reject_on_worker_lost=True,
             job_failed_handler="governance.registry.mitigation.model_version_mitigation_job_failed")
def mitigate_model_version(job_id: int) -> None:
    from governance.registry.mitigation import model_version_mitigation_run

    model_version_mitigation_run(job_id=job_id)


@shared_task(name="governance.build_datasheet", acks_late=True, reject_on_worker_lost=True)
def build_datasheet(job_id: int) -> None:
    from governance.datasets.services import datasheet_build

    datasheet_build(job_id=job_id)


@shared_task(name="governance.compute_dataset_drift", acks_late=True, reject_on_worker_lost=True)
def compute_dataset_drift(job_id: int) -> None:
    from governance.datasets.services import dataset_drift_compute

    dataset_drift_compute(job_id=job_id)


@shared_task(name="governance.requeue_stale_jobs")
def requeue_stale_jobs() -> dict:
    """Periodic (django-celery-beat, every JOB_SWEEP_INTERVAL_S): re-send jobs stranded by dead workers."""
    from governance.jobs.services import job_requeue_stale

    return job_requeue_stale()


@shared_task(name="governance.audit_log_checkpoint")
def audit_log_checkpoint() -> int | None:
    """Periodic (django-celery-beat, every AUDIT_CHECKPOINT_INTERVAL_S): sign the audit log's head."""
    from governance.auditlog.services import audit_log_checkpoint_periodic

    checkpoint = audit_log_checkpoint_periodic()
    return checkpoint["seq"] if checkpoint else None


@shared_task(name="governance.deliver_webhook", bind=True, max_retries=None)
def deliver_webhook(self, *, delivery_id: int) -> None:
    """One attempt at a webhook delivery (a row owning its state); the service says when to try again."""
    from governance.approvals.notifications import webhook_delivery_attempt

    retry_in = webhook_delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="governance.pii_scan", acks_late=True, reject_on_worker_lost=True)
def pii_scan(job_id: int) -> None:
    from governance.datasets.pii_scans import pii_scan_run

    pii_scan_run(job_id=job_id)


@shared_task(name="governance.retention_purge")
def retention_purge() -> int:
    """Periodic (django-celery-beat, daily; migration compliance 0003): purge records past retention."""
    from governance.compliance.retention import retention_purge as purge

    return purge().pk
