"""Compute accounting: a model's and a version's sums equal the figures stored per training run and per audit
(inference and explanations), read in two queries, and shown on the pages and in the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.audits.models import AuditResult
from governance.audits.services import audit_request
from governance.registry.selectors import compute_summary
from governance.registry.services import model_version_request_training
from tests.factories import upload_hiring

pytestmark = pytest.mark.django_db(transaction=False)


def _train(engineer, inline_jobs, data, name: str, scratch: bool = False):
    with inline_jobs():
        version = model_version_request_training(
            actor=engineer, model_name=name, dataset_version=data, epochs=1,
            encoder="scratch" if scratch else "pretrained", freeze_encoder=True)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version


@pytest.fixture
def model_with_audits(engineer, inline_jobs):
    """Two versions of one model (head-only MiniLM, and a small from-scratch encoder); one audit of the first,
    two of the second (one of them explaining a row)."""
    data = upload_hiring(engineer, n_rows=60)
    holdout = upload_hiring(engineer, n_rows=30, seed=99)
    v1 = _train(engineer, inline_jobs, data, "compute-model")
    v2 = _train(engineer, inline_jobs, data, "compute-model", scratch=True)
    audits = []
    for version, explain in ((v1, 0), (v2, 1), (v2, 0)):
        with inline_jobs():
            audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout,
                                  explain_rows=explain)
        audit.refresh_from_db()
        assert audit.status == "complete", audit.error
        audits.append(audit)
    return v1, v2, audits


def _expected(records: list[dict]) -> dict:
    return {key: sum(r[key] for r in records) for key in ("wall_s", "cpu_s", "flops", "tokens", "energy_wh")}


def test_model_and_version_sums_match_the_stored_figures_in_selector_api_and_pages(
        model_with_audits, django_assert_max_num_queries, api_client, client, reviewer):
    v1, v2, audits = model_with_audits
    inference = {r.audit_id: r.data for r in AuditResult.objects.filter(kind="compute")}
    explained = [r.data["compute"] for r in AuditResult.objects.filter(kind="explanations")]
    assert len(inference) == 3 and len(explained) == 1

    model = v1.model
    with django_assert_max_num_queries(2):
        summary = compute_summary(model=model)
    for key, value in _expected([v1.compute, v2.compute]).items():
        assert summary["training"][key] == pytest.approx(value, rel=1e-9, abs=1e-6)
    for key, value in _expected(list(inference.values())).items():
        assert summary["inference"][key] == pytest.approx(value, rel=1e-9, abs=1e-6)
    assert summary["explanations"]["wall_s"] == pytest.approx(explained[0]["wall_s"])
    assert summary["explanations"]["model_evaluations"] == explained[0]["model_evaluations"] > 0
    assert summary["explanations"]["flops"] is None and "flops" in summary["explanations"]["not_recorded"]
    assert summary["total"]["flops"] == (v1.compute["flops"] + v2.compute["flops"]
                                         + sum(d["flops"] for d in inference.values()))
    assert summary["total"]["wall_s"] == pytest.approx(
        v1.compute["wall_s"] + v2.compute["wall_s"] + sum(d["wall_s"] for d in inference.values())
        + explained[0]["wall_s"], abs=1e-5)
    assert summary["training"]["energy_assumptions"] == [v1.compute["energy_assumption"]]

    with django_assert_max_num_queries(2):
        one = compute_summary(model_version=v2)
    assert one["training"]["flops"] == v2.compute["flops"] and one["training"]["records"] == 1
    assert one["inference"]["flops"] == inference[audits[1].pk]["flops"] + inference[audits[2].pk]["flops"]
    assert one["explanations"]["records"] == 1 and one["inference"]["records"] == 2

    # The same sums in the API and on the pages (one test: the fixture trains and audits for a minute).
    api_client.force_authenticate(reviewer)
    body = api_client.get(f"/api/models/{v1.model_id}/compute/").json()
    assert body["training"]["flops"] == v1.compute["flops"] + v2.compute["flops"]
    assert body["total"]["records"] == 2 + 3 + 1
    version_body = api_client.get(f"/api/model-versions/{v2.pk}/compute/").json()
    assert version_body["training"]["tokens"] == v2.compute["tokens"]
    assert api_client.get("/api/models/999999/compute/").status_code == 404
    client.force_login(reviewer)
    page = client.get(reverse("model", args=[v1.model_id])).content.decode()
    assert "Compute used" in page and str(body["total"]["flops"]) in page and "W per busy core" in page
    page = client.get(reverse("model-version", args=[v2.pk])).content.decode()
    assert str(version_body["total"]["flops"]) in page


def test_a_model_with_nothing_run_sums_to_nothing(engineer):
    from governance.accounts.projects import project_default
    from governance.registry.models import Model

    model = Model.objects.create(project=project_default(), name="empty", owner=engineer)
    summary = compute_summary(model=model)
    assert summary["total"] == {"records": 0, "energy_assumptions": [], "wall_s": None, "cpu_s": None,
                                "flops": None, "tokens": None, "energy_wh": None, "model_evaluations": None}
