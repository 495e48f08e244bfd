"""Monitoring of a served deployment over a window: the prediction mix, drift against the training data
(PSI) and fairness with bootstrap intervals, all from counts one GROUP BY returns, equal to the same
computations on the expanded rows; a crossed threshold raises an alert (home page, the monitoring.alert
webhook, e-mail) and, when the policy says so, suspends the deployment, which then answers 409."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from governance.auditlog.models import AuditLogEntry
from governance.serving.decision_queue import decisions_store
from governance.serving.models import Decision, MonitoringAlert, MonitoringReport
from governance.serving.monitoring import monitoring_request, monitoring_schedule
from governance.serving.monitoring_figures import window_cells
from governance.serving.services import outcomes_record, serving_policy_update
from models_core.data.drift import population_stability_index
from models_core.fairness.report import fairness_report
from tests.governance.approvals.test_webhooks import Receiver, _hook
from tests.governance.serving.served import predict

RULES = [{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1, "judge_on": "upper"}]


def _log_decisions(served, *, n_per_group: int, rates: dict[str, float], at=None, seed: int = 0) -> list[dict]:
    """Decisions as the serving endpoint queues them (through the flusher's store), women selected less."""
    rng = np.random.default_rng(seed)
    at = at or timezone.now() - timedelta(minutes=5)
    deployment = served["version"].deployments.get()
    rows = []
    for gender, rate in rates.items():
        for _ in range(n_per_group):
            label = "yes" if rng.random() < rate else "no"
            rows.append({"id": str(uuid.uuid4()), "decided_at": at.isoformat(), "project_id": served["model"].project_id,
                         "model_id": served["model"].pk, "model_version_id": served["version"].pk,
                         "deployment_id": deployment.pk, "environment": "staging", "token_id": None,
                         "input_sha256": "0" * 64, "text": None, "subject_id": "",
                         "attributes": {"gender": gender, "age_band": "30-39" if rng.random() < 0.5 else "40-49"},
                         "predicted_label": label, "probabilities": {"no": 0.5, "yes": 0.5}})
    decisions_store([json.dumps(r) for r in rows])
    return rows


@pytest.fixture
def monitored(served, settings, mailoutbox):
    settings.JOB_DISPATCH = "inline"
    serving_policy_update(actor=served["officer"], environment="staging", max_psi=0.25, max_prediction_shift=0.3,
                          fairness_rules=RULES, n_boot=200, min_decisions=50, auto_suspend=True,
                          alert_emails="risk@example.com")
    return served


def test_window_figures_equal_the_row_computations(monitored, django_capture_on_commit_callbacks):
    rows = _log_decisions(monitored, n_per_group=300, rates={"female": 0.2, "male": 0.6})
    truth = {r["id"]: ("yes" if (r["predicted_label"] == "yes") != (i % 7 == 0) else "no") for i, r in enumerate(rows)}
    outcomes_record(actor=monitored["engineer"], outcomes=[{"decision_id": uuid.UUID(k), "label": v}
                                                           for k, v in truth.items()])
    with django_capture_on_commit_callbacks(execute=True):
        report = monitoring_request(actor=monitored["engineer"], deployment=monitored["version"].deployments.get().pk,
                                    window="day")
    report.refresh_from_db()
    results = report.results
    assert report.decisions == 600 and report.with_outcomes == 600
    assert results["prediction_mix"]["yes"]["count"] == sum(r["predicted_label"] == "yes" for r in rows)
    # Fairness from the counts equals fairness_report on the 600 expanded rows (same seed: same intervals).
    expected = fairness_report([truth[r["id"]] for r in rows], [r["predicted_label"] for r in rows],
                               {"gender": [r["attributes"]["gender"] for r in rows],
                                "age_band": [r["attributes"]["age_band"] for r in rows]},
                               labels=["no", "yes"], positive_label="yes", n_boot=200, seed=report.pk)
    assert json.dumps(results["fairness"], sort_keys=True) == json.dumps(json.loads(json.dumps(expected)), sort_keys=True)
    # PSI of the prediction mix against the training labels, as the datasheets compute it on rows.
    from governance.datasets.models import DatasetRecord

    training = list(DatasetRecord.objects.filter(version=monitored["version"].dataset_version)
                    .values_list("label", flat=True))
    psi, _ = population_stability_index(training, [r["predicted_label"] for r in rows])
    assert results["drift"]["prediction_vs_training_labels"]["psi"] == pytest.approx(psi, abs=1e-12)


def test_the_window_is_one_group_by_of_cells_not_rows(monitored, django_assert_num_queries):
    _log_decisions(monitored, n_per_group=500, rates={"female": 0.3, "male": 0.5})
    deployment = monitored["version"].deployments.get()
    with django_assert_num_queries(1):
        cells = window_cells(deployment_id=deployment.pk, start=timezone.now() - timedelta(days=1),
                             end=timezone.now(), attributes=["gender", "age_band"])
    assert len(cells) <= 2 * 2 * 2 and sum(c[-1] for c in cells) == 1000


def test_a_disparity_raises_an_alert_webhook_email_and_suspends(monitored, api_client, client, admin_user, settings,
                                                                mailoutbox, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    receiver = Receiver()
    try:
        _hook(api_client, admin_user, receiver.url, ["monitoring.alert"])
        api_client.force_authenticate(None)
        rows = _log_decisions(monitored, n_per_group=300, rates={"female": 0.1, "male": 0.7})
        outcomes_record(actor=monitored["engineer"], outcomes=[{"decision_id": uuid.UUID(r["id"]),
                                                                "label": r["predicted_label"]} for r in rows])
        deployment = monitored["version"].deployments.get()
        with django_capture_on_commit_callbacks(execute=True):
            report = monitoring_request(actor=monitored["engineer"], deployment=deployment.pk, window="day")
        report.refresh_from_db()
        assert report.status == "alert", report.results["checks"]
        alerts = list(MonitoringAlert.objects.filter(report=report))
        assert any(a.rule == "fairness: demographic_parity_difference" for a in alerts) and all(a.suspended for a in alerts)
        deployment.refresh_from_db()
        assert deployment.suspended_at is not None and "monitoring alert" in deployment.suspended_reason
        assert predict(api_client, monitored["model"].pk, monitored["token"], ["any text"]).status_code == 409
        events = [c["headers"]["X-Governance-Event"] for c in receiver.calls]
        assert "monitoring.alert" in events
        body = json.loads(next(c["body"] for c in receiver.calls if c["headers"]["X-Governance-Event"] == "monitoring.alert"))
        assert body["suspended"] is True and body["deployment"] == deployment.pk
        assert any("Monitoring alert" in m.subject and "risk@example.com" in m.to for m in mailoutbox)
        assert AuditLogEntry.objects.filter(action="monitoring.alert").exists()
        assert AuditLogEntry.objects.filter(action="deployment.suspended").exists()
        # The home page shows it.
        client.force_login(monitored["engineer"])
        home = client.get("/").content.decode()
        assert "Monitoring alerts" in home and "demographic_parity_difference" in home
        page = client.get(f"/models/{monitored['model'].pk}/").content.decode()
        assert "Serving and monitoring" in page and "<svg" in page and "Demographic parity difference" in page
    finally:
        receiver.close()


def test_too_few_decisions_are_not_judged(monitored, django_capture_on_commit_callbacks):
    _log_decisions(monitored, n_per_group=10, rates={"female": 0.0, "male": 1.0})
    with django_capture_on_commit_callbacks(execute=True):
        report = monitoring_request(actor=monitored["engineer"], deployment=monitored["version"].deployments.get().pk,
                                    window="week")
    report.refresh_from_db()
    assert report.status == "too_few" and not MonitoringAlert.objects.exists()


def test_the_schedule_queues_each_deployments_last_day_and_week_once(monitored, django_capture_on_commit_callbacks):
    deployment = monitored["version"].deployments.get()
    type(deployment).objects.filter(pk=deployment.pk).update(started_at=timezone.now() - timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=True):
        first = monitoring_schedule()
    with django_capture_on_commit_callbacks(execute=True):
        again = monitoring_schedule()
    assert len(first) == 2 and again == []
    assert set(MonitoringReport.objects.values_list("window", flat=True)) == {"day", "week"}


def test_outcomes_attach_by_decision_id_only_within_reach(monitored, api_client):
    from governance.serving.decision_queue import decisions_flush_all

    body = predict(api_client, monitored["model"].pk, monitored["token"], ["one text"]).json()
    decision_id = body["decisions"][0]["decision_id"]
    # Not flushed yet: a 400 naming it (retry later), nothing recorded.
    response = api_client.post("/api/decisions/outcomes/", {"outcomes": [{"decision_id": decision_id, "label": "yes"}]},
                               format="json", HTTP_AUTHORIZATION=f"Bearer {monitored['token']}")
    assert response.status_code == 400 and "flushed" in response.json()["outcomes"][0]
    decisions_flush_all()
    ok = api_client.post("/api/decisions/outcomes/", {"outcomes": [{"decision_id": decision_id, "label": "yes"}]},
                         format="json", HTTP_AUTHORIZATION=f"Bearer {monitored['token']}")
    assert ok.status_code == 201, ok.content
    bad_label = api_client.post("/api/decisions/outcomes/", {"outcomes": [{"decision_id": decision_id, "label": "maybe"}]},
                                format="json", HTTP_AUTHORIZATION=f"Bearer {monitored['token']}")
    assert bad_label.status_code == 400
    # A user of another project cannot label it (it is out of their reach: the same 400 as unknown).
    from tests.factories import make_project, make_user

    outsider = make_user(project=make_project("elsewhere"))
    api_client.force_authenticate(outsider)
    response = api_client.post("/api/decisions/outcomes/", {"outcomes": [{"decision_id": decision_id, "label": "no"}]},
                               format="json")
    assert response.status_code in (400, 403)
    assert Decision.objects.get(pk=decision_id)
