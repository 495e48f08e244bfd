"""Splitting a dataset version into governed train / validation / holdout children (page and API), the
suggestions of the training and audit forms, and the refusal to audit on rows a model was trained on."""

from __future__ import annotations

import csv
import io

import pytest

from governance.audits.models import Audit
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.datasets.models import DatasetRecord, DatasetSplit, DatasetVersion
from governance.datasets.services import dataset_upload
from governance.datasets.splits import dataset_version_split, rows_in_common, split_part
from governance.errors import ValidationFailed
from governance.jobs.models import Job
from governance.roles import REVIEWER
from tests.factories import PASSWORD, make_project, make_user, upload_hiring
from tests.governance.slice import trained_version

pytestmark = pytest.mark.django_db(transaction=False)


def _people_csv(n_people=150) -> bytes:
    """Two or three rows per person (notes written on different days), so a split by row would leak."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["person", "note", "gender", "outcome"])
    for p in range(n_people):
        gender = "female" if p % 3 == 0 else "male"
        outcome = "approve" if p % 4 in (0, 1) else "decline"
        for day in range(2 + p % 2):
            writer.writerow([f"P{p:04d}", f"Day {day}: applicant {p} {gender} note {outcome}", gender, outcome])
    return out.getvalue().encode()


def _upload_people(engineer):
    return dataset_upload(actor=engineer, name="loan-notes", raw=_people_csv(), file_name="notes.csv",
                          text_column="note", label_column="outcome", subject_column="person",
                          sensitive_attributes=["gender"])


def test_split_makes_three_governed_children_by_subject_and_stratified(engineer):
    source = _upload_people(engineer)
    split = dataset_version_split(actor=engineer, version=source, seed=3)
    parts = {p.split_role: p for p in split.parts.all()}
    assert set(parts) == {"train", "validation", "holdout"}
    assert sum(p.row_count for p in parts.values()) == source.row_count
    subjects = {role: set(DatasetRecord.objects.filter(version=p).values_list("subject_id", flat=True))
                for role, p in parts.items()}
    assert not subjects["train"] & subjects["holdout"] and not subjects["train"] & subjects["validation"]
    assert not subjects["validation"] & subjects["holdout"]
    for role, share in (("train", 0.7), ("validation", 0.15), ("holdout", 0.15)):
        part = parts[role]
        assert abs(part.row_count / source.row_count - share) < 0.03
        assert part.parent_id == source.pk and part.label_names == source.label_names
        # stratified: the approval rate and the share of women stay those of the whole (within 5 points)
        rows = list(DatasetRecord.objects.filter(version=part).values_list("label", "attributes"))
        rate = sum(label == "approve" for label, _ in rows) / len(rows)
        women = sum(a["gender"] == "female" for _, a in rows) / len(rows)
        assert abs(rate - 0.5) < 0.05 and abs(women - 1 / 3) < 0.05, role
        # each part is a version with its own datasheet job and its own log entry
        assert Job.objects.filter(kind="datasheet", subject_id=part.pk).exists()
        assert AuditLogEntry.objects.filter(action="dataset_version.created", object_id=str(part.pk)).exists()
    entry = AuditLogEntry.objects.get(action="dataset_version.split", object_id=str(source.pk))
    assert entry.payload["assignment_sha256"] == split.sha256 and entry.payload["seed"] == 3


def test_same_seed_reproduces_the_split_and_another_seed_does_not(engineer):
    source = _upload_people(engineer)
    first = dataset_version_split(actor=engineer, version=source, seed=11)
    again = dataset_version_split(actor=engineer, version=source, seed=11)
    other = dataset_version_split(actor=engineer, version=source, seed=12)
    assert first.sha256 == again.sha256 != other.sha256
    assert split_part(version=first.parts.get(split_role="train"), role="train").sha256 == \
        again.parts.get(split_role="train").sha256


def test_api_splits_with_given_shares_and_refuses_bad_ones_at_the_field(api_client, engineer):
    source = _upload_people(engineer)
    api_client.force_authenticate(engineer)
    url = f"/api/dataset-versions/{source.pk}/split/"
    response = api_client.post(url, {"shares": {"train": 0.8, "holdout": 0.2}, "seed": 5}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body["parts"]) == {"train", "holdout"}
    assert body["parts"]["holdout"]["split_role"] == "holdout" and body["parts"]["holdout"]["parent"] == source.pk
    before = DatasetVersion.objects.count()
    for shares, field in (({"train": 0.8, "holdout": 0.3}, "shares"), ({"train": 0.5, "test": 0.5}, "shares"),
                          ({"train": 1.0}, "shares")):
        bad = api_client.post(url, {"shares": shares}, format="json")
        assert bad.status_code == 400 and field in bad.json(), bad.content
    assert api_client.post(url, {"seed": -1}, format="json").status_code == 400
    assert DatasetVersion.objects.count() == before and DatasetSplit.objects.count() == 1  # nothing half-written


def test_too_few_subjects_for_the_shares_is_a_400_and_writes_nothing(api_client, engineer):
    source = upload_hiring(engineer, n_rows=12)
    api_client.force_authenticate(engineer)
    response = api_client.post(f"/api/dataset-versions/{source.pk}/split/",
                               {"shares": {"train": 0.98, "validation": 0.01, "holdout": 0.01}}, format="json")
    assert response.status_code == 400 and "shares" in response.json()
    assert not DatasetSplit.objects.exists() and DatasetVersion.objects.count() == 1


def test_other_projects_version_is_not_found_and_a_reviewer_may_not_split(api_client, engineer):
    source = _upload_people(engineer)
    outsider = make_user(project=make_project("elsewhere"))
    api_client.force_authenticate(outsider)
    assert api_client.post(f"/api/dataset-versions/{source.pk}/split/", {}, format="json").status_code == 404
    api_client.force_authenticate(make_user(REVIEWER))
    assert api_client.post(f"/api/dataset-versions/{source.pk}/split/", {}, format="json").status_code == 403
    assert not DatasetSplit.objects.exists()


def test_page_splits_and_the_forms_suggest_the_matching_parts(client, engineer, inline_jobs):
    source = upload_hiring(engineer, n_rows=240)
    client.login(username=engineer.username, password=PASSWORD)
    page = client.get(f"/datasets/versions/{source.pk}/")
    assert b'id="split-form"' in page.content
    response = client.post(f"/datasets/versions/{source.pk}/split/",
                           {"train": 70, "validation": 15, "holdout": 15, "seed": 1})
    assert response.status_code == 302
    split = DatasetSplit.objects.get(source=source)
    train, holdout = split.parts.get(split_role="train"), split.parts.get(split_role="holdout")
    assert b'data-split-role="holdout"' in client.get(f"/datasets/versions/{source.pk}/").content
    bad = client.post(f"/datasets/versions/{source.pk}/split/", {"train": 70, "validation": 15, "holdout": 20,
                                                                 "seed": 1}, follow=True)
    assert b"add up to 105%" in bad.content and DatasetSplit.objects.count() == 1
    # training from the split source suggests its train part
    form = client.get(f"/models/train/?dataset_version={source.pk}").context["form"]
    assert int(form.initial["dataset_version"]) == train.pk
    from governance.registry.services import model_version_request_training

    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="on-train-part", dataset_version=train,
                                                 epochs=2)
    form = client.get(f"/audits/new/?model_version={version.pk}").context["form"]
    assert int(form.initial["dataset_version"]) == holdout.pk


def test_audit_on_training_rows_is_refused_unless_justified_and_then_flagged(api_client, engineer, inline_jobs):
    version, data = trained_version(engineer, inline_jobs, n_rows=120, epochs=2)
    api_client.force_authenticate(engineer)
    # a careless or hurried engineer audits on the training data itself, or on a copy of it
    refused = api_client.post("/api/audits/", {"model_version": version.pk, "dataset_version": data.pk,
                                                "explain_rows": 0}, format="json")
    assert refused.status_code == 400 and "trained on" in refused.json()["dataset_version"][0]
    copy = upload_hiring(engineer, n_rows=120)  # the same file uploaded again under another name
    assert rows_in_common(version=copy, other=data) == 120
    for justification in ("", "   ", "because"):
        again = api_client.post("/api/audits/", {"model_version": version.pk, "dataset_version": copy.pk,
                                                  "overlap_justification": justification}, format="json")
        assert again.status_code == 400
    assert not Audit.objects.exists()
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=data, explain_rows=0,
                              overlap_justification="Smoke check of the pipeline, not evidence.")
    audit.refresh_from_db()
    assert audit.config["training_overlap"]["rows"] == 120 and audit.status == "complete"
    entry = AuditLogEntry.objects.get(action="audit.requested", object_id=str(audit.pk))
    assert entry.payload["config"]["training_overlap"]["justification"].startswith("Smoke check")
    api_client.force_authenticate(None)
    from django.test import Client

    page = Client()
    page.login(username=engineer.username, password=PASSWORD)
    assert b'id="training-overlap"' in page.get(f"/audits/{audit.pk}/").content


def test_audit_on_the_holdout_part_needs_no_justification(engineer, inline_jobs):
    source = upload_hiring(engineer, n_rows=200)
    split = dataset_version_split(actor=engineer, version=source, shares={"train": 0.75, "holdout": 0.25})
    train, holdout = split.parts.get(split_role="train"), split.parts.get(split_role="holdout")
    from governance.registry.services import model_version_request_training

    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="split-model", dataset_version=train,
                                                 epochs=2)
    version.refresh_from_db()
    assert rows_in_common(version=holdout, other=train) == 0
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
    audit.refresh_from_db()
    assert audit.status == "complete" and "training_overlap" not in audit.config
    with pytest.raises(ValidationFailed):  # the source holds the training rows: refused
        audit_request(actor=engineer, model_version=version, dataset_version=source)
