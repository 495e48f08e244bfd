"""Issue 15, points 1–7: the approval workflow attacked as a hostile insider would, on PostgreSQL.

Each test carries out the attack the review reproduced on the old main — through the API as the insider's
own account would, through the services, or as the database owner writing rows behind the application's
back — and shows it refused (a 403 / 409 naming why) or detected, and that the refusal or the detection is
in the hash-chained audit log. Evidence comes from tests/governance/approvals/evidence.py (rows stored as
the workers store them); an audit completing is announced with the same signal the audit worker sends.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from governance.approvals.models import Approval, DeploymentRequest, GateWaiver, WebhookDelivery
from governance.approvals.judging import tampering
from governance.approvals.services import deployment_policy_update
from governance.audits.models import Audit, AuditResult
from governance.audits.signals import audit_completed
from governance.auditlog.chain import canonical_json
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.registry.models import Deployment
from governance.roles import ADMIN, COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER
from tests.factories import PASSWORD, make_user
from tests.governance.accounts.totp import totp_code
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db
DPD = {"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1}


@pytest.fixture
def officer(db):
    return make_user(COMPLIANCE_OFFICER)


@pytest.fixture
def reviewers(db):
    return [make_user(REVIEWER) for _ in range(3)]


def _staging(officer, **gates):
    fields = {"required_approvals": 1, "max_audit_age_days": None, "require_explanations": False,
              "require_dpia_for_personal_data": False, "require_lawful_basis": False}
    return deployment_policy_update(actor=officer, environment="staging", **{**fields, **gates})


def _as(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _request(api_client, engineer, audit, environment="staging") -> int:
    response = _as(api_client, engineer).post("/api/deployment-requests/", {
        "model_version": audit.model_version_id, "environment": environment, "audit": audit.pk,
        "justification": "Go live"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _approve(api_client, reviewer, request_id: int, **step_up):
    return _as(api_client, reviewer).post(f"/api/deployment-requests/{request_id}/approve/",
                                          step_up or {"password": PASSWORD}, format="json")


def _audit_completes(audit: Audit) -> None:
    """What the audit worker does once it has stored a completed audit (audits.services._audit_store)."""
    audit_completed.send(sender=Audit, audit=audit, actor=audit.requested_by)


def _logged(action: str, **payload) -> list[AuditLogEntry]:
    entries = list(AuditLogEntry.objects.filter(action=action).order_by("seq"))
    return [e for e in entries if all(e.payload.get(k) == v for k, v in payload.items())]


def _status(request_id: int) -> str:
    return DeploymentRequest.objects.get(pk=request_id).status


def test_point_1_a_request_that_loses_its_approval_suspends_its_deployment_and_cannot_be_rolled_back_to(
        api_client, engineer, reviewers, officer, settings, django_capture_on_commit_callbacks):
    from tests.governance.approvals.test_webhooks import Receiver

    _staging(officer, min_accuracy=0.8)
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the receiver listens on loopback
    receiver = Receiver()
    hook = _as(api_client, make_user(ADMIN)).post("/api/webhooks/", {
        "url": receiver.url, "events": ["deployment.suspended"]}, format="json").json()
    v1 = ready_version(engineer)
    v2 = next_version(v1)
    r1 = _request(api_client, engineer, completed_audit(v1))
    assert _approve(api_client, reviewers[0], r1).status_code == 200
    r2 = _request(api_client, engineer, completed_audit(v2))
    assert _approve(api_client, reviewers[0], r2).status_code == 200
    serving = Deployment.objects.get(request_id=r2, ended_at__isnull=True)
    before = timezone.now()

    # A newer audit of the serving version fails a gate: its request loses its approval, and the version stops
    # serving at once (its own status), with a webhook event and an audit-log entry.
    settings.JOB_DISPATCH = "inline"
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _audit_completes(completed_audit(v2, accuracy=0.6))
    finally:
        receiver.close()
    assert _status(r2) == "pending"
    serving.refresh_from_db()
    assert serving.status == "suspended" and serving.ended_at is None and "lost its approval" in serving.suspended_reason
    assert _logged("deployment.suspended", request=r2)
    assert [c["headers"]["X-Governance-Event"] for c in receiver.calls] == ["deployment.suspended"]
    assert WebhookDelivery.objects.get(webhook_id=hook["id"]).payload["deployments"] == [serving.pk]
    api = _as(api_client, make_user(ML_ENGINEER))
    listed = {d["id"]: d for d in api.get(f"/api/deployments/?model={v1.model_id}").json()["results"]}
    assert listed[serving.pk]["status"] == "suspended" and listed[serving.pk]["suspended_at"]
    suspended = api.get("/api/deployments/", {"status": "suspended", "model": v1.model_id}).json()["results"]
    assert [d["id"] for d in suspended] == [serving.pk]
    assert api.get("/api/deployments/", {"status": "serving", "model": v1.model_id}).json()["count"] == 0
    now = api.get("/api/deployments/at/", {"at": timezone.now().isoformat(), "environment": "staging",
                                           "model": v1.model_id}).json()["deployments"]
    then = api.get("/api/deployments/at/", {"at": before.isoformat(), "environment": "staging",
                                            "model": v1.model_id}).json()["deployments"]
    assert [(d["version"], d["status"]) for d in now] == [(2, "suspended")]
    assert [(d["version"], d["status"]) for d in then] == [(2, "serving")]
    from django.test import Client

    browser = Client()
    browser.force_login(engineer)
    for page in (f"/models/{v1.model_id}/", f"/models/{v1.model_id}/timeline/", f"/approvals/{r2}/"):
        assert "suspended" in browser.get(page).content.decode(), page

    # The attack: v1's request has lost its approval too (a newer failing audit of v1); the insider rolls back
    # to v1 through the API, which re-deployed it on the old main. Refused, logged, nothing deployed.
    _audit_completes(completed_audit(v1, accuracy=0.6))
    assert _status(r1) == "pending"
    response = _as(api_client, engineer).post("/api/deployments/rollback/", {
        "model": v1.model_id, "environment": "staging", "reason": "v2 suspended, bring v1 back"}, format="json")
    assert response.status_code == 403, response.content
    assert "not approved on evidence that still holds" in response.json()["non_field_errors"][0]
    assert not Deployment.objects.filter(kind="rollback").exists()
    assert _logged("deployment.rollback_refused", request=r1)
    assert audit_log_verify().ok


def test_point_2_a_requester_cannot_waive_and_a_waiver_binds_the_audit_and_the_value_it_waived(
        api_client, engineer, reviewers, officer):
    _staging(officer, fairness_rules=[DPD])
    engineer.groups.add(*make_user(COMPLIANCE_OFFICER).groups.all())  # the maker also holds the officer's role
    engineer._role_names = None
    version = ready_version(engineer)
    request_id = _request(api_client, engineer, completed_audit(version, gap=0.30))
    body = {"gate": "fairness", "reason": "Monitored pilot", "password": PASSWORD,
            "expires_at": (timezone.now() + timedelta(days=30)).isoformat()}

    # The attack: the requester, holding the compliance-officer role, waives the failing gate of their own request.
    response = _as(api_client, engineer).post(f"/api/deployment-requests/{request_id}/waivers/", body, format="json")
    assert response.status_code == 403 and "cannot waive" in response.json()["non_field_errors"][0]
    assert not GateWaiver.objects.exists() and _logged("gate_waiver.refused", why="requester")

    # Another officer waives it: the waiver is bound to the audit's result hash and the measured gap.
    response = _as(api_client, officer).post(f"/api/deployment-requests/{request_id}/waivers/", body, format="json")
    assert response.status_code == 201, response.content
    waiver = GateWaiver.objects.get()
    request = DeploymentRequest.objects.get(pk=request_id)
    assert waiver.audit_result_hash == request.audit_result_hash
    assert any(0.30 < v < 0.45 for v in waiver.measured.values()), waiver.measured
    assert _approve(api_client, reviewers[0], request_id).json()["status"] == "approved"

    # The attack of the review: a later audit with a worse gap (0.45 against the waived 0.30). The waiver,
    # matched by gate name only on the old main, kept the request approved; it is void now, and so is the approval.
    _audit_completes(completed_audit(version, gap=0.45))
    assert _status(request_id) == "pending"
    waiver.refresh_from_db()
    assert waiver.voided_at is not None and "audit results" in waiver.voided_reason
    assert _logged("gate_waiver.voided", request=request_id)
    assert Deployment.objects.get(request_id=request_id).status == "suspended"
    response = _approve(api_client, reviewers[1], request_id)
    assert response.status_code == 409 and "Fairness" in response.json()["non_field_errors"][0]
    assert _logged("deployment_request.approval_refused")


def test_point_3_every_audit_after_the_cited_one_is_judged_not_only_the_newest(api_client, engineer, reviewers,
                                                                                 officer):
    from governance.approvals import gates
    from governance.approvals.selectors import policy_for

    _staging(officer, min_accuracy=0.8)
    version = ready_version(engineer)
    request_id = _request(api_client, engineer, completed_audit(version, accuracy=0.9))
    # The attack: an audit that fails, buried under a passing audit on 40 rows run after it.
    failing = completed_audit(version, accuracy=0.6)
    tiny = completed_audit(version, accuracy=0.95, n_per_group=20)
    assert tiny.finished_at > failing.finished_at
    newest = gates.evaluate(policy=policy_for("staging"), model_version=version, audit=tiny,
                            results={r.kind: r.data for r in tiny.results.all()}, now=timezone.now())
    assert all(g["passed"] for g in newest)  # judging only the newest audit lets the approval through
    response = _approve(api_client, reviewers[0], request_id)
    assert response.status_code == 409, response.content
    assert f"newer audit #{failing.pk}" in response.json()["non_field_errors"][0]
    request = DeploymentRequest.objects.get(pk=request_id)
    assert request.status == "pending" and request.audit_id == failing.pk and not Deployment.objects.exists()
    assert f"newer audit #{failing.pk}" in _logged("deployment_request.voided")[-1].payload["why"]
    # Nor does citing the passing 40-row audit itself get round the failing one before it.
    assert _as(api_client, reviewers[1]).post(f"/api/deployment-requests/{request_id}/reject/",
                                              {"reason": "fails on audit #%d" % failing.pk},
                                              format="json").status_code == 200
    direct = _request(api_client, engineer, tiny)
    response = _approve(api_client, reviewers[0], direct)
    assert response.status_code == 409 and f"earlier audit #{failing.pk}" in response.json()["non_field_errors"][0]
    assert DeploymentRequest.objects.get(pk=direct).audit_id == failing.pk and not Deployment.objects.exists()


def test_point_4_n_of_m_counts_only_reviewers_designated_now_and_a_policy_change_rejudges(
        api_client, engineer, reviewers, officer):
    first, second, third = reviewers
    deployment_policy_update(actor=officer, environment="production", required_approvals=2, approvers=reviewers,
                             max_audit_age_days=None, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    request_id = _request(api_client, engineer, completed_audit(ready_version(engineer)), environment="production")
    assert _approve(api_client, first, request_id).status_code == 200
    # `first` leaves the approval pool; the old main still counted their approval towards N.
    deployment_policy_update(actor=officer, environment="production", required_approvals=2,
                             approvers=[second, third], max_audit_age_days=None, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    rejudged = _logged("deployment_policy.requests_rejudged")[-1].payload["requests"][str(request_id)]
    assert rejudged["approvals_no_longer_counted"] == [first.username]
    # The attack: one more designated approval would have made 2 of 2.
    assert _approve(api_client, second, request_id).json()["status"] == "pending"
    assert not Deployment.objects.exists()
    assert _approve(api_client, third, request_id).json()["status"] == "approved"
    # A policy change that undesignates an approver re-judges the approved request: 1 of 2 counted, voided,
    # its deployment suspended.
    newcomer = make_user(REVIEWER)
    deployment_policy_update(actor=officer, environment="production", required_approvals=2,
                             approvers=[second, newcomer], max_audit_age_days=None, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False)
    assert _status(request_id) == "pending"
    assert "designates now" in _logged("deployment_request.voided")[-1].payload["why"]
    assert Deployment.objects.get(request_id=request_id).status == "suspended"
    response = _approve(api_client, first, request_id)  # and one no longer designated cannot approve
    assert response.status_code == 403 and "designated" in response.json()["non_field_errors"][0]


def test_point_5_the_api_approves_and_waives_only_with_the_step_up_the_page_asks(api_client, engineer, reviewers,
                                                                                 officer):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _staging(officer, fairness_rules=[DPD])
    reviewer = reviewers[0]
    good = _request(api_client, engineer, completed_audit(ready_version(engineer), n_per_group=2000))
    # The attack: a session or API token alone approves (the old main's API asked for nothing).
    for step_up, said in (({}, "Step-up required"), ({"password": "guess"}, "password is not correct")):
        response = _as(api_client, reviewer).post(f"/api/deployment-requests/{good}/approve/", step_up,
                                                  format="json")
        assert response.status_code == 403 and said in response.json()["non_field_errors"][0]
    assert not Approval.objects.exists() and _status(good) == "pending"
    assert len(_logged("deployment_request.step_up_failed", decision="approve")) == 2
    waived = _request(api_client, engineer, completed_audit(ready_version(engineer), gap=0.3))
    response = _as(api_client, officer).post(f"/api/deployment-requests/{waived}/waivers/", {
        "gate": "fairness", "reason": "r", "expires_at": (timezone.now() + timedelta(days=3)).isoformat()},
        format="json")
    assert response.status_code == 403 and not GateWaiver.objects.exists()
    assert _logged("deployment_request.step_up_failed", decision="waive")

    # A reviewer with a TOTP device (django-otp): enrolled through the API, then the code is required.
    api = _as(api_client, reviewer)
    assert api.post("/api/account/totp/", {"password": "guess"}, format="json").status_code == 403
    enrolled = api.post("/api/account/totp/", {"password": PASSWORD}, format="json")
    assert enrolled.status_code == 201 and enrolled.json()["otpauth_url"].startswith("otpauth://totp/")
    device = TOTPDevice.objects.get(user=reviewer)
    assert api.post("/api/account/totp/confirm/", {"token": "000000"}, format="json").status_code == 400
    code = totp_code(device)
    assert api.post("/api/account/totp/confirm/", {"token": code}, format="json").json()["step_up"] == "otp_token"
    response = _approve(api_client, reviewer, good)  # the password alone no longer signs
    assert response.status_code == 403 and "TOTP" in response.json()["non_field_errors"][0]
    response = _approve(api_client, reviewer, good, otp_token=code)  # the code the confirmation spent: a replay
    assert response.status_code == 403 and "already used" in response.json()["non_field_errors"][0]
    time.sleep(1.1)  # django-otp throttles the device after a failure (1 s, doubling with each)
    response = _approve(api_client, reviewer, good, otp_token=totp_code(device, steps_ahead=1))
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert audit_log_verify().ok


def test_point_6_result_rows_rewritten_behind_the_hash_are_detected_at_approval(api_client, engineer, reviewers,
                                                                                officer):
    _staging(officer, min_accuracy=0.8)
    request_id = _request(api_client, engineer, completed_audit(ready_version(engineer), accuracy=0.7))
    request = DeploymentRequest.objects.get(pk=request_id)
    assert {g["gate"]: g["passed"] for g in request.gate_results}["min_accuracy"] is False
    # The attack, as the database owner: the metrics row the accuracy gate reads is rewritten in place (0.70 →
    # 0.95); the hash columns (the audit's result hash, the row's sha256) are left as they were, which is all
    # the old main compared.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audits_auditresult SET data = jsonb_set(data, '{accuracy}', '0.95') "
                       "WHERE audit_id = %s AND kind = 'metrics'", [request.audit_id])
    response = _approve(api_client, reviewers[0], request_id)
    assert response.status_code == 403 and "tampering" in response.json()["non_field_errors"][0]
    assert not Deployment.objects.exists() and _status(request_id) == "pending"
    detected = _logged("audit.tampering_detected")
    assert detected and "no longer match their digests" in detected[-1].payload["why"]
    assert _logged("deployment_request.voided")[-1].payload["tampering"] is True
    # A more careful insider also rewrites the row's sha256: the result hash recomputed from the rows still
    # differs from the one the request is bound to.
    for row in AuditResult.objects.filter(audit_id=request.audit_id):
        AuditResult.objects.filter(pk=row.pk).update(
            sha256=hashlib.sha256(canonical_json(row.data).encode()).hexdigest())
    assert "hash to" in tampering(Audit.objects.get(pk=request.audit_id), request.audit_result_hash)
    response = _approve(api_client, reviewers[1], request_id)
    assert response.status_code == 403 and "tampering" in response.json()["non_field_errors"][0]
    assert len(_logged("audit.tampering_detected")) == 2 and not Deployment.objects.exists()
    assert audit_log_verify().ok


def test_point_7_personal_data_metadata_counts_only_once_a_compliance_officer_confirmed_it(
        api_client, engineer, reviewers, officer):
    _staging(officer, require_dpia_for_personal_data=True, require_lawful_basis=True)
    # The attack: the ML engineer declares the DPIA reference and the lawful basis at upload.
    version = ready_version(engineer, confirmed=False)
    dataset = version.dataset_version.dataset
    assert dataset.dpia_reference and dataset.lawful_basis == "consent"
    request_id = _request(api_client, engineer, completed_audit(version))
    gates = {g["gate"]: g for g in DeploymentRequest.objects.get(pk=request_id).gate_results}
    assert not gates["dpia"]["passed"] and "not confirmed by a compliance officer" in gates["dpia"]["detail"]
    assert not gates["lawful_basis"]["passed"]
    response = _approve(api_client, reviewers[0], request_id)
    assert response.status_code == 409 and "DPIA" in response.json()["non_field_errors"][0]
    assert _logged("deployment_request.approval_refused")
    # The maker cannot confirm their own declaration, even holding the officer's role.
    url = f"/api/datasets/{dataset.pk}/confirm-metadata/"
    assert _as(api_client, engineer).post(url, {}, format="json").status_code == 403
    engineer.groups.add(*officer.groups.all())
    engineer._role_names = None
    assert _as(api_client, engineer).post(url, {}, format="json").status_code == 403
    confirmed = _as(api_client, officer).post(url, {}, format="json")
    assert confirmed.status_code == 200 and confirmed.json()["metadata_confirmation"]["by"] == officer.username
    assert _logged("dataset.metadata_confirmed")
    assert _approve(api_client, reviewers[0], request_id).json()["status"] == "approved"
    # Editing the metadata clears the confirmation (logged) and re-judges the approved request: suspended.
    from governance.datasets.services import dataset_metadata_update

    dataset_metadata_update(actor=officer, dataset=dataset, dpia_reference="DPIA-2026-999")
    assert _logged("dataset.metadata_updated")[-1].payload["confirmation_cleared"] is True
    assert _status(request_id) == "pending"
    assert Deployment.objects.get(request_id=request_id).status == "suspended"
    # Behind the services' back, as the database owner: the confirmation no longer matches the values.
    _as(api_client, officer).post(url, {}, format="json")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE datasets_dataset SET lawful_basis = 'contract' WHERE id = %s", [dataset.pk])
    assert _as(api_client, officer).get(f"/api/datasets/{dataset.pk}/").json()["metadata_confirmation"] is None
