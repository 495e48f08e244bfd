"""Results as they come (issue 19), through a real Celery worker process: while the audit runs, its page and
API show the finished stages (explanations filling in chunk by chunk) under a provisional banner, with no
verdict, no result hash and no stored result; once every stage is done the final results replace them."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.urls import reverse

from governance.audits.models import Audit, AuditResult
from governance.audits.services import audit_request
from governance.jobs.models import Job
from tests.factories import PASSWORD, upload_hiring
from tests.governance.slice import trained_version

pytestmark = [pytest.mark.e2e]


def test_a_partial_report_is_visible_before_the_end_and_the_verdict_and_hash_only_after(
        celery_worker_process, inline_jobs, settings, engineer, client, api_client):
    version, _ = trained_version(engineer, inline_jobs, n_rows=200, epochs=2)  # trained here, in the test process
    settings.JOB_DISPATCH = "celery"  # the audit goes to the worker process
    holdout = upload_hiring(engineer, n_rows=40, seed=21)
    with transaction.atomic():  # sent on commit: SHAP only, so that twelve rows explain in a test's time
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=12)
        Audit.objects.filter(pk=audit.pk).update(config={**audit.config, "explain_methods": ["shap"]})
    client.login(username=engineer.username, password=PASSWORD)
    api_client.force_authenticate(engineer)

    seen_page = seen_partial = seen_eta = False
    deadline = time.time() + 600
    while time.time() < deadline:
        current = Audit.objects.get(pk=audit.pk)
        if current.status in ("complete", "failed"):
            break
        provisional = current.provisional
        if current.status == "running" and "metrics" in provisional:
            stored = AuditResult.objects.filter(audit=current).exists()
            assert current.result_hash == "" and not stored and "fairness_verdict" not in provisional
            if not seen_page:
                body = client.get(reverse("audit", args=[audit.pk])).content.decode()
                if 'id="provisional"' in body:  # still running when the page was drawn
                    assert 'id="performance"' in body and "No verdict yet" in body
                    assert 'id="fairness-verdict"' not in body
                    detail = api_client.get(f"/api/audits/{audit.pk}/").json()
                    assert detail["result_hash"] == "" and "metrics" in detail["provisional_results"]
                    assert "fairness_verdict" not in detail["provisional_results"]
                    seen_page = True
            partial = (provisional.get("explanations") or {}).get("partial")
            if partial:
                assert partial == {"explained": 10, "of": 12}
                assert len(provisional["explanations"]["texts"]) == 10
                body = client.get(reverse("audit", args=[audit.pk])).content.decode()
                seen_partial = seen_partial or ("10 of 12 explained texts" in body and 'id="explanations"' in body)
            job = Job.objects.get(kind="audit", subject_id=audit.pk)
            seen_eta = seen_eta or job.detail.get("eta_s") is not None
        time.sleep(0.2)

    audit.refresh_from_db()
    assert audit.status == "complete", audit.error or celery_worker_process.log_path.read_text()[-3000:]
    assert seen_page, "no provisional report was seen before the audit completed"
    assert seen_partial, "the explanations never showed part-way"
    assert seen_eta, "the job never gave an ETA"
    assert audit.result_hash and audit.provisional == {}
    kinds = set(AuditResult.objects.filter(audit=audit).values_list("kind", flat=True))
    assert {"metrics", "fairness", "fairness_verdict", "explanations"} <= kinds
    final = AuditResult.objects.get(audit=audit, kind="explanations").data
    assert len(final["texts"]) == 12 and "partial" not in final
    body = client.get(reverse("audit", args=[audit.pk])).content.decode()
    assert 'id="provisional"' not in body and audit.result_hash in body and 'id="fairness-verdict"' in body
