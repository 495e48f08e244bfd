"""In headless Chromium, journey 3: the compliance officer keeps the profile, answers an access request,
erases the subject, decides on the model trained on them, and sees the access answer come back empty."""

from __future__ import annotations

import pytest

from governance.roles import COMPLIANCE_OFFICER
from governance.compliance.models import ErasureImpact, SubjectRequest
from governance.datasets.models import DatasetRecord
from governance.registry.services import model_version_request_training
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import SCREENSHOTS, browser_page, login
from tests.factories import PASSWORD, make_user, upload_hiring

pytestmark = [pytest.mark.browser]


def test_compliance_officer_answers_then_erases_a_subject(live_server, transactional_db, settings):
    settings.JOB_DISPATCH = "inline"
    engineer = make_user()
    data = upload_hiring(engineer, n_rows=60, name="applicants", lawful_basis="consent", purposes="Hiring",
                         retention_days=365)
    version = model_version_request_training(actor=engineer, model_name="screening", dataset_version=data, epochs=1)
    subject = DatasetRecord.objects.filter(version=data).order_by("row_index").first().subject_id
    officer = make_user(COMPLIANCE_OFFICER)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        login(page, live_server.url, officer.username, PASSWORD)
        page.click("header >> text=Compliance")
        page.click("text=Edit the organisation profile")
        page.fill("#id_controller_name", "")
        page.eval_on_selector("main form", "form => { form.noValidate = true; }")  # let the server judge it
        page.click("main button[type=submit]")
        assert "required" in page.wait_for_selector(".errorlist").inner_text().lower()
        page.fill("#id_controller_name", "Acme Hiring Ltd")
        page.fill("#id_dpo_name", "Dana Protection")
        page.click("main button[type=submit]")
        page.wait_for_selector("text=Organisation profile saved.")
        assert_accessible(page, "compliance home")

        page.goto(f"{live_server.url}/compliance/requests/")
        page.select_option("#id_kind", "access")
        page.fill("#id_subject_id", subject)
        page.click("main form button[type=submit]")
        page.wait_for_selector("text=Answer (Art. 15)")
        body = page.inner_text("main")
        assert "1 record(s) in 1 dataset(s)" in body and "screening v1" in body
        with page.expect_download() as download:
            page.click("text=Letter (PDF)")
        assert download.value.suggested_filename.endswith(".pdf")
        assert_accessible(page, "access request")
        page.screenshot(path=str(SCREENSHOTS / "compliance-access-answer.png"), full_page=True)

        page.goto(f"{live_server.url}/compliance/requests/")
        page.select_option("#id_kind", "erasure")
        page.fill("#id_subject_id", subject)
        page.click("main form button[type=submit]")
        page.wait_for_selector("text=Fulfil the erasure")
        page.select_option("#id_ground", "b")
        page.check("#id_redact_mentions")
        page.click("text=Erase")
        page.wait_for_selector("text=Erasure certificate")
        assert not DatasetRecord.objects.filter(subject_id=subject).exists()
        stores = page.inner_text("#certificate-stores")
        assert "dataset records" in stores and "mentions in other people's records" in stores
        impact = ErasureImpact.objects.get(model_version=version)
        page.select_option(f"#id_i{impact.pk}-decision", "keep")
        page.click("text=Record the decision")
        assert "justification" in page.wait_for_selector(".errorlist").inner_text().lower()
        page.select_option(f"#id_i{impact.pk}-decision", "keep")
        page.fill(f"#id_i{impact.pk}-justification", "One row of sixty; retrain at the next scheduled release")
        page.click("text=Record the decision")
        page.wait_for_selector("text=Decision recorded.")
        assert_accessible(page, "erasure request")
        page.screenshot(path=str(SCREENSHOTS / "compliance-erasure.png"), full_page=True)

        page.goto(f"{live_server.url}/compliance/requests/")
        page.select_option("#id_kind", "access")
        page.fill("#id_subject_id", subject)
        page.click("main form button[type=submit]")
        page.wait_for_selector("text=No personal data about this subject is held.")
        erasure = SubjectRequest.objects.get(kind="erasure")
        assert erasure.reference in page.inner_text("main")

        for path, where in ((f"/compliance/annex-iv/{version.pk}/", "Annex IV"), ("/compliance/retention/", "retention"),
                            ("/compliance/datasets/", "datasets metadata"), (f"/datasets/versions/{data.pk}/",
                                                                              "dataset version with its PII scan")):
            page.goto(f"{live_server.url}{path}")
            assert_accessible(page, where)
        assert "Still missing" in page.goto(f"{live_server.url}/compliance/annex-iv/{version.pk}/").text()
