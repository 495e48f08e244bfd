"""The journeys of JOURNEYS.md in headless Chromium, with axe-core on every page they visit.

One test walks journeys 1 → 2 → 3 → 4 on one small dataset (one training run dominates the cost): the engineer
uploads, trains and watches the bar, audits with explanations, reads and exports the report, requests a
staging deployment; the compliance officer confirms the dataset's personal-data metadata; a reviewer approves
it (signing with the password); the compliance officer exports the record of processing and
answers an access request; an auditor verifies the log. Jobs run in threads of the live server
(JOB_DISPATCH=thread), so the pages poll real progress. Screenshots go to docs/screenshots/ (README).
"""

from __future__ import annotations

import re
import time

import pytest

from governance.roles import AUDITOR, COMPLIANCE_OFFICER, REVIEWER
from governance.approvals.models import DeploymentRequest
from governance.audits import services as audit_services
from governance.audits.models import Audit
from governance.auditlog.models import AuditLogEntry
from governance.datasets.models import DatasetRecord, DatasetVersion
from governance.jobs.models import Job
from governance.registry.models import ModelVersion
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import SCREENSHOTS, browser_page, login
from tests.factories import PASSWORD, hiring_bytes, make_user, upload_hiring

pytestmark = [pytest.mark.browser]

TABLET = (820, 1180)


def _shot(page, name: str, *, full_page: bool = False, selector: str | None = None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if selector:
        page.locator(selector).first.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    else:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _visit(page, url: str) -> None:
    page.goto(url)
    assert_accessible(page)


def _bar_percent(page) -> float:
    return float(page.get_attribute("[data-job-id] .bar", "aria-valuenow") or 0)


def test_engineer_reviewer_compliance_and_auditor_journeys(live_server, transactional_db, settings, tmp_path,
                                                          monkeypatch):
    settings.JOB_DISPATCH = "thread"
    # The PII scan's engine (Presidio, the name lists) is built once per process, in seconds on a busy box:
    # built here, the upload's scan finishes before the next page is opened, not during it (its page reloads).
    from models_core.pii import find_pii
    find_pii("Applicant Ana Diaz")
    # SHAP and IG only: LIME's thousands of perturbations per text add minutes and nothing the pages need
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap", "ig"])
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "n_boot", 200)
    engineer = make_user(username="erin-engineer")
    reviewer = make_user(REVIEWER, username="rui-reviewer")
    officer = make_user(COMPLIANCE_OFFICER, username="dana-dpo")
    auditor = make_user(AUDITOR, username="aud-auditor")
    upload = tmp_path / "applicants.csv"
    upload.write_bytes(hiring_bytes(200, seed=7))
    base = live_server.url

    # ---- Journey 1: the ML engineer, from data to a deployment request
    with browser_page() as page:
        login(page, base, engineer.username, PASSWORD)
        assert_accessible(page, "home")
        _visit(page, f"{base}/datasets/upload/")
        page.fill("#id_name", "applicants-2026")
        page.set_input_files("#id_file", str(upload))
        page.fill("#id_label_column", "hired")
        page.fill("#id_sensitive_attributes", "gender, age_band")
        page.select_option("#id_lawful_basis", "consent")
        page.fill("#id_purposes", "Shortlisting applicants")
        page.fill("#id_retention_days", "365")
        page.fill("#id_dpia_reference", "DPIA-2026-014")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/datasets/versions/\d+/$"))
        assert "200" in page.inner_text("main")
        assert_accessible(page, "dataset version")
        data = DatasetVersion.objects.get(dataset__name="applicants-2026")

        _visit(page, f"{base}/models/train/?dataset_version={data.pk}")
        page.fill("#id_model_name", "screening")
        page.fill("#id_epochs", "2")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/models/versions/\d+/$"))
        # the bar moves without a reload while the worker thread trains, then the page shows the result
        shown = time.time()
        seen = {_bar_percent(page)}
        deadline = time.time() + 240
        while time.time() < deadline and not page.locator("h1 .badge.ready").count():
            seen.add(_bar_percent(page))
            page.wait_for_timeout(300)
        version = ModelVersion.objects.get(model__name="screening")
        assert version.status == "ready", version.error
        if len(seen) < 2:
            # Only a job that ends before the page's second poll (1 s apart) leaves nothing to show live: the
            # frozen encoder's features on 200 rows take well under a second since the oneDNN kernel (issue 19).
            # A job still running after that, whose bar never moved, fails here.
            job = Job.objects.filter(kind="training", subject_id=version.pk).latest("created_at")
            after = job.finished_at.timestamp() - shown
            assert after < 2.0, f"the bar never moved, and the job ran {after:.1f} s after the page showed: {seen}"
        page.wait_for_selector("h1 .badge.ready")
        assert_accessible(page, "model version")

        holdout = upload_hiring(engineer, n_rows=120, seed=99, name="applicants-holdout", lawful_basis="consent",
                                purposes="Shortlisting applicants", retention_days=365,
                                dpia_reference="DPIA-2026-014")
        _visit(page, f"{base}/audits/new/?model_version={version.pk}&dataset_version={holdout.pk}")
        page.fill("#id_explain_rows", "2")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/audits/\d+/$"))
        page.wait_for_selector("#verdict .verdict-env", timeout=600_000)
        audit = Audit.objects.get(model_version=version)
        assert audit.status == "complete", audit.error
        report = page.inner_text("main")
        for expected in ("Verdict against the deployment policies", "Staging:", "Fairness by group",
                         "Token heatmaps", "Global word importance", "Lineage", audit.result_hash):
            assert expected in report, expected
        assert_accessible(page, "audit report")
        _shot(page, "report-top")
        _shot(page, "report-fairness-charts", selector="#fairness-charts")
        _shot(page, "report-token-heatmap", selector="#token-heatmaps ~ article")
        _shot(page, "report-global-tokens", selector="#explanations")
        _shot(page, "audit-report", full_page=True)
        page.hover("#explanation-1 .heatmap .tok >> nth=0")
        assert re.search(r": [+-]\d\.\d{4} \(SHAP\)", page.get_attribute("#explanation-1 .heatmap .tok", "title"))

        with page.expect_download() as download:
            page.click("text=Export HTML")
        exported = tmp_path / "report.html"
        download.value.save_as(exported)
        with page.expect_download() as pdf:
            page.click("text=Export PDF")
        assert pdf.value.suggested_filename.endswith(".pdf")

        _visit(page, f"{base}/approvals/new/?model_version={version.pk}&audit={audit.pk}")
        page.select_option("#id_environment", "staging")
        page.fill("#id_justification", "Shortlisting pilot in one region; audit shows no gap beyond policy.")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/approvals/\d+/$"))
        assert_accessible(page, "deployment request")
        request = DeploymentRequest.objects.get(model_version=version)
        assert request.status == "pending", request.gate_results

    # The exported report opens offline and carries everything the reviewer reads.
    html = exported.read_text()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    with browser_page() as page:
        page.context.set_offline(True)
        page.goto(exported.as_uri())
        text = page.inner_text("body")
        assert "Verdict against the deployment policies" in text and audit.result_hash in text
        assert "Provenance of this export" in text
        assert page.locator("svg[role=img]").count() >= 2
        assert_accessible(page, "exported report")

    # ---- The compliance officer confirms the personal-data metadata the engineer declared at upload: the DPIA
    # and lawful-basis gates count it only then (issue 15 point 7), and the request is judged again.
    with browser_page() as page:
        login(page, base, officer.username, PASSWORD)
        _visit(page, f"{base}/datasets/{data.dataset_id}/")
        assert "not confirmed" in page.inner_text("#metadata-confirmation")
        page.click("text=Confirm the personal-data metadata")
        page.wait_for_selector("#metadata-confirmation >> text=confirmed by")
        assert_accessible(page, "dataset (metadata confirmed)")
    request.refresh_from_db()
    assert all(g["passed"] for g in request.gate_results if g["gate"] in ("dpia", "lawful_basis")), request.gate_results

    # ---- Journey 2: the reviewer reads the report and approves
    with browser_page() as page:
        login(page, base, reviewer.username, PASSWORD)
        _visit(page, f"{base}/approvals/")
        page.click(f"a[href='/approvals/{request.pk}/']")
        page.wait_for_selector("text=Policy gates")
        assert_accessible(page, "request (reviewer)")
        _shot(page, "reviewer-request", full_page=True)
        page.click(f"main a[href='/audits/{audit.pk}/']")
        page.wait_for_selector("#verdict")
        page.go_back()
        page.fill("#id_password", PASSWORD)
        page.fill("#id_reason", "Gates pass; explanations read; staging only.")
        page.click("form[action$='/approve/'] button[type=submit]")
        page.wait_for_selector("h1 .badge.approved")
        assert_accessible(page, "approved request")
        request.refresh_from_db()
        assert request.status == "approved"

    # ---- Journey 3: the compliance officer exports the record of processing and answers an access request
    subject = DatasetRecord.objects.filter(version=data).order_by("row_index").first().subject_id
    with browser_page() as page:
        login(page, base, officer.username, PASSWORD)
        _visit(page, f"{base}/compliance/")
        assert "applicants-2026" in page.inner_text("main")
        _shot(page, "compliance", full_page=True)
        with page.expect_download() as record:
            page.click("text=Export as JSON")
        assert record.value.suggested_filename.endswith(".json")
        _visit(page, f"{base}/compliance/requests/")
        page.select_option("#id_kind", "access")
        page.fill("#id_subject_id", subject)
        page.click("main form button[type=submit]")
        page.wait_for_selector("text=Answer (Art. 15)")
        assert "screening v1" in page.inner_text("main")
        assert_accessible(page, "access request")
        with page.expect_download() as letter:
            page.click("text=Letter (PDF)")
        assert letter.value.suggested_filename.endswith(".pdf")

    # ---- Journey 4: the auditor verifies the log
    with browser_page() as page:
        login(page, base, auditor.username, PASSWORD)
        _visit(page, f"{base}/audit-log/")
        page.click("text=Verify the chain")
        page.wait_for_load_state()
        assert_accessible(page, "audit log (verified)")
        _shot(page, "audit-log")
    assert AuditLogEntry.objects.filter(action="audit.report_exported", object_id=str(audit.pk)).count() == 2

    # ---- The report at tablet width
    with browser_page(viewport=TABLET) as page:
        login(page, base, reviewer.username, PASSWORD)
        _visit(page, f"{base}/audits/{audit.pk}/")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= TABLET[0] + 1, f"the report scrolls sideways at {TABLET[0]}px ({width}px)"
        _shot(page, "report-tablet")
