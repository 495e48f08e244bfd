"""The gates recompute the audit's result hash from the stored result rows at each judgement: a row rewritten
behind the hash is tampering (the request is voided, logged), while a row rewritten in place by a logged
redaction — an erasure blanks the subject's text in the explanations — is told apart and leaves it standing.
A real trained model and a real audit (inline jobs), as the worker stores them."""

from __future__ import annotations

import pytest

from governance.approvals.models import DeploymentRequest
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create, deployment_request_recheck)
from governance.audits import services as audit_services
from governance.audits.models import AuditResult, Prediction
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.compliance.subject_requests import erasure_request_fulfil, subject_request_register
from governance.registry.models import Deployment
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from tests.factories import PASSWORD, make_user, upload_hiring
from tests.governance.slice import trained_version

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_an_erasure_s_logged_redaction_is_not_tampering_but_a_later_rewrite_is(engineer, inline_jobs, monkeypatch):
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap", "ig"])
    version, _ = trained_version(engineer, inline_jobs, epochs=2)
    holdout = upload_hiring(engineer, n_rows=40, seed=5)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=1)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    completed = AuditLogEntry.objects.get(action="audit.completed", object_id=str(audit.pk))
    assert set(completed.payload["result_digests"]) == set(audit.results.values_list("kind", flat=True))

    officer = make_user(COMPLIANCE_OFFICER)
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=True, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    request = deployment_request_create(actor=engineer, model_version=version, environment="staging", audit=audit,
                                        justification="pilot")
    deployment_request_approve(actor=make_user(REVIEWER), request_id=request.pk, password=PASSWORD)

    # A data subject whose text the audit explained is erased: the explanations row is rewritten in place (new
    # digest, logged before/after), the audit's result hash stays what was computed.
    explained = AuditResult.objects.get(audit=audit, kind="explanations")
    position = explained.data["row_indices"][explained.data["texts"][0]["index"]]
    subject = Prediction.objects.filter(audit=audit).order_by("pk")[position].record.subject_id
    erasure_request_fulfil(actor=officer, ground="b",
                           request=subject_request_register(actor=officer, kind="erasure", subject_id=subject))
    explained.refresh_from_db()
    assert explained.data["texts"][0]["text"] == "[erased]"
    _, why = deployment_request_recheck(actor=officer, request_id=request.pk)
    assert why == "" and DeploymentRequest.objects.get(pk=request.pk).status == "approved"
    assert Deployment.objects.get(request=request).status == "serving"

    # The same row rewritten again, digest and all, with no log entry: tampering, voided and suspended.
    data = {**explained.data, "texts": []}
    from governance.auditlog.chain import canonical_json
    import hashlib

    AuditResult.objects.filter(pk=explained.pk).update(
        data=data, sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
    _, why = deployment_request_recheck(actor=officer, request_id=request.pk)
    assert why.startswith("tampering")
    assert DeploymentRequest.objects.get(pk=request.pk).status == "pending"
    assert Deployment.objects.get(request=request).status == "suspended"
    assert AuditLogEntry.objects.filter(action="audit.tampering_detected", object_id=str(audit.pk)).exists()
