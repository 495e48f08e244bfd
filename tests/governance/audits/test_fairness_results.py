"""The audit's fairness results beyond the per-group table: counterfactual token swaps, the verdict of the
default rules, the report's charts, the compare page and API, and the mitigation API."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from governance.roles import REVIEWER
from governance.audits.models import Audit, AuditResult
from governance.audits.services import audit_request
from governance.registry.models import ModelVersion
from models_core.artifacts import load_artifact
from models_core.counterfactual import DEFAULT_WORD_PAIRS, counterfactual_report
from models_core.fairness import evaluate_thresholds
from models_core.inference import predict_dataset
from governance.datasets.services import dataset_upload
from tests.factories import hiring_bytes, make_user, upload_hiring
from tests.governance.slice import trained_version

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def audited(engineer, inline_jobs):
    """A trained version and two complete audits of it on one holdout (the second with custom word pairs)."""
    version, data = trained_version(engineer, inline_jobs)
    holdout = upload_hiring(engineer, n_rows=120, seed=99)
    with inline_jobs():
        first = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0)
        second = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=0,
                               word_pairs=[["she", "he"], ["women's", "men's"]])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "complete", (first.error, second.error)
    return version, holdout, first, second


def _results(audit: Audit) -> dict:
    return {r.kind: r.data for r in AuditResult.objects.filter(audit=audit)}


def test_counterfactual_and_verdict_are_stored_and_match_direct_core_calls(audited):
    version, holdout, first, second = audited
    texts = list(holdout.records.order_by("row_index").values_list("text", flat=True))
    bundle, _ = load_artifact(version.artifact_path, expected_digest=version.artifact_digest)
    positive = version.label_names.index(holdout.positive_label)
    for audit, pairs in ((first, DEFAULT_WORD_PAIRS), (second, [["she", "he"], ["women's", "men's"]])):
        stored = _results(audit)
        direct = counterfactual_report(texts, lambda batch: predict_dataset(bundle, batch).probabilities,
                                       word_pairs=pairs, positive_class=positive, n_worst=5)
        cf = stored["counterfactual"]
        assert cf["word_pairs"] == [list(p) for p in direct["word_pairs"]]
        assert cf["positive_class"] == positive and cf["n_texts"] == len(texts) == 120
        assert set(cf["directions"]) == {"female→male", "male→female"}
        for name, want in direct["directions"].items():
            got = cf["directions"][name]
            assert got["n_changed"] == want["n_changed"] > 0
            assert got["n_flipped"] == want["n_flipped"]
            assert got["mean_abs_change"] == pytest.approx(want["mean_abs_change"], abs=1e-6)
            assert got["mean_change"] == pytest.approx(want["mean_change"], abs=1e-6)
            assert [w["index"] for w in got["worst"]] == [w["index"] for w in want["worst"]]
            assert [w["swapped"] for w in got["worst"]] == [w["swapped"] for w in want["worst"]]
        # The verdict is the default rules judged on the stored fairness report.
        assert audit.config["fairness_rules"] == settings.FAIRNESS_DEFAULT_RULES
        assert stored["fairness_verdict"] == evaluate_thresholds(stored["fairness"], settings.FAIRNESS_DEFAULT_RULES)
        groupings = set(stored["fairness"]["groupings"])
        assert {(r["metric"], r["grouping"]) for r in stored["fairness_verdict"]} == {
            (m, g) for m in ("demographic_parity_difference", "equalized_odds_difference") for g in groupings}
        assert stored["metrics"]["decision"] == {"rule": "argmax"}
    assert second.config["counterfactual"]["word_pairs"] == [["she", "he"], ["women's", "men's"]]


def test_bad_word_pairs_are_400s_with_the_field(engineer, api_client, audited):
    version, holdout, *_ = audited
    api_client.force_authenticate(engineer)
    count = Audit.objects.count()
    for pairs in ([["she", "he", "it"]], [["she", "he"], ["she", "him"]], [["she", "she"]], [["", "he"]]):
        response = api_client.post("/api/audits/", {"model_version": version.pk, "dataset_version": holdout.pk,
                                                    "word_pairs": pairs}, format="json")
        assert response.status_code == 400, (pairs, response.content)
        assert "word_pairs" in response.json(), response.json()
    assert Audit.objects.count() == count


def test_report_renders_charts_counterfactuals_and_verdict_from_stored_results(client, engineer, audited):
    *_, first, _ = audited
    client.force_login(engineer)
    html = client.get(reverse("audit", args=[first.pk])).content.decode()
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 4  # gender, age band, intersection bars + the intersection heatmap
    for svg in svgs:
        assert 'role="img"' in svg and "<title" in svg and "<desc" in svg and "aria-labelledby" in svg
    assert any("Selection rate by gender</title>" in s for s in svgs)
    heat = next(s for s in svgs if "Selection rate by gender × age_band</title>" in s)
    stored = _results(first)["fairness"]["groupings"]["gender × age_band"]["groups"]
    cell = stored["female × 18-29"]["metrics"]["selection_rate"]["value"]
    assert f"{cell:.3f}" in heat
    assert "Counterfactual token swaps" in html and "female→male" in html
    assert "Fairness rules" in html and "demographic parity difference" in html
    assert "<script" not in "".join(svgs)


def test_compare_page_and_api_put_two_audits_side_by_side(client, api_client, engineer, audited):
    *_, first, second = audited
    client.force_login(engineer)
    page = client.get(reverse("audit-compare"), {"a": first.pk, "b": second.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Audit #{first.pk}" in html and f"Audit #{second.pk}" in html and "female→male" in html
    assert client.get(reverse("audit-compare")).status_code == 200  # the empty form
    assert f'href="{reverse("audit-compare")}' in client.get(reverse("audits")).content.decode()

    api_client.force_authenticate(engineer)
    data = api_client.get("/api/audits/compare/", {"a": first.pk, "b": second.pk}).json()
    assert data["a"]["id"] == first.pk and data["b"]["id"] == second.pk
    stored = _results(first)
    dpd = next(r for r in data["disparities"]
               if r["grouping"] == "gender" and r["name"] == "demographic_parity_difference")
    assert dpd["a"] == stored["fairness"]["groupings"]["gender"]["disparities"]["demographic_parity_difference"]
    flips = {r["direction"]: r for r in data["counterfactual"]}
    assert flips["female→male"]["a"]["flip_rate"] == stored["counterfactual"]["directions"]["female→male"]["flip_rate"]
    assert data["performance"][0]["a"] == stored["metrics"]["accuracy"]

    Audit.objects.filter(pk=second.pk).update(status="running")
    bad = api_client.get("/api/audits/compare/", {"a": first.pk, "b": second.pk})
    assert bad.status_code == 400 and "b" in bad.json()
    assert api_client.get("/api/audits/compare/", {"a": first.pk, "b": first.pk}).status_code == 400
    assert api_client.get("/api/audits/compare/", {"a": first.pk, "b": 10**9}).status_code == 400
    assert api_client.get("/api/audits/compare/", {"a": "x"}).status_code == 400
    assert client.get(reverse("audit-compare"), {"a": first.pk, "b": second.pk}).status_code == 400


def test_mitigate_api_creates_a_child_and_refuses_bad_input(api_client, engineer, inline_jobs, audited):
    version, holdout, *_ = audited
    url = f"/api/model-versions/{version.pk}/mitigate/"
    api_client.force_authenticate(make_user(REVIEWER))
    assert api_client.post(url, {"dataset_version": holdout.pk, "constraint": "demographic_parity",
                                 "attribute": "gender"}, format="json").status_code == 403
    api_client.force_authenticate(engineer)
    count = ModelVersion.objects.count()
    bad = api_client.post(url, {"dataset_version": holdout.pk, "constraint": "demographic_parity",
                                "attribute": "religion"}, format="json")
    assert bad.status_code == 400 and "attribute" in bad.json()
    bad = api_client.post(url, {"dataset_version": holdout.pk, "constraint": "fair", "attribute": "gender"},
                          format="json")
    assert bad.status_code == 400 and "constraint" in bad.json()
    assert api_client.post("/api/model-versions/999999/mitigate/", {}, format="json").status_code == 404
    assert ModelVersion.objects.count() == count
    with inline_jobs():
        response = api_client.post(url, {"dataset_version": holdout.pk, "constraint": "equalized_odds",
                                         "attribute": "gender"}, format="json")
    assert response.status_code == 202, response.content
    child = ModelVersion.objects.get(pk=response.json()["id"])
    assert child.parent_id == version.pk and child.status == "ready", child.error
    assert child.lineage_note == "threshold mitigation: equalized_odds on gender"
    assert response.json()["parent"] == version.pk
    assert np.isfinite(child.metrics["val_accuracy"])
    # An audit of the child on data that does not declare the attribute is refused up front.
    no_gender = dataset_upload(actor=engineer, name="hiring-no-gender", raw=hiring_bytes(60, 3),
                               file_name="h.csv", text_column="text", label_column="hired",
                               subject_column="subject_id", sensitive_attributes=["age_band"])
    refused = api_client.post("/api/audits/", {"model_version": child.pk, "dataset_version": no_gender.pk},
                              format="json")
    assert refused.status_code == 400 and "dataset_version" in refused.json()


def test_mitigate_form_on_the_model_version_page(client, engineer, audited):
    version, holdout, *_ = audited
    client.force_login(engineer)
    page = client.get(reverse("model-version", args=[version.pk])).content.decode()
    url = reverse("model-version-mitigate", args=[version.pk])
    assert f'href="{url}"' in page
    assert client.get(url).status_code == 200
    response = client.post(url, {"dataset_version": holdout.pk, "constraint": "demographic_parity",
                                 "attribute": "religion"})
    assert response.status_code == 400 and "no sensitive attribute" in response.content.decode()
    assert not ModelVersion.objects.filter(parent=version).exists()
