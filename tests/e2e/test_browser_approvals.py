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
