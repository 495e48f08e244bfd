"""A deployment policy's `require_totp`: approvals and waivers in that environment are signed with a TOTP code
only. Without a confirmed device: 403 telling the user to enrol on the account page; with one: the code, never the
password. The policy page, the API field, the request page and the API all follow it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from governance.approvals.models import Approval, DeploymentPolicy
from governance.approvals.services import deployment_policy_update, deployment_request_create
from governance.auditlog.models import AuditLogEntry
from tests.factories import PASSWORD
from tests.governance.accounts.totp import totp_code
from tests.governance.approvals.evidence import completed_audit, ready_version

pytestmark = pytest.mark.django_db

GAP_RULE = [{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1}]


@pytest.fixture
def production_request(officer, engineer):
    """Production requires TOTP; the request's audit fails the fairness gate (something to waive)."""
    deployment_policy_update(actor=officer, environment="production", required_approvals=2, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False, require_totp=True)
    audit = completed_audit(ready_version(engineer))
    return deployment_request_create(actor=engineer, model_version=audit.model_version, environment="production",
                                     audit=audit, justification="Go live.")


def device_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def test_the_policy_page_and_the_api_set_and_show_require_totp(client, api_client, officer):
    assert DeploymentPolicy._meta.get_field("require_totp").default is False
    client.force_login(officer)
    form = client.get("/approvals/policies/staging/")
    assert form.status_code == 200 and b"id_require_totp" in form.content
    saved = client.post("/approvals/policies/staging/", {"required_approvals": 1, "fairness_rules": "[]",
                                                        "require_totp": "on"})
    assert saved.status_code == 302 and DeploymentPolicy.objects.get(environment="staging").require_totp
    assert b"TOTP required" in client.get("/approvals/policies/").content
    api_client.force_authenticate(officer)
    body = api_client.put("/api/deployment-policies/staging/", {"required_approvals": 1, "require_totp": False},
                          format="json").json()
    assert body["require_totp"] is False
    assert api_client.get("/api/deployment-policies/staging/").json()["require_totp"] is False
    entry = AuditLogEntry.objects.filter(action="deployment_policy.updated").order_by("-seq").first()
    assert entry.payload["require_totp"] is False


def test_attack_a_password_alone_cannot_approve_production_when_the_policy_requires_totp(
        api_client, production_request, reviewers):
    reviewer = reviewers[0]
    api_client.force_authenticate(reviewer)
    url = f"/api/deployment-requests/{production_request.pk}/approve/"
    refused = api_client.post(url, {"password": PASSWORD}, format="json")
    assert refused.status_code == 403
    message = refused.json()["non_field_errors"][0]
    assert "Two-factor authentication is required" in message and "/account/totp/" in message
    device = device_for(reviewer)  # enrolled now: still the password is refused, the code signs
    assert api_client.post(url, {"password": PASSWORD}, format="json").status_code == 403
    assert not Approval.objects.filter(request=production_request).exists()
    failures = AuditLogEntry.objects.filter(action="deployment_request.step_up_failed",
                                            object_id=str(production_request.pk))
    assert failures.count() == 2
    signed = api_client.post(url, {"otp_token": totp_code(device)}, format="json")
    assert signed.status_code == 200 and Approval.objects.filter(request=production_request).count() == 1


def test_the_request_page_asks_for_enrolment_then_for_the_code(client, production_request, reviewers):
    reviewer = reviewers[0]
    client.force_login(reviewer)
    page = client.get(f"/approvals/{production_request.pk}/").content.decode()
    assert 'id="totp-required"' in page and "enrol a TOTP device on your account page" in page
    assert "/account/totp/" in page and "deployment-request-approve" not in page
    refused = client.post(f"/approvals/{production_request.pk}/approve/", {"password": PASSWORD})
    assert refused.status_code == 403 and b"Two-factor authentication is required" in refused.content
    device = device_for(reviewer)
    page = client.get(f"/approvals/{production_request.pk}/").content.decode()
    assert "a current code from your TOTP device (the production policy requires it" in page
    assert client.post(f"/approvals/{production_request.pk}/approve/", {"password": PASSWORD}).status_code == 400
    assert client.post(f"/approvals/{production_request.pk}/approve/",
                       {"otp_token": totp_code(device)}).status_code == 302
    assert Approval.objects.filter(request=production_request, reviewer=reviewer).exists()


def test_waivers_in_that_environment_need_the_code_too(api_client, client, officer, engineer):
    deployment_policy_update(actor=officer, environment="production", required_approvals=2, max_audit_age_days=None,
                             fairness_rules=GAP_RULE, require_explanations=False,
                             require_dpia_for_personal_data=False, require_lawful_basis=False, require_totp=True)
    audit = completed_audit(ready_version(engineer), gap=0.2)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="production",
                                        audit=audit, justification="Go live.")
    waiver = {"gate": "fairness", "reason": "A recruiter reviews every decision.",
              "expires_at": (timezone.now() + timedelta(days=30)).isoformat(), "password": PASSWORD}
    api_client.force_authenticate(officer)
    url = f"/api/deployment-requests/{request.pk}/waivers/"
    refused = api_client.post(url, waiver, format="json")
    assert refused.status_code == 403 and "/account/totp/" in refused.json()["non_field_errors"][0]
    client.force_login(officer)
    page = client.post(f"/approvals/{request.pk}/waiver/", {**waiver, "expires_at": waiver["expires_at"][:16]})
    assert page.status_code == 403 and b"Two-factor authentication is required" in page.content
    device = device_for(officer)
    assert api_client.post(url, waiver, format="json").status_code == 403
    created = api_client.post(url, {**waiver, "password": "", "otp_token": totp_code(device)}, format="json")
    assert created.status_code == 201, created.json()


def test_without_the_policy_the_password_still_signs(api_client, officer, engineer, reviewers):
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    audit = completed_audit(ready_version(engineer))
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="pilot")
    api_client.force_authenticate(reviewers[0])
    assert api_client.post(f"/api/deployment-requests/{request.pk}/approve/", {"password": PASSWORD},
                           format="json").status_code == 200
