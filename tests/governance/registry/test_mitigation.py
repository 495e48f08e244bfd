"""Threshold mitigation: a child version with lineage, its own artifact carrying the thresholds, applied
when the child is audited, and a smaller demographic parity gap than its parent on held-out data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from governance.audits.models import AuditResult, Prediction
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.errors import ValidationFailed
from governance.jobs.models import Job
from governance.registry.choices import VersionStatus
from governance.registry.mitigation import model_version_mitigate
from governance.registry.models import ModelVersion
from models_core.fairness.mitigation import apply_thresholds
from tests.factories import upload_hiring
from tests.governance.slice import trained_version

pytestmark = pytest.mark.django_db(transaction=False)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _audit(engineer, inline_jobs, version, data):
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=data, explain_rows=0,
                              overlap_justification="Compared with the mitigated child on the same rows.")
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    return audit


def test_mitigated_child_carries_thresholds_and_narrows_the_gap(engineer, inline_jobs):
    parent, _ = trained_version(engineer, inline_jobs, n_rows=600, epochs=3)
    validation = upload_hiring(engineer, n_rows=600, seed=11)
    holdout = upload_hiring(engineer, n_rows=600, seed=8)
    with inline_jobs():
        child = model_version_mitigate(actor=engineer, model_version=parent, dataset_version=validation,
                                       constraint="demographic_parity", attribute="gender")
    child.refresh_from_db()
    assert child.status == VersionStatus.READY, child.error
    assert child.parent_id == parent.pk and child.model_id == parent.model_id
    assert child.version == parent.version + 1
    assert child.lineage_note == "threshold mitigation: demographic_parity on gender"
    assert child.artifact_digest and child.artifact_digest != parent.artifact_digest
    child_dir, parent_dir = Path(child.artifact_path), Path(parent.artifact_path)
    assert _sha(child_dir / "model.safetensors") == _sha(parent_dir / "model.safetensors")
    metadata = json.loads((child_dir / "metadata.json").read_text())
    thresholds = metadata["mitigation"]["thresholds"]
    assert thresholds["constraints"] == "demographic_parity" and set(thresholds["groups"]) == {"female", "male"}
    assert metadata["mitigation"]["parent_artifact_digest"] == parent.artifact_digest
    assert metadata["mitigation"]["validation_rows"].startswith("all rows")
    assert child.metrics["n_validation"] == 600
    assert child.metrics["val_dp_difference"] < child.metrics["val_dp_difference_before"]
    job = Job.objects.get(subject_type="registry.modelversion", subject_id=child.pk)
    assert job.kind == "mitigation" and job.status == "complete" and job.task_name == "governance.mitigate_model_version"
    actions = set(AuditLogEntry.objects.filter(object_type="registry.modelversion", object_id=str(child.pk))
                  .values_list("action", flat=True))
    assert actions == {"model_version.mitigation_requested", "model_version.mitigated"}

    before = _audit(engineer, inline_jobs, parent, holdout)
    after = _audit(engineer, inline_jobs, child, holdout)
    assert after.artifact_digest == child.artifact_digest

    # Same probabilities, different decisions: exactly the thresholds applied to the stored scores.
    rows_before = list(Prediction.objects.filter(audit=before).order_by("record__row_index"))
    rows_after = list(Prediction.objects.filter(audit=after).select_related("record").order_by("record__row_index"))
    probs_before = np.array([p.probabilities for p in rows_before])
    probs_after = np.array([p.probabilities for p in rows_after])
    np.testing.assert_allclose(probs_after, probs_before, atol=1e-6)
    positive = parent.label_names.index(holdout.positive_label)
    expected = apply_thresholds(probs_after[:, positive], [p.record.attributes["gender"] for p in rows_after],
                                thresholds, seed=metadata["mitigation"]["seed"])
    names = parent.label_names
    assert [names.index(p.predicted_label) == positive for p in rows_after] == [bool(x) for x in expected]
    assert any(a.predicted_label != b.predicted_label for a, b in zip(rows_after, rows_before))

    gap = {}
    for audit in (before, after):
        fairness = AuditResult.objects.get(audit=audit, kind="fairness").data
        gap[audit.pk] = fairness["groupings"]["gender"]["disparities"]["demographic_parity_difference"]
    assert gap[before.pk]["ci"][0] > 0  # the injected disparity, found with an interval excluding zero
    assert gap[after.pk]["ci"][1] < gap[before.pk]["ci"][1]
    assert gap[after.pk]["value"] < gap[before.pk]["value"]
    decision = AuditResult.objects.get(audit=after, kind="metrics").data["decision"]
    assert decision == {"rule": "group thresholds", "constraint": "demographic_parity", "attribute": "gender",
                        "seed": 0}

    # A version that already decides with thresholds is not mitigated again.
    with pytest.raises(ValidationFailed) as err:
        model_version_mitigate(actor=engineer, model_version=child, dataset_version=validation,
                               constraint="equalized_odds", attribute="gender")
    assert err.value.field == "model_version"


def test_mitigation_refuses_bad_inputs_with_the_field_at_fault(engineer, inline_jobs):
    parent, data = trained_version(engineer, inline_jobs, n_rows=120, epochs=1)
    count = ModelVersion.objects.count()
    cases = [({"constraint": "demographic_parity", "attribute": "religion"}, "attribute"),
             ({"constraint": "parity-ish", "attribute": "gender"}, "constraint")]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as err:
            model_version_mitigate(actor=engineer, model_version=parent, dataset_version=data, **kwargs)
        assert err.value.field == field
    ModelVersion.objects.filter(pk=parent.pk).update(status=VersionStatus.TRAINING)
    parent.refresh_from_db()
    with pytest.raises(ValidationFailed) as err:
        model_version_mitigate(actor=engineer, model_version=parent, dataset_version=data,
                               constraint="demographic_parity", attribute="gender")
    assert err.value.field == "model_version" and "ready" in err.value.message
    ModelVersion.objects.filter(pk=parent.pk).update(status=VersionStatus.READY, label_names=["a", "b", "c"])
    parent.refresh_from_db()
    with pytest.raises(ValidationFailed) as err:
        model_version_mitigate(actor=engineer, model_version=parent, dataset_version=data,
                               constraint="demographic_parity", attribute="gender")
    assert err.value.field == "model_version" and "binary" in err.value.message
    assert ModelVersion.objects.count() == count


def test_mitigation_on_the_training_data_uses_its_held_out_split(engineer, inline_jobs):
    parent, data = trained_version(engineer, inline_jobs, n_rows=200, epochs=1)
    with inline_jobs():
        child = model_version_mitigate(actor=engineer, model_version=parent, dataset_version=data,
                                       constraint="equalized_odds", attribute="gender")
    child.refresh_from_db()
    assert child.status == VersionStatus.READY, child.error
    assert child.metrics["n_validation"] == 40  # the trainer's 20 % validation split of 200 rows
    assert child.training_config["mitigation"]["validation_rows"].startswith("held-out validation split")
    assert child.lineage_note == "threshold mitigation: equalized_odds on gender"
    # A repeated delivery of the finished job changes nothing.
    from governance.registry.mitigation import model_version_mitigation_run

    job = Job.objects.get(subject_type="registry.modelversion", subject_id=child.pk)
    entries = AuditLogEntry.objects.count()
    model_version_mitigation_run(job_id=job.pk)
    assert AuditLogEntry.objects.count() == entries
    assert ModelVersion.objects.get(pk=child.pk).artifact_digest == child.artifact_digest
