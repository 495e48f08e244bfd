from __future__ import annotations

import hashlib

import pytest

from governance.compliance.chain import canonical_json
from governance.compliance.models import AuditLogEntry
from governance.compliance.selectors import audit_log_head
from tests.factories import make_user, upload_hiring

pytestmark = pytest.mark.django_db


def test_record_of_processing_export_carries_provenance_and_is_logged(api_client, engineer):
    from governance.roles import COMPLIANCE_OFFICER

    upload_hiring(engineer, name="applicants", lawful_basis="consent", purposes="Hiring", retention_days=365)
    upload_hiring(engineer, name="no-personal-data")
    officer = make_user(COMPLIANCE_OFFICER)
    head_before = audit_log_head()
    api_client.force_authenticate(officer)
    response = api_client.get("/api/compliance/processing-record/")
    assert response.status_code == 200
    doc = response.json()
    assert doc["schema"] == {"name": "gdpr-art30-record-of-processing", "version": "1.0"}
    assert doc["generated_by"] == officer.username and doc["generated_at"]
    assert doc["audit_log_head"] == head_before
    assert doc["content_sha256"] == hashlib.sha256(canonical_json(doc["content"]).encode()).hexdigest()
    names = [a["name"] for a in doc["content"]["activities"]]
    assert names == ["applicants"]
    assert doc["content"]["activities"][0]["f_erasure_time_limit_days"] == 365
    logged = AuditLogEntry.objects.get(action="export.generated")
    assert logged.payload["content_sha256"] == doc["content_sha256"]


def test_an_engineer_cannot_export_it(api_client, engineer):
    api_client.force_authenticate(engineer)
    assert api_client.get("/api/compliance/processing-record/").status_code == 403
