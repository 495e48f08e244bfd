"""The whole slice through the API with a real Celery worker process on Redis and PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.audits.models import Audit
from governance.auditlog.selectors import audit_log_verify
from governance.jobs.models import Job
from governance.registry.models import ModelVersion
from tests.e2e.conftest import wait_for
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = [pytest.mark.e2e]


def test_upload_train_audit_approve_through_a_real_worker(celery_worker_process, api_client):
    from governance.roles import AUDITOR, REVIEWER

    engineer, reviewer = make_user(), make_user(REVIEWER)
    api_client.force_authenticate(engineer)
    uploads = []
    for name, seed, rows in (("train", 7, 300), ("holdout", 11, 120)):
        response = api_client.post("/api/datasets/", {
            "name": name, "file": SimpleUploadedFile(f"{name}.csv", hiring_bytes(rows, seed)), "text_column": "text",
            "label_column": "hired", "subject_column": "subject_id", "sensitive_attributes": "gender,age_band"},
            format="multipart")
        assert response.status_code == 201, response.content
        uploads.append(response.json()["id"])

    response = api_client.post("/api/model-versions/", {"model_name": "screener", "dataset_version": uploads[0],
                                                        "epochs": 3}, format="json")
    assert response.status_code == 202, response.content
    version_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    version = wait_for(lambda: ModelVersion.objects.filter(pk=version_id, status__in=["ready", "failed"]).first(),
                       timeout=240, what="training", proc=celery_worker_process)
    assert version.status == "ready", version.error
    job = Job.objects.get(subject_type="registry.modelversion", subject_id=version_id)
    assert job.status == "complete" and job.attempts == 1

    response = api_client.post("/api/audits/", {"model_version": version_id, "dataset_version": uploads[1],
                                                "explain_rows": 0}, format="json")
    assert response.status_code == 202
    audit_id = response.json()["id"]
    seen = set()

    def finished():
        audit = Audit.objects.get(pk=audit_id)
        seen.add(audit.status)
        return audit if audit.status in ("complete", "failed") else None

    audit = wait_for(finished, timeout=240, what="audit", proc=celery_worker_process)
    assert audit.status == "complete", audit.error
    detail = api_client.get(f"/api/audits/{audit_id}/").json()
    assert detail["results"]["metrics"]["n"] == 120
    assert set(detail["results"]["fairness"]["groupings"]) >= {"gender", "age_band", "gender × age_band"}

    from governance.roles import COMPLIANCE_OFFICER
    from governance.approvals.services import deployment_policy_update

    # This slice explains no rows and declares no personal-data metadata: a staging policy without those gates.
    deployment_policy_update(actor=make_user(COMPLIANCE_OFFICER), environment="staging", required_approvals=1,
                             max_audit_age_days=None, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    response = api_client.post("/api/deployment-requests/", {"model_version": version_id, "environment": "staging",
                                                             "audit": audit_id, "justification": "e2e"}, format="json")
    request_id = response.json()["id"]
    assert api_client.post(f"/api/deployment-requests/{request_id}/approve/", {}, format="json").status_code == 403
    api_client.force_authenticate(reviewer)
    refused = api_client.post(f"/api/deployment-requests/{request_id}/approve/", {}, format="json")
    assert refused.status_code == 403 and "Step-up" in refused.json()["non_field_errors"][0]  # signed, as the page
    approved = api_client.post(f"/api/deployment-requests/{request_id}/approve/", {"password": PASSWORD},
                               format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert audit_log_verify().ok
    api_client.force_authenticate(make_user(AUDITOR))  # the audit log: organisation-wide readers
    log = api_client.get("/api/audit-log/?page_size=200").json()["results"]
    actions = {entry["action"] for entry in log}
    assert {"dataset_version.created", "model_version.training_requested", "model_version.trained",
            "audit.requested", "audit.completed", "deployment_request.created", "deployment_request.approved",
            "deployment.started"} <= actions
