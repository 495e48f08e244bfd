"""In headless Chromium: journey 2 (a reviewer decides on a deployment) and journey 4 (an auditor verifies)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.roles import AUDITOR, COMPLIANCE_OFFICER, REVIEWER
from governance.approvals.services import deployment_policy_update, deployment_request_create
from tests.e2e.browser import SCREENSHOTS, browser_page, login
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.evidence import completed_audit, ready_version

pytestmark = [pytest.mark.browser]


def test_a_waived_gate_two_reviewers_the_timeline_and_the_verified_log(live_server, transactional_db):
    engineer, officer, auditor = make_user(), make_user(COMPLIANCE_OFFICER), make_user(AUDITOR)
    first, second = make_user(REVIEWER), make_user(REVIEWER)
    deployment_policy_update(actor=officer, environment="production", required_approvals=2, max_audit_age_days=30,
                             fairness_rules=[{"metric": "demographic_parity_difference", "grouping": "*",
                                              "max": 0.1}])
    audit = completed_audit(ready_version(engineer), gap=0.2)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="production",
                                        audit=audit, justification="Replace the manual shortlist.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        login(page, live_server.url, officer.username, PASSWORD)
        page.goto(f"{live_server.url}/approvals/{request.pk}/")
        assert "fail" in page.inner_text("table")
        page.click("text=Record a waiver")
        page.select_option("#id_gate", "fairness")
        page.fill("form[action$='/waiver/'] #id_reason", "Pilot: a recruiter reviews every decision.")
        page.fill("#id_expires_at", (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("form[action$='/waiver/'] #id_password", PASSWORD)  # a waiver is signed like an approval
        page.click("form[action$='/waiver/'] button[type=submit]")
        page.wait_for_selector("text=waived")
        page.click("text=Audit log")
        page.click("text=Sign a checkpoint now")
        page.wait_for_selector("text=Signed checkpoint")
        page.click("button[type=submit] >> text=Log out")

        for number, reviewer in enumerate((first, second), start=1):
            login(page, live_server.url, reviewer.username, PASSWORD)
            page.click("text=Deployments")
            page.click(f"a[href='/approvals/{request.pk}/']")  # the inbox comes first on the page
            body = page.inner_text("main")
            assert "Replace the manual shortlist." in body and "Fairness disparities" in body and "waived" in body
            page.fill("form[action$='/comment/'] #id_body", f"Checked by reviewer {number}.")
            page.click("form[action$='/comment/'] button[type=submit]")
            page.wait_for_selector(f"text=Checked by reviewer {number}.")
            page.fill("#id_password", "not-my-password")
            page.click("form[action$='/approve/'] button[type=submit]")
            assert "password is not correct" in page.inner_text(".errorlist")
            page.fill("#id_password", PASSWORD)
            page.click("form[action$='/approve/'] button[type=submit]")
            page.wait_for_selector(f"text={number} of 2 needed" if number == 1 else "h1 >> text=Approved")
            if number == 2:
                page.screenshot(path=str(SCREENSHOTS / "deployment-request.png"), full_page=True)
            page.click("button[type=submit] >> text=Log out")

        login(page, live_server.url, auditor.username, PASSWORD)
        page.goto(f"{live_server.url}/models/{audit.model_version.model_id}/timeline/")
        assert "serving" in page.inner_text("table")
        page.click("text=Audit log")
        page.click("text=Verify the chain")
        verdict = page.inner_text("[role=status]")
        assert "Chain intact" in verdict and "signed checkpoint" in verdict
        page.screenshot(path=str(SCREENSHOTS / "audit-log-verified.png"), full_page=True)


def test_a_suspended_deployment_shows_in_the_browser_and_the_totp_page_signs_the_next_approval(
        live_server, transactional_db):
    """Issue 15: a request that loses its approval suspends its deployment (timeline, model page, request page,
    badges); the reviewer enrols a TOTP device on its page and signs the next approval with its code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from governance.approvals.services import deployment_request_approve
    from tests.e2e.a11y import assert_accessible
    from tests.governance.accounts.totp import totp_code

    engineer, officer, reviewer = make_user(), make_user(COMPLIANCE_OFFICER), make_user(REVIEWER)
    fields = {"required_approvals": 1, "max_audit_age_days": None, "require_explanations": False,
              "require_dpia_for_personal_data": False, "require_lawful_basis": False}
    deployment_policy_update(actor=officer, environment="staging", min_accuracy=0.8, **fields)
    audit = completed_audit(ready_version(engineer), accuracy=0.9)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="Pilot.")
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    deployment_policy_update(actor=officer, environment="staging", min_accuracy=0.95, **fields)  # tightened
    model = audit.model_version.model_id
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/models/{model}/timeline/")
        assert page.locator("a.suspension").count() == 1
        assert "suspended" in page.inner_text("table") and "lost its approval" in page.inner_text("table")
        assert_accessible(page, "timeline (suspended)")
        page.goto(f"{live_server.url}/models/{model}/")
        assert page.locator("table .badge.bad >> text=suspended").count() == 1  # the deployments table
        assert page.locator("h3 .badge.bad >> text=suspended").count() == 1  # its monitoring lane
        page.goto(f"{live_server.url}/approvals/{request.pk}/")
        assert "suspended" in page.inner_text("main")
        page.click("button[type=submit] >> text=Log out")

        deployment_policy_update(actor=officer, environment="staging", min_accuracy=0.8, **fields)
        login(page, live_server.url, reviewer.username, PASSWORD)
        page.click("text=Two-factor")
        page.fill("#id_password", PASSWORD)
        page.click("main form button[type=submit] >> text=Create a key")
        page.wait_for_selector("#totp-key")
        assert_accessible(page, "two-factor enrolment")
        device = TOTPDevice.objects.get(user=reviewer)
        page.fill("#id_token", totp_code(device))
        page.click("text=Confirm the device")
        page.wait_for_selector("text=Your TOTP device is enrolled")
        page.goto(f"{live_server.url}/approvals/{request.pk}/")
        assert "a current code from your TOTP device" in page.inner_text("main")
        page.fill("form[action$='/approve/'] #id_password", PASSWORD)
        page.click("form[action$='/approve/'] button[type=submit]")
        assert "TOTP" in page.inner_text(".errorlist")  # the password alone no longer signs
        page.fill("form[action$='/approve/'] #id_otp_token", totp_code(device, steps_ahead=1))  # the app's next
        page.click("form[action$='/approve/'] button[type=submit]")
        page.wait_for_selector("h1 >> text=Approved")
        page.goto(f"{live_server.url}/models/{model}/timeline/")
        assert "resumed" in page.inner_text("table") and page.locator(".badge.ok >> text=serving").count() == 1
