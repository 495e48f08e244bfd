from __future__ import annotations

import pytest

from governance.approvals.models import DeploymentRequest
from governance.registry.models import Deployment, ModelVersion
from tests.factories import PASSWORD
from tests.governance.slice import completed_audit

pytestmark = pytest.mark.django_db


@pytest.fixture
def audit(engineer, inline_jobs, permissive_staging):
    audit = completed_audit(engineer, inline_jobs)
    assert audit.status == "complete", audit.error
    return audit


def _request(api_client, engineer, audit, environment="staging"):
    api_client.force_authenticate(engineer)
    response = api_client.post("/api/deployment-requests/", {
        "model_version": audit.model_version_id, "environment": environment, "audit": audit.pk,
        "justification": "Pilot"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_another_reviewer_approves_and_the_version_is_deployed(api_client, engineer, reviewer, audit):
    body = _request(api_client, engineer, audit)
    assert body["artifact_digest"] == audit.model_version.artifact_digest
    assert body["audit_result_hash"] == audit.result_hash
    api_client.force_authenticate(reviewer)
    response = api_client.post(f"/api/deployment-requests/{body['id']}/approve/", {"password": PASSWORD},
                               format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    deployment = Deployment.objects.get(request_id=body["id"])
    assert deployment.environment == "staging" and deployment.ended_at is None
    assert api_client.get("/api/deployments/?environment=staging").json()["count"] == 1


def test_the_requester_cannot_approve_their_own_request(api_client, audit, engineer):
    from django.contrib.auth.models import Group

    engineer.groups.add(Group.objects.get(name="reviewer"))  # an engineer who is also a reviewer
    body = _request(api_client, engineer, audit)
    response = api_client.post(f"/api/deployment-requests/{body['id']}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "own" in response.json()["non_field_errors"][0]
    assert DeploymentRequest.objects.get(pk=body["id"]).status == "pending"
    assert not Deployment.objects.exists()


def test_an_engineer_cannot_approve(api_client, engineer, audit):
    from tests.factories import make_user

    body = _request(api_client, engineer, audit)
    api_client.force_authenticate(make_user())
    assert api_client.post(f"/api/deployment-requests/{body['id']}/approve/", {}, format="json").status_code == 403


def test_a_changed_artifact_voids_the_request_and_returns_it_to_review(api_client, engineer, reviewer, audit):
    body = _request(api_client, engineer, audit)
    ModelVersion.objects.filter(pk=audit.model_version_id).update(artifact_digest="f" * 64)
    api_client.force_authenticate(reviewer)
    response = api_client.post(f"/api/deployment-requests/{body['id']}/approve/", {"password": PASSWORD},
                               format="json")
    assert response.status_code == 409 and "evidence changed" in response.json()["non_field_errors"][0]
    request = DeploymentRequest.objects.get(pk=body["id"])
    assert request.status == "pending" and request.voided_count == 1 and request.artifact_digest == "f" * 64
    assert not Deployment.objects.exists()


def test_reject_needs_a_reason(api_client, engineer, reviewer, audit):
    body = _request(api_client, engineer, audit)
    api_client.force_authenticate(reviewer)
    url = f"/api/deployment-requests/{body['id']}/reject/"
    assert api_client.post(url, {"reason": ""}, format="json").status_code == 400
    response = api_client.post(url, {"reason": "Gap too large"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"


def test_approve_in_the_browser_asks_for_the_password(client, engineer, reviewer, audit, api_client):
    from tests.factories import PASSWORD

    body = _request(api_client, engineer, audit)
    client.login(username=reviewer.username, password=PASSWORD)
    wrong = client.post(f"/approvals/{body['id']}/approve/", {"password": "nope"})
    assert wrong.status_code == 400 and b"password is not correct" in wrong.content
    right = client.post(f"/approvals/{body['id']}/approve/", {"password": PASSWORD})
    assert right.status_code == 302
    assert DeploymentRequest.objects.get(pk=body["id"]).status == "approved"


def test_a_newer_audit_that_fails_a_gate_voids_an_approved_request_when_it_completes(
        api_client, engineer, reviewer, audit, officer, inline_jobs):
    """The real path: the audit worker's completion calls the approvals hook in the same transaction."""
    from governance.approvals.models import Approval
    from governance.approvals.services import deployment_policy_update
    from governance.audits.services import audit_request
    from governance.auditlog.models import AuditLogEntry

    body = _request(api_client, engineer, audit)
    api_client.force_authenticate(reviewer)
    assert api_client.post(f"/api/deployment-requests/{body['id']}/approve/", {"password": PASSWORD},
                           format="json").json()["status"] == "approved"
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=True, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    # The policy change re-judges the approved request at once: its own audit explains no rows either.
    request = DeploymentRequest.objects.get(pk=body["id"])
    assert request.status == "pending" and request.voided_count == 1
    assert Deployment.objects.get(request=request).status == "suspended"
    with inline_jobs():
        newer = audit_request(actor=engineer, model_version=audit.model_version,
                              dataset_version=audit.dataset_version, explain_rows=0)
    newer.refresh_from_db()
    assert newer.status == "complete", newer.error
    request = DeploymentRequest.objects.get(pk=body["id"])
    assert request.status == "pending" and request.audit_id == newer.pk and request.voided_count == 2
    assert Approval.objects.get(request=request).voided
    by_policy, voided = AuditLogEntry.objects.filter(action="deployment_request.voided").order_by("seq")
    assert "gates now fail" in by_policy.payload["why"] and "Explanations" in by_policy.payload["why"]
    assert f"newer audit #{newer.pk}" in voided.payload["why"]
    assert voided.seq > AuditLogEntry.objects.get(action="audit.completed", object_id=str(newer.pk)).seq
