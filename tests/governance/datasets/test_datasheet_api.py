"""The datasheet, drift and correction endpoints; bad input is a 400 naming the field."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import pytest

from governance.auditlog.chain import canonical_json
from governance.auditlog.models import AuditLogEntry
from governance.datasets.models import DatasetDrift, DatasetRecord, DatasetVersion
from governance.jobs.models import Job
from governance.datasets.selectors import datasheet_get
from tests.factories import make_user, upload_hiring

pytestmark = pytest.mark.django_db


def _psi(a: list[str], b: list[str]) -> float:
    """The population stability index written out, with the same 1e-4 floor on empty shares."""
    ca, cb = Counter(a), Counter(b)
    total = 0.0
    for cat in set(ca) | set(cb):
        p, q = max(ca[cat] / len(a), 1e-4), max(cb[cat] / len(b), 1e-4)
        total += (q - p) * math.log(q / p)
    return total


def test_datasheet_endpoint_returns_the_stored_sheet_or_a_404_with_the_job(api_client, engineer, inline_jobs):
    api_client.force_authenticate(make_user("auditor"))
    pending = upload_hiring(engineer, n_rows=60)
    response = api_client.get(f"/api/dataset-versions/{pending.pk}/datasheet/")
    assert response.status_code == 404 and response.json()["job"]["status"] == "queued"
    with inline_jobs():
        version = upload_hiring(engineer, n_rows=200)
    response = api_client.get(f"/api/dataset-versions/{version.pk}/datasheet/")
    assert response.status_code == 200
    body = response.json()
    stored = datasheet_get(version)
    assert body["sha256"] == stored.sha256 and body["data"] == stored.data and body["version"] == version.pk
    assert api_client.get("/api/dataset-versions/999999/datasheet/").status_code == 404


def test_drift_endpoint_matches_a_direct_psi_and_reports_new_groups(api_client, engineer, inline_jobs):
    a = upload_hiring(engineer, n_rows=300)
    b = upload_hiring(engineer, n_rows=200, seed=99)
    # A new group in B: some rows get an age band A never had.
    moved = list(DatasetRecord.objects.filter(version=b).order_by("row_index")[:20])
    for record in moved:
        record.attributes = {**record.attributes, "age_band": "65+"}
    DatasetRecord.objects.bulk_update(moved, ["attributes"])
    api_client.force_authenticate(engineer)
    with inline_jobs():  # the first request queues the worker's computation and answers 202 with its job
        pending = api_client.get(f"/api/dataset-versions/{b.pk}/drift/", {"against": a.pk})
    assert pending.status_code == 202 and pending.json()["job"]["kind"] == "drift"
    response = api_client.get(f"/api/dataset-versions/{b.pk}/drift/", {"against": a.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["a"], body["b"]) == (a.pk, b.pk)
    drift = body["drift"]
    assert body["sha256"] == hashlib.sha256(canonical_json(drift).encode()).hexdigest()
    stored = DatasetDrift.objects.get(version=b, against=a)
    assert Job.objects.filter(kind="drift", subject_id=stored.pk).count() == 1
    assert AuditLogEntry.objects.filter(action="dataset_drift.computed", object_id=str(stored.pk)).count() == 1
    ages = {v.pk: list(DatasetRecord.objects.filter(version=v).order_by("row_index")
                       .values_list("attributes__age_band", flat=True)) for v in (a, b)}
    assert drift["columns"]["age_band"]["psi"] == pytest.approx(_psi(ages[a.pk], ages[b.pk]), rel=1e-12)
    labels = {v.pk: list(DatasetRecord.objects.filter(version=v).values_list("label", flat=True)) for v in (a, b)}
    assert drift["label_shift"]["psi"] == pytest.approx(_psi(labels[a.pk], labels[b.pk]), rel=1e-12)
    assert {"slice": "age_band", "group": "65+"} in drift["new_groups"]
    assert drift["rows"] == {"a": 300, "b": 200}


@pytest.mark.parametrize("against, fragment", [
    ("self", "two different versions"),
    ("999999", "does not exist"),
    ("abc", "Incorrect type"),
    (None, "required"),
])
def test_drift_bad_input_is_a_400_on_the_against_field(api_client, engineer, against, fragment):
    version = upload_hiring(engineer, n_rows=40)
    api_client.force_authenticate(engineer)
    params = {} if against is None else {"against": version.pk if against == "self" else against}
    response = api_client.get(f"/api/dataset-versions/{version.pk}/drift/", params)
    assert response.status_code == 400
    assert fragment in " ".join(response.json()["against"])


def test_drift_between_versions_with_different_columns_is_a_400(api_client, engineer):
    a = upload_hiring(engineer, n_rows=40)
    b = upload_hiring(engineer, n_rows=40)
    DatasetVersion.objects.filter(pk=b.pk).update(sensitive_attributes=["gender"])
    api_client.force_authenticate(engineer)
    response = api_client.get(f"/api/dataset-versions/{b.pk}/drift/", {"against": a.pk})
    assert response.status_code == 400
    assert "different columns: sensitive attributes 'age_band, gender' vs 'gender'" in response.json()["against"][0]


def test_reweigh_and_resample_endpoints_create_versions_with_datasheet_jobs(api_client, engineer, inline_jobs):
    source = upload_hiring(engineer, n_rows=200)
    api_client.force_authenticate(engineer)
    with inline_jobs():
        response = api_client.post(f"/api/dataset-versions/{source.pk}/reweigh/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["parent"] == source.pk and body["datasheet_job"] is not None
    gaps = [g["positive_rate_gap"]["estimate"] for s in datasheet_get(DatasetVersion.objects.get(pk=body["id"]))
            .data["slices"].values() for g in s["groups"].values()]
    assert max(abs(x) for x in gaps) < 1e-9

    response = api_client.post(f"/api/dataset-versions/{source.pk}/resample/", {"seed": 4}, format="json")
    assert response.status_code == 201 and "seed 4" in response.json()["note"]
    for bad in ({"seed": -1}, {"seed": "x"}, {"seed": 2**40}):
        response = api_client.post(f"/api/dataset-versions/{source.pk}/resample/", bad, format="json")
        assert response.status_code == 400 and "seed" in response.json()
    response = api_client.post(f"/api/dataset-versions/{body['id']}/reweigh/")
    assert response.status_code == 400 and "already carries row weights" in response.json()["non_field_errors"][0]
    assert api_client.post("/api/dataset-versions/999999/reweigh/").status_code == 404


def test_corrections_need_the_engineer_role(api_client, engineer):
    source = upload_hiring(engineer, n_rows=40)
    api_client.force_authenticate(make_user("reviewer"))
    assert api_client.post(f"/api/dataset-versions/{source.pk}/reweigh/").status_code == 403
    assert api_client.post(f"/api/dataset-versions/{source.pk}/resample/", {}).status_code == 403
    assert not DatasetVersion.objects.filter(parent=source).exists()


def test_training_on_a_reweighed_version_passes_its_weights(engineer, inline_jobs, monkeypatch):
    import models_core.training.trainer
    from governance.datasets.services import dataset_version_reweigh
    from governance.registry.services import model_version_request_training

    real = models_core.training.trainer.train_classifier
    seen = {}

    def spy(texts, labels, **kwargs):
        seen["weights"] = kwargs.get("sample_weights")
        return real(texts, labels, **kwargs)

    monkeypatch.setattr(models_core.training.trainer, "train_classifier", spy)
    source = upload_hiring(engineer, n_rows=120)
    reweighed = dataset_version_reweigh(actor=engineer, version=source)
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="weighted", dataset_version=reweighed,
                                                 epochs=1)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    stored = list(DatasetRecord.objects.filter(version=reweighed).order_by("row_index").values_list("weight", flat=True))
    assert seen["weights"] == stored and len(set(stored)) > 1


def test_drift_is_queued_once_per_pair_and_a_repeated_job_changes_nothing(engineer, inline_jobs):
    from governance.datasets.services import dataset_drift_request
    from governance.jobs.celery_app import app

    compute_dataset_drift = app.tasks["governance.compute_dataset_drift"]

    a, b = upload_hiring(engineer, n_rows=60), upload_hiring(engineer, n_rows=50, seed=3)
    drift, job = dataset_drift_request(actor=engineer, version=b, against=a)
    again, same_job = dataset_drift_request(actor=engineer, version=b, against=a)
    assert again.pk == drift.pk and same_job.pk == job.pk and drift.data is None
    compute_dataset_drift.apply(args=[job.pk])
    drift.refresh_from_db()
    assert drift.data["rows"] == {"a": 60, "b": 50} and drift.computed_at is not None
    sha = drift.sha256
    compute_dataset_drift.apply(args=[job.pk])
    drift.refresh_from_db()
    assert drift.sha256 == sha
    stored, no_job = dataset_drift_request(actor=engineer, version=b, against=a)
    assert no_job is None and stored.data == drift.data
    # The reverse pair is a different comparison (B is the reference now).
    reverse, reverse_job = dataset_drift_request(actor=engineer, version=a, against=b)
    assert reverse.pk != drift.pk and reverse_job is not None
