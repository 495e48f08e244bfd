"""Policy gates, judged at request and again at approval, and the waivers that unblock them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.approvals.models import DeploymentRequest
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create, gate_waiver_create)
from governance.auditlog.models import AuditLogEntry
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.registry.models import Deployment
from governance.keys import text_digest
from tests.governance.approvals.evidence import completed_audit, ready_version
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
DPD = {"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1}


def _policy(officer, **overrides):
    fields = {"environment": "staging", "required_approvals": 1, "max_audit_age_days": 30,
              "require_explanations": True, "require_dpia_for_personal_data": True, "require_lawful_basis": True}
    return deployment_policy_update(actor=officer, **{**fields, **overrides})


def _request(engineer, audit, environment="staging"):
    return deployment_request_create(actor=engineer, model_version=audit.model_version, environment=environment,
                                     audit=audit, justification="Needed for the pilot.")


def _gates(request) -> dict:
    return {g["gate"]: g for g in request.gate_results}


def test_gates_pass_on_good_evidence_and_the_request_is_approved(engineer, reviewer, officer):
    _policy(officer, min_accuracy=0.8, fairness_rules=[DPD])
    request = _request(engineer, completed_audit(ready_version(engineer), gap=0.0, n_per_group=2000))
    assert set(_gates(request)) == {"min_accuracy", "fairness", "audit_age", "explanations", "dpia", "lawful_basis"}
    assert all(g["passed"] and not g["blocking"] for g in request.gate_results), request.gate_results
    assert all(g["evidence"] for g in request.gate_results)
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    assert DeploymentRequest.objects.get(pk=request.pk).status == "approved"


def test_fairness_is_judged_on_the_upper_confidence_bound(engineer, officer):
    _policy(officer, fairness_rules=[DPD])
    request = _request(engineer, completed_audit(ready_version(engineer), gap=0.06))
    fairness = _gates(request)["fairness"]
    check = next(c for c in fairness["checks"] if c["grouping"] == "gender")
    assert check["value"] == pytest.approx(0.06) and check["value"] <= DPD["max"]  # the point estimate passes
    assert check["bound"] == "upper" and check["compared"] == check["ci"][1] > DPD["max"]
    assert not fairness["passed"] and fairness["blocking"]


@pytest.mark.parametrize("gate, version_kwargs, audit_kwargs, policy_kwargs", [
    ("min_accuracy", {}, {"accuracy": 0.7}, {"min_accuracy": 0.8}),
    ("audit_age", {}, {"finished_days_ago": 45}, {}),
    ("explanations", {}, {"explanations": False}, {}),
    ("dpia", {"personal": {"lawful_basis": "consent", "purposes": "Hiring", "dpia_reference": ""}}, {}, {}),
    ("lawful_basis", {"personal": {}}, {}, {}),  # sensitive attributes about people, no lawful basis
])
def test_each_gate_fails_on_its_missing_evidence_and_blocks_approval(engineer, reviewer, officer, gate,
                                                                     version_kwargs, audit_kwargs, policy_kwargs):
    _policy(officer, **policy_kwargs)
    request = _request(engineer, completed_audit(ready_version(engineer, **version_kwargs), **audit_kwargs))
    failing = [g["gate"] for g in request.gate_results if not g["passed"]]
    assert gate in failing and (gate != "lawful_basis" or failing == ["dpia", "lawful_basis"])
    with pytest.raises(InvalidState, match="Gates fail without a waiver"):
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    assert DeploymentRequest.objects.get(pk=request.pk).status == "pending"
    assert not Deployment.objects.exists()


def test_a_dataset_declared_without_personal_data_needs_no_dpia(engineer, officer):
    _policy(officer)
    data_free = {"lawful_basis": "none"}
    version = ready_version(engineer, personal=data_free)
    version.dataset_version.sensitive_attributes = []
    version.dataset_version.save(update_fields=["sensitive_attributes"])
    gates = _gates(_request(engineer, completed_audit(version)))
    assert gates["dpia"]["passed"] and gates["lawful_basis"]["passed"]


def test_a_waiver_unblocks_a_failing_gate_and_shows_in_the_request_and_the_log(api_client, engineer, reviewer,
                                                                              officer):
    _policy(officer, fairness_rules=[DPD])
    request = _request(engineer, completed_audit(ready_version(engineer), gap=0.2))
    with pytest.raises(InvalidState, match="Fairness"):
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    with pytest.raises(NotAllowed):
        gate_waiver_create(actor=engineer, request_id=request.pk, gate="fairness", reason="x",
                           expires_at=timezone.now() + timedelta(days=30))
    api_client.force_authenticate(officer)
    url = f"/api/deployment-requests/{request.pk}/waivers/"
    bad = api_client.post(url, {"gate": "fairness", "reason": "Monitored pilot",
                                "expires_at": (timezone.now() - timedelta(days=1)).isoformat()}, format="json")
    assert bad.status_code == 400 and "expires_at" in bad.json()
    assert api_client.post(url, {"gate": "nope", "reason": "r", "expires_at": "2030-01-01T00:00:00Z"},
                           format="json").status_code == 400
    expiry = timezone.now() + timedelta(days=30)
    response = api_client.post(url, {"gate": "fairness", "reason": "Pilot with a human reviewing every decision",
                                     "expires_at": expiry.isoformat(), "password": PASSWORD}, format="json")
    assert response.status_code == 201, response.content
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    request.refresh_from_db()
    assert request.status == "approved"
    fairness = _gates(request)["fairness"]
    assert not fairness["passed"] and not fairness["blocking"]
    assert fairness["waiver"]["reason"].startswith("Pilot with a human")
    api_client.force_authenticate(reviewer)
    body = api_client.get(f"/api/deployment-requests/{request.pk}/").json()
    assert body["waivers"][0]["gate"] == "fairness" and body["waivers"][0]["expires_at"]
    logged = AuditLogEntry.objects.get(action="gate_waiver.created")
    # The log keeps a keyed digest of the reason, never its words (they may name a data subject).
    assert logged.payload["reason"] == text_digest("Pilot with a human reviewing every decision")
    assert logged.payload["expires_at"]
    assert AuditLogEntry.objects.get(action="deployment_request.approved").payload["waived_gates"] == ["fairness"]


def test_an_expired_waiver_no_longer_unblocks(engineer, reviewer, officer):
    from governance.approvals.models import GateWaiver

    _policy(officer, fairness_rules=[DPD])
    request = _request(engineer, completed_audit(ready_version(engineer), gap=0.2))
    waiver = gate_waiver_create(actor=officer, request_id=request.pk, gate="fairness", reason="Short pilot",
                                expires_at=timezone.now() + timedelta(days=1), password=PASSWORD)
    GateWaiver.objects.filter(pk=waiver.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(InvalidState, match="Fairness"):
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)


def test_gates_are_judged_again_at_approval(engineer, reviewer, officer):
    _policy(officer)
    request = _request(engineer, completed_audit(ready_version(engineer)))
    assert all(g["passed"] for g in request.gate_results)
    _policy(officer, min_accuracy=0.95)  # the policy tightened after the request
    with pytest.raises(InvalidState, match="Minimum accuracy"):
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)


@pytest.mark.parametrize("fields, field", [
    ({"required_approvals": 0}, "required_approvals"),
    ({"environment": "production", "required_approvals": 1}, "required_approvals"),
    ({"min_accuracy": 1.5}, "min_accuracy"),
    ({"fairness_rules": [{"metric": "nonsense", "max": 0.1}]}, "fairness_rules"),
    ({"fairness_rules": [{"metric": "demographic_parity_difference"}]}, "fairness_rules"),
    ({"fairness_rules": {"not": "a list"}}, "fairness_rules"),
    ({"max_audit_age_days": 0}, "max_audit_age_days"),
])
def test_bad_policy_input_is_refused_at_its_field(api_client, officer, fields, field):
    environment = fields.pop("environment", "staging")
    api_client.force_authenticate(officer)
    response = api_client.put(f"/api/deployment-policies/{environment}/", {"required_approvals": 1, **fields},
                              format="json")
    assert response.status_code == 400 and field in response.json(), response.content


def test_the_policy_page_edits_a_policy_with_form_errors_for_bad_input(client, officer):
    from tests.factories import PASSWORD

    client.login(username=officer.username, password=PASSWORD)
    bad = client.post("/approvals/policies/production/", {"required_approvals": 1, "fairness_rules": "[]"})
    assert bad.status_code == 400 and b"at least two approvals" in bad.content
    bad_json = client.post("/approvals/policies/staging/", {"required_approvals": 1, "fairness_rules": "{oops"})
    assert bad_json.status_code == 400
    ok = client.post("/approvals/policies/production/", {
        "required_approvals": 2, "min_accuracy": "0.8", "max_audit_age_days": 30, "require_explanations": "on",
        "fairness_rules": '[{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1}]'})
    assert ok.status_code == 302
    page = client.get("/approvals/policies/")
    assert page.status_code == 200 and b"demographic_parity_difference" in page.content


def test_the_request_page_shows_each_gate_with_its_evidence_links(client, engineer, officer):
    from tests.factories import PASSWORD

    _policy(officer, fairness_rules=[DPD])
    request = _request(engineer, completed_audit(ready_version(engineer), gap=0.2, explanations=False))
    client.login(username=officer.username, password=PASSWORD)
    page = client.get(f"/approvals/{request.pk}/").content.decode()
    assert "Fairness disparities" in page and "Explanations present" in page
    assert f"/audits/{request.audit_id}/#fairness" in page and "/datasets/versions/" in page
    assert "Record a waiver" in page


def test_a_waiver_is_void_once_the_gate_measures_another_value_on_the_same_audit(engineer, reviewer, officer):
    from governance.approvals.models import GateWaiver
    from governance.datasets.services import dataset_metadata_update

    _policy(officer)
    version = ready_version(engineer, personal={"lawful_basis": "consent", "purposes": "Hiring",
                                                "dpia_reference": ""})
    request = _request(engineer, completed_audit(version))
    assert not _gates(request)["dpia"]["passed"]
    waiver = gate_waiver_create(actor=officer, request_id=request.pk, gate="dpia", reason="DPIA in progress",
                                expires_at=timezone.now() + timedelta(days=10), password=PASSWORD)
    assert waiver.measured["dpia_reference"] == "" and waiver.measured["confirmed"]
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    assert DeploymentRequest.objects.get(pk=request.pk).status == "approved"
    # The metadata the waived gate measured changes (the confirmation is cleared by the edit): same audit,
    # another value — the waiver is void, the request back in review and its deployment suspended.
    dataset_metadata_update(actor=officer, dataset=version.dataset_version.dataset, purposes="Hiring, promotion")
    waiver.refresh_from_db()
    assert waiver.voided_at is not None and "now measures" in waiver.voided_reason
    assert DeploymentRequest.objects.get(pk=request.pk).status == "pending"
    assert Deployment.objects.get(request=request).status == "suspended"
    assert GateWaiver.objects.filter(voided_at__isnull=True).count() == 0
    assert AuditLogEntry.objects.filter(action="gate_waiver.voided").exists()
