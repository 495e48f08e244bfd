from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, selection_rate
from sklearn.metrics import accuracy_score, f1_score

from governance.audits.models import Audit, AuditResult, Prediction
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.errors import InvalidState
from governance.jobs.models import Job
from governance.registry.choices import VersionStatus
from governance.registry.models import ModelVersion
from tests.governance.slice import completed_audit, trained_version

pytestmark = pytest.mark.django_db(transaction=False)


def test_training_stores_artifact_digest_lineage_metrics_and_compute(engineer, inline_jobs):
    version, data = trained_version(engineer, inline_jobs)
    assert version.status == VersionStatus.READY, version.error
    assert len(version.artifact_digest) == 64 and version.dataset_version_id == data.pk
    assert {"val_accuracy", "val_f1", "baseline_accuracy"} <= set(version.metrics)
    assert {"wall_s", "cpu_s", "flops", "energy_wh", "device"} <= set(version.compute)
    job = Job.objects.get(subject_type="registry.modelversion", subject_id=version.pk)
    assert job.status == "complete" and job.attempts == 1 and job.percent == 100
    actions = list(AuditLogEntry.objects.filter(object_id=str(version.pk), object_type="registry.modelversion")
                   .values_list("action", flat=True))
    assert set(actions) == {"model_version.training_requested", "model_version.trained"}


def test_audit_results_match_fairlearn_on_the_stored_predictions(engineer, inline_jobs):
    audit = completed_audit(engineer, inline_jobs)
    assert audit.status == "complete", audit.error
    assert len(audit.result_hash) == 64
    preds = list(Prediction.objects.filter(audit=audit).select_related("record").order_by("record__row_index"))
    assert len(preds) == 120
    names = audit.model_version.label_names
    y_true = np.array([names.index(p.record.label) for p in preds])
    y_pred = np.array([names.index(p.predicted_label) for p in preds])
    gender = [p.record.attributes["gender"] for p in preds]
    results = {r.kind: r.data for r in AuditResult.objects.filter(audit=audit)}
    assert results["metrics"]["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert results["metrics"]["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro"), abs=1e-12)
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "accuracy": accuracy_score},
                        y_true=y_true, y_pred=y_pred, sensitive_features=gender)
    groups = results["fairness"]["groupings"]["gender"]["groups"]
    for group in ("female", "male"):
        assert groups[group]["metrics"]["selection_rate"]["value"] == pytest.approx(
            frame.by_group.loc[group, "selection_rate"], abs=1e-9)
        assert groups[group]["metrics"]["accuracy"]["value"] == pytest.approx(
            frame.by_group.loc[group, "accuracy"], abs=1e-9)
    assert "gender × age_band" in results["fairness"]["groupings"]


def test_audit_is_not_repeated_by_a_second_delivery(engineer, inline_jobs):
    from governance.audits.services import audit_run

    audit = completed_audit(engineer, inline_jobs)
    job = Job.objects.get(subject_type="audits.audit", subject_id=audit.pk)
    count = AuditLogEntry.objects.count()
    audit_run(job_id=job.pk)
    assert Prediction.objects.filter(audit=audit).count() == 120
    assert AuditLogEntry.objects.count() == count
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_a_failing_audit_is_marked_failed_with_the_error(engineer, inline_jobs):
    version, _ = trained_version(engineer, inline_jobs)
    ModelVersion.objects.filter(pk=version.pk).update(artifact_digest="0" * 64)
    version.refresh_from_db()
    from tests.factories import upload_hiring

    holdout = upload_hiring(engineer, n_rows=40, seed=5)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
    audit.refresh_from_db()
    assert audit.status == "failed" and "digest" in audit.error.lower()
    assert Job.objects.get(subject_type="audits.audit", subject_id=audit.pk).status == "failed"
    assert AuditLogEntry.objects.filter(action="audit.failed", object_id=str(audit.pk)).exists()


def test_only_ready_versions_can_be_audited(engineer, inline_jobs):
    version, data = trained_version(engineer, inline_jobs)
    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.TRAINING)
    version.refresh_from_db()
    with pytest.raises(InvalidState):
        audit_request(actor=engineer, model_version=version, dataset_version=data)
    assert not Audit.objects.exists()
