"""In headless Chromium: a running audit's page fills in each stage as the worker stores it, without a reload,
under the provisional banner, and shows the ETA (the worker's side is played through the audits services)."""

from __future__ import annotations

import pytest

from governance.audits import services as audit_services
from governance.audits.services import audit_request
from governance.jobs import services as jobs
from governance.jobs.models import Job
from models_core.fairness.counterfactual import counterfactual_report
from models_core.metrics import classification_summary
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD, make_user, upload_hiring
from tests.governance.approvals.evidence import ready_version

pytestmark = [pytest.mark.browser]


def test_stages_appear_as_they_are_stored_without_reload(live_server, transactional_db, settings):
    settings.JOB_DISPATCH = "celery"  # sent to this test's Redis index; no worker takes it, the test plays one
    engineer = make_user()
    version = ready_version(engineer)
    holdout = upload_hiring(engineer, n_rows=40, seed=3)
    audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
    job = jobs.job_start(job_id=Job.objects.get(kind="audit", subject_id=audit.pk).pk)
    audit_services._audit_mark_running(audit)
    store = audit_services._ProvisionalResults(audit=audit, job=job)
    y_true, y_pred = [0, 1] * 20, [0, 1, 1, 0] * 10
    store.store("metrics", {**classification_summary(y_true, y_pred, ["no", "yes"]), "decision": {"rule": "argmax"}})
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/audits/{audit.pk}/")
        page.wait_for_selector("#provisional")
        assert page.query_selector("#performance") and not page.query_selector("#counterfactual")
        page.evaluate("() => { window.__sameDocument = true; }")
        jobs.job_progress(job=job, stage="counterfactual", percent=64, force=True, eta_s=95)
        texts = ["She led a team.", "He led a team."]
        store.store("counterfactual", counterfactual_report(texts, lambda batch: [[0.4, 0.6]] * len(batch),
                                                            word_pairs=[["she", "he"]], groups=["female", "male"]))
        page.wait_for_selector("#counterfactual", timeout=15000)
        page.wait_for_selector("text=about 1 min 35 s left", timeout=15000)
        assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
        assert "final when all stages are done" in page.inner_text("#provisional")
        assert not page.query_selector("#fairness-verdict")
        assert_accessible(page, "audit report with provisional results")
