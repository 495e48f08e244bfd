"""Step-up for the decisions that sign something: the password, or the code of a confirmed TOTP device
(django-otp), enrolled on the page or through the API; the page and the API ask the same."""

from __future__ import annotations

import re
import time

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from governance.accounts.step_up import step_up_verify
from governance.approvals.services import deployment_policy_update, deployment_request_create
from governance.auditlog.models import AuditLogEntry
from governance.errors import NotAllowed
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from tests.factories import PASSWORD, make_user
from tests.governance.accounts.totp import totp_code
from tests.governance.approvals.evidence import completed_audit, ready_version

pytestmark = pytest.mark.django_db


def _code(device) -> str:
    return totp_code(device)


def test_a_totp_device_is_enrolled_on_the_page_and_then_signs_approvals_instead_of_the_password(client, engineer):
    reviewer = make_user(REVIEWER)
    client.force_login(reviewer)
    page = client.get("/account/totp/")
    assert page.status_code == 200 and b"your password" in page.content
    assert client.post("/account/totp/", {"password": "wrong"}).status_code == 400
    shown = client.post("/account/totp/", {"password": PASSWORD})
    assert shown.status_code == 200 and b"Shown once" in shown.content
    key = re.search(r'id="totp-key">([A-Z2-7=]+)<', shown.content.decode()).group(1)
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)
    assert key.rstrip("=") and device.bin_key  # the key shown is the device's
    wrong = client.post("/account/totp/", {"token": "123456" if _code(device) != "123456" else "654321"})
    assert wrong.status_code == 400 and b"not correct" in wrong.content
    assert client.post("/account/totp/", {"token": _code(device)}).status_code == 302
    assert b"confirmed" in client.get("/account/totp/").content
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"totp_device.enrolment_started", "totp_device.confirmed"} <= actions
    assert all(device.key not in str(e.payload) for e in AuditLogEntry.objects.all())  # the secret is never logged

    officer = make_user(COMPLIANCE_OFFICER)
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    audit = completed_audit(ready_version(engineer))
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="pilot")
    page = client.get(f"/approvals/{request.pk}/").content.decode()
    assert "a current code from your TOTP device" in page
    refused = client.post(f"/approvals/{request.pk}/approve/", {"password": PASSWORD})
    assert refused.status_code == 400 and b"TOTP" in refused.content
    # This time step's code was spent on the confirmation (a replay is refused): the app's next one signs.
    assert client.post(f"/approvals/{request.pk}/approve/", {"otp_token": _code(device)}).status_code == 400
    time.sleep(1.1)  # django-otp throttles the device after a failure (1 s, doubling with each)
    assert client.post(f"/approvals/{request.pk}/approve/",
                       {"otp_token": totp_code(device, steps_ahead=1)}).status_code == 302
    assert AuditLogEntry.objects.filter(action="deployment_request.approved").exists()


def test_a_code_is_not_accepted_twice_and_a_second_device_cannot_be_slipped_in(api_client):
    reviewer = make_user(REVIEWER)
    api_client.force_authenticate(reviewer)
    assert api_client.post("/api/account/totp/", {"password": PASSWORD}, format="json").status_code == 201
    device = TOTPDevice.objects.get(user=reviewer)
    code = _code(device)
    assert api_client.post("/api/account/totp/confirm/", {"token": code}, format="json").status_code == 200
    with pytest.raises(NotAllowed, match="already used"):
        step_up_verify(user=reviewer, otp_token=code)
    response = api_client.post("/api/account/totp/", {"password": PASSWORD}, format="json")
    assert response.status_code == 409 and TOTPDevice.objects.filter(user=reviewer).count() == 1
    assert api_client.get("/api/account/totp/").json() == {"confirmed": True, "pending": False,
                                                           "step_up": "otp_token"}
