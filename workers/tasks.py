"""The periodic Celery tasks (django-celery-beat sends them by name). The job tasks are not here: each app
registers its job kinds in its apps.py (governance.jobs.kinds), which defines their tasks on the same app.

Names are explicit and stable (they are the routing keys in CELERY_TASK_ROUTES). Every task has JobTask's
late acknowledgement and retries of transient errors; state lives in PostgreSQL rows, never in the result
backend.
"""

from __future__ import annotations

import logging

from governance.jobs.celery_app import app
from governance.jobs.tasks import JobTask

log = logging.getLogger(__name__)


@app.task(name="governance.requeue_stale_jobs", base=JobTask)
def requeue_stale_jobs() -> dict:
    """Periodic (django-celery-beat, every JOB_SWEEP_INTERVAL_S): re-send jobs stranded by dead workers."""
    from governance.jobs.services import job_requeue_stale

    return job_requeue_stale()


@app.task(name="governance.audit_log_checkpoint", base=JobTask)
def audit_log_checkpoint() -> int | None:
    """Periodic (django-celery-beat, every AUDIT_CHECKPOINT_INTERVAL_S): sign the audit log's head."""
    from governance.auditlog.services import AuditLogVerificationFailed, audit_log_checkpoint_periodic

    try:
        checkpoint = audit_log_checkpoint_periodic()
    except AuditLogVerificationFailed as exc:  # recorded and announced (webhook) by the service; nothing signed
        log.error("audit-log checkpoint refused, the log does not verify: %s", " | ".join(exc.problems))
        raise
    return checkpoint["seq"] if checkpoint else None


@app.task(name="governance.retention_purge", base=JobTask)
def retention_purge() -> int:
    """Periodic (django-celery-beat, daily; migration compliance 0003): purge records past retention."""
    from governance.compliance.retention import retention_purge as purge

    return purge().pk


@app.task(name="governance.flush_decisions", base=JobTask)
def flush_decisions() -> int:
    """Periodic (every 10 s; migration serving 0002): write the decision log's queue to PostgreSQL, and the
    batches of flushers that died. The serving process flushes every SERVING_FLUSH_INTERVAL_S itself; this
    one covers a serving process that is gone."""
    from governance.serving.decision_queue import decisions_flush_all

    return decisions_flush_all()


@app.task(name="governance.monitoring_schedule", base=JobTask)
def monitoring_schedule() -> list[int]:
    """Periodic (hourly): queue the monitoring of every deployment's last complete day and week."""
    from governance.serving.monitoring import monitoring_schedule as schedule

    return schedule()


@app.task(name="governance.decisions_retention", base=JobTask)
def decisions_retention() -> dict:
    """Periodic (daily): delete decisions past their environment's retention (serving policies)."""
    from governance.serving.services import decisions_retention_purge

    return decisions_retention_purge()
