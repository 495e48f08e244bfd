"""The job-kind registry: every app's kinds are registered as Django starts, each with its task on the Celery
app (same names as the routing keys), and a kind cannot be registered twice differently."""

from __future__ import annotations

import pytest
from django.conf import settings

from governance.jobs.celery_app import app
from governance.jobs.kinds import JobKind, job_kind_get, job_kind_register, job_kinds
from governance.jobs.tasks import JobTask

KINDS = {"audit": "governance.run_audit", "training": "governance.train_model_version",
         "mitigation": "governance.mitigate_model_version", "datasheet": "governance.build_datasheet",
         "drift": "governance.compute_dataset_drift", "pii_scan": "governance.pii_scan",
         "webhook": "governance.deliver_webhook",
         "dataset_ingest": "governance.ingest_dataset_upload", "monitoring": "governance.run_monitoring"}


def test_each_app_registers_its_kinds_and_each_kind_has_its_task():
    assert {k.kind: k.task_name for k in job_kinds()} == KINDS
    for kind in job_kinds():
        task = app.tasks[kind.task_name]
        assert isinstance(task, JobTask) and task.job_kind is kind and task._job_id((7,), {}) == 7
    assert {"governance.run_audit", "governance.deliver_webhook"} <= set(settings.CELERY_TASK_ROUTES)


def test_a_failed_job_is_recorded_by_its_kinds_handler():
    from governance.audits.services import audit_job_failed
    from governance.registry.services import model_version_job_failed

    assert job_kind_get("audit").failed is audit_job_failed
    assert job_kind_get("training").failed is model_version_job_failed
    assert job_kind_get("datasheet").failed is None  # the datasheet has no status of its own


def test_a_kind_registered_again_differently_is_refused():
    audit = job_kind_get("audit")
    job_kind_register(audit)  # the same registration again (a second ready()) is harmless
    with pytest.raises(ValueError, match="registered already"):
        job_kind_register(JobKind(kind="audit", task_name=audit.task_name, subject=audit.subject, run=print))
    with pytest.raises(ValueError, match="already runs job kind 'audit'"):
        job_kind_register(JobKind(kind="other", task_name=audit.task_name, subject=audit.subject, run=print))
