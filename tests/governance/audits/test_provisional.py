"""Results as they come (issue 19): a running audit's finished stages on its page and in its API, under a
provisional banner, with no verdict and no hash; and the ways an insider might try to use them as evidence."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.audits import services as audit_services
from governance.audits.models import Audit, AuditResult
from governance.audits.services import audit_request
from governance.errors import ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.models import Job
from models_core.fairness.report import fairness_report
from models_core.metrics import classification_summary
from tests.factories import PASSWORD, upload_hiring
from tests.governance.approvals.evidence import ready_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(engineer):
    """An audit whose worker has started and stored its first two stages (real core results on chosen rows)."""
    version = ready_version(engineer)
    holdout = upload_hiring(engineer, n_rows=60, seed=5)
    audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
    job = jobs.job_start(job_id=Job.objects.get(kind="audit", subject_id=audit.pk).pk)
    audit_services._audit_mark_running(audit)
    y_true, y_pred = [0, 1] * 30, [0, 1, 1, 0] * 15
    genders = ["female", "male", "male", "female"] * 15
    store = audit_services._ProvisionalResults(audit=audit, job=job)
    store.store("metrics", {**classification_summary(y_true, y_pred, ["no", "yes"]), "decision": {"rule": "argmax"}})
    store.store("fairness", fairness_report(y_true, y_pred, {"gender": genders}, n_boot=20, seed=0))
    return Audit.objects.get(pk=audit.pk), job, store


def test_the_page_shows_the_finished_stages_as_provisional_with_no_verdict_or_hash(client, engineer, running):
    audit, job, _ = running
    client.login(username=engineer.username, password=PASSWORD)
    body = client.get(reverse("audit", args=[audit.pk])).content.decode()
    assert 'id="provisional"' in body and "The result hash and the verdict are final when all stages are done" in body
    assert 'id="performance"' in body and 'id="fairness"' in body
    assert "No verdict yet: the audit is running" in body
    assert 'id="fairness-verdict"' not in body and "Export HTML" not in body
    assert "Request deployment on this evidence" not in body
    # the page's poll compares the stored-stage count with what it shows, and refreshes when it grows
    assert 'data-live-results="2"' in body
    assert Job.objects.get(pk=job.pk).detail["stored_stages"] == 2


def test_the_api_gives_them_apart_from_the_final_results(api_client, engineer, running):
    audit, _, _ = running
    api_client.force_authenticate(engineer)
    detail = api_client.get(f"/api/audits/{audit.pk}/").json()
    assert detail["status"] == "running" and detail["result_hash"] == ""
    assert set(detail["results"]) - {"masked_refs"} == set()  # the minimisation's list of masked texts, empty
    assert set(detail["provisional_results"]) - {"masked_refs"} == {"metrics", "fairness"}


def test_a_verdict_sent_early_is_not_stored(running):
    """Even if the core sent its verdict before the end, the provisional results never hold one."""
    audit, _, store = running
    store.store("fairness_verdict", [{"metric": "demographic_parity_difference", "passed": True}])
    assert "fairness_verdict" not in Audit.objects.get(pk=audit.pk).provisional


def test_provisional_results_are_no_evidence_for_a_deployment_request(engineer, running):
    from governance.approvals.services import deployment_request_create

    audit, _, _ = running
    with pytest.raises(ValidationFailed, match="has not completed"):
        deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                  audit=audit, justification="the first stages look fine")
    assert not AuditResult.objects.filter(audit=audit).exists()


def test_a_failed_audit_drops_them_and_a_late_write_cannot_bring_them_back(client, engineer, running):
    audit, job, store = running
    audit_services._audit_failed(audit=audit, job_id=job.pk, error="worker lost")
    assert Audit.objects.get(pk=audit.pk).provisional == {}
    store.store("counterfactual", {"groups": ["female", "male"], "directions": {}})  # an attempt that lost its job
    assert Audit.objects.get(pk=audit.pk).provisional == {}
    client.login(username=engineer.username, password=PASSWORD)
    body = client.get(reverse("audit", args=[audit.pk])).content.decode()
    assert 'id="provisional"' not in body and "The audit failed: worker lost" in body


def test_a_new_attempt_starts_afresh(running):
    audit, _, _ = running
    audit_services._audit_mark_running(audit)
    assert Audit.objects.get(pk=audit.pk).provisional == {}


def test_an_erasure_while_the_audit_runs_removes_the_subject_from_its_provisional_results(running):
    """The provisional results quote texts (explained rows, counterfactual examples) before any AuditResult exists:
    the erasure's sweep of audit texts reaches them too."""
    from governance.audits.erasure import audit_errors_redact
    from models_core.data.redaction import Traces

    audit, _, store = running
    quoted = "Nurse with 4 years of experience. She mentored a hospital ward rota."
    store.store("counterfactual", {"directions": {"female→male": {"worst": [{"index": 3, "original": quoted,
                                                                           "swapped": quoted.replace("She", "He")}]}}})
    assert audit_errors_redact(traces=Traces.build(texts=[quoted]), replacement="[erased]") == 1
    stored = Audit.objects.get(pk=audit.pk).provisional
    assert quoted not in str(stored) and "[erased]" in str(stored)
