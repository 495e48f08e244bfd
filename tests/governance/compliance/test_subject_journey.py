"""Issue #7's "done when": one subject from upload through training and audit to an access export that lists
them, then erasure, then an access export that finds nothing, with the affected model version flagged."""

from __future__ import annotations

import hashlib
import json

import pytest

from governance.roles import COMPLIANCE_OFFICER
from governance.audits.models import Prediction
from governance.audits.services import audit_request
from governance.compliance.chain import canonical_json
from governance.compliance.models import AuditLogEntry, ErasureImpact, PiiScan, SubjectRequest
from governance.datasets.models import DatasetRecord
from governance.datasets.services import dataset_upload
from governance.registry.choices import VersionStatus
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from tests.factories import hiring_bytes, make_user

pytestmark = pytest.mark.django_db

SUBJECT = "S000003"
EMAIL = "jane.doe@example.com"


def _upload(engineer, name: str, raw: bytes):
    return dataset_upload(actor=engineer, name=name, raw=raw, file_name=f"{name}.csv", text_column="text",
                          label_column="hired", subject_column="subject_id", sensitive_attributes=["gender"],
                          lawful_basis="consent", purposes="Screening job applications", retention_days=365,
                          recipients="Hiring managers", personal_data_categories="CV text, gender",
                          data_subject_categories="Job applicants")


def _with_email(raw: bytes) -> bytes:
    lines = raw.decode().splitlines()
    lines = [line.replace("Skills:", f"Contact {EMAIL}. Skills:", 1) if line.startswith(SUBJECT + ",") else line
             for line in lines]
    return ("\n".join(lines) + "\n").encode()


def test_one_subject_from_upload_to_erasure(api_client, engineer, inline_jobs):
    # Upload (PII scan runs as a job), train, audit on a held-out set that holds the subject too.
    with inline_jobs():
        train_data = _upload(engineer, "applicants", _with_email(hiring_bytes(240, 7)))
        holdout = _upload(engineer, "applicants-holdout", hiring_bytes(120, 99))
    scan = PiiScan.objects.get(version=train_data)
    assert scan.data["by_kind"]["email"]["count"] == 1 and EMAIL not in json.dumps(scan.data)
    with inline_jobs():
        model_version = model_version_request_training(actor=engineer, model_name="screening",
                                                       dataset_version=train_data, epochs=2)
    model_version.refresh_from_db()
    assert model_version.status == VersionStatus.READY, model_version.error
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=model_version, dataset_version=holdout, explain_rows=0)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    assert Prediction.objects.filter(audit=audit, subject_id=SUBJECT).count() == 1

    officer = make_user(COMPLIANCE_OFFICER)
    api_client.force_authenticate(officer)

    # Access request: the answer lists the subject's records, the model trained on them, the decision.
    access = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": SUBJECT}, format="json")
    assert access.status_code == 201, access.content
    answer = api_client.get(f"/api/compliance/requests/{access.json()['id']}/answer/?as=json")
    assert answer.status_code == 200
    doc = json.loads(answer.content)
    assert doc["schema"] == {"name": "gdpr-art15-access-answer", "version": "1.0"}
    assert doc["content_sha256"] == hashlib.sha256(canonical_json(doc["content"]).encode()).hexdigest()
    content = doc["content"]
    assert content["confirmation_personal_data_processed"] is True
    assert {(r["dataset"], r["row_index"]) for r in content["records"]} == {("applicants", 2),
                                                                            ("applicants-holdout", 2)}
    assert any(EMAIL in r["provided_by_subject"]["text"] for r in content["records"])
    assert [m["model_version"] for m in content["models_trained_on_your_data"]] == [model_version.pk]
    decision = content["h_automated_decisions"][0]
    assert decision["audit"] == audit.pk and decision["predicted_label"] in model_version.label_names
    assert content["processing"][0]["a_purposes"] == "Screening job applications"
    assert content["art20_portability"]["applies"] and len(content["art20_portability"]["provided_data"]) == 2
    letter = api_client.get(f"/api/compliance/requests/{access.json()['id']}/answer/?as=pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    assert SubjectRequest.objects.get(pk=access.json()["id"]).status == "answered"

    # Erasure: records gone from every version in one go, predictions gone, the model version flagged.
    erasure = api_client.post("/api/compliance/requests/", {"kind": "erasure", "subject_id": SUBJECT},
                              format="json").json()
    done = api_client.post(f"/api/compliance/requests/{erasure['id']}/fulfil/", {"ground": "b"}, format="json")
    assert done.status_code == 200, done.content
    assert not DatasetRecord.objects.filter(subject_id=SUBJECT).exists()
    assert not Prediction.objects.filter(subject_id=SUBJECT).exists()
    assert Prediction.objects.filter(audit=audit).count() == 119
    train_data.refresh_from_db()
    assert train_data.row_count == 239
    impact = ErasureImpact.objects.get(request_id=erasure["id"])
    assert impact.model_version_id == model_version.pk and impact.decision == "pending"
    assert impact.records_removed == 1
    assert SubjectRequest.objects.filter(subject_id=SUBJECT).count() == 0  # raw id blanked on every request

    certificate = json.loads(api_client.get(f"/api/compliance/requests/{erasure['id']}/certificate/?as=json").content)
    assert certificate["schema"]["name"] == "gdpr-art17-erasure-certificate"
    assert certificate["content"]["records_removed_total"] == 2
    assert SUBJECT not in json.dumps(certificate)
    assert certificate["content"]["subject"]["hash"] == SubjectRequest.objects.get(pk=erasure["id"]).subject_hash
    assert api_client.get(f"/api/compliance/requests/{erasure['id']}/certificate/?as=pdf").content.startswith(b"%PDF")

    # A new access request finds no personal data, only the certificate reference.
    again = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": SUBJECT},
                            format="json").json()
    after = json.loads(api_client.get(f"/api/compliance/requests/{again['id']}/answer/?as=json").content)["content"]
    assert after["confirmation_personal_data_processed"] is False
    assert after["records"] == [] and after["h_automated_decisions"] == [] and after["models_trained_on_your_data"] == []
    assert [c["certificate"] for c in after["erasure_certificates"]] == [erasure["reference"]]

    # The audit log never holds the raw subject id, nor the e-mail address.
    log_text = json.dumps(list(AuditLogEntry.objects.values("payload", "object_id")))
    assert SUBJECT not in log_text and EMAIL not in log_text
    assert AuditLogEntry.objects.filter(action="erasure.fulfilled").count() == 1

    # Retrain: a new dataset version without the subject (parent = the old one) and a new model version.
    with inline_jobs():
        decided = api_client.post(f"/api/compliance/erasure-impacts/{impact.pk}/decide/", {"decision": "retrain"},
                                  format="json")
    assert decided.status_code == 200, decided.content
    impact.refresh_from_db()
    new_data, new_model = impact.retrained_dataset_version, impact.retrained_model_version
    assert new_data.parent_id == train_data.pk and new_data.row_count == 239
    assert not DatasetRecord.objects.filter(version=new_data, subject_id=SUBJECT).exists()
    new_model = ModelVersion.objects.get(pk=new_model.pk)
    assert new_model.parent_id == model_version.pk and new_model.dataset_version_id == new_data.pk
    assert new_model.status == VersionStatus.READY, new_model.error
    assert "erased" in new_model.lineage_note
    again_decided = api_client.post(f"/api/compliance/erasure-impacts/{impact.pk}/decide/",
                                    {"decision": "keep", "justification": "x" * 30}, format="json")
    assert again_decided.status_code == 409
