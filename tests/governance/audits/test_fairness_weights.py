"""Issue 18 end to end: an audit of a reweighed dataset version is weighted and says so, a missing attribute value
is the group "(missing)", calibration and ROC AUC by group reach the results, the API and the report page, and
results stored before issue 18 still render."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from django.urls import reverse

from governance.audits.models import AuditResult
from governance.audits.services import audit_request, result_hash
from governance.auditlog.chain import canonical_json
from governance.datasets.models import DatasetRecord
from governance.datasets.services import dataset_version_reweigh
from models_core.fairness.report import fairness_report
from tests.factories import PASSWORD, upload_hiring
from tests.governance.approvals.evidence import completed_audit as stored_audit, ready_version
from tests.governance.slice import trained_version

pytestmark = pytest.mark.django_db(transaction=False)
MISSING_ROWS = 7


@pytest.fixture
def weighted_audit(engineer, inline_jobs):
    version, _ = trained_version(engineer, inline_jobs, epochs=1)
    holdout = upload_hiring(engineer, n_rows=120, seed=99)
    for record in DatasetRecord.objects.filter(version=holdout).order_by("row_index")[:MISSING_ROWS]:
        record.attributes = {**record.attributes, "gender": ""}  # no gender recorded
        record.save(update_fields=["attributes"])
    reweighed = dataset_version_reweigh(actor=engineer, version=holdout)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=reweighed, explain_rows=0)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    return audit, reweighed


def test_a_reweighed_version_is_audited_weighted_with_missing_values_and_calibration(
        client, api_client, engineer, weighted_audit):
    audit, reweighed = weighted_audit
    results = {r.kind: r.data for r in AuditResult.objects.filter(audit=audit)}
    fairness, calibration = results["fairness"], results["calibration"]

    # weighted, and where the weights come from
    assert fairness["weighted"] is True and calibration["weighted"] is True
    assert fairness["weighting"] == {"weighted": True, "column": "DatasetRecord.weight",
                                     "dataset_version": reweighed.pk, "source": reweighed.note}
    records = list(DatasetRecord.objects.filter(version=reweighed).order_by("row_index")
                   .values_list("weight", "attributes"))
    weights = np.array([w for w, _ in records])
    assert len(set(weights.tolist())) > 1
    assert fairness["weight_sum"] == pytest.approx(weights.sum())
    # the same numbers as the engine on the stored predictions and the rows' weights
    labels = list(reweighed.records.order_by("row_index").values_list("label", flat=True))
    predicted = [p.predicted_label for p in audit.predictions.order_by("record__row_index")]
    genders = [a.get("gender", "") for _, a in records]
    direct = fairness_report([int(v == reweighed.positive_label) for v in labels],
                             [int(v == reweighed.positive_label) for v in predicted],
                             {"gender": genders}, n_boot=0, sample_weight=weights)
    for group, data in direct["groupings"]["gender"]["groups"].items():
        stored = fairness["groupings"]["gender"]["groups"][group]["metrics"]
        for metric, stat in data["metrics"].items():
            assert stored[metric]["value"] == pytest.approx(stat["value"], abs=1e-9), (group, metric)

    # a missing gender is an explicit, counted group, never ""
    groups = fairness["groupings"]["gender"]["groups"]
    assert "" not in groups and groups["(missing)"]["count"] == MISSING_ROWS and groups["(missing)"]["missing"]
    assert fairness["missing_values"]["gender"] == MISSING_ROWS
    assert "(missing)" in calibration["groupings"]["gender"]["groups"]

    # calibration and ROC AUC by group
    female = calibration["groupings"]["gender"]["groups"]["female"]
    assert female["ece"]["ci"] is not None and female["roc_auc"]["value"] is not None
    assert len(female["reliability"]) == calibration["settings"]["n_bins"]

    # the API returns them
    api_client.force_authenticate(engineer)
    body = api_client.get(f"/api/audits/{audit.pk}/").json()
    assert body["results"]["fairness"]["weighted"] is True
    assert body["results"]["fairness"]["weighting"]["column"] == "DatasetRecord.weight"
    assert body["results"]["calibration"]["groupings"]["gender"]["groups"]["female"]["roc_auc"] == female["roc_auc"]

    # the report page shows them
    client.login(username=engineer.username, password=PASSWORD)
    page = client.get(reverse("audit", args=[audit.pk])).content.decode()
    assert "Weighted audit." in page and "DatasetRecord.weight" in page
    assert f"{MISSING_ROWS} rows have no gender" in page and "(missing)" in page
    assert 'id="calibration"' in page and "ROC AUC by gender" in page and "Reliability by gender" in page
    assert page.index('id="fairness"') < page.index('id="calibration"') < page.index('id="counterfactual"')


def test_old_results_without_the_new_keys_still_render(client, engineer):
    """An audit stored before issue 18: schema-1 fairness (no exclusions, weights or missing counts), no
    calibration result."""
    audit = stored_audit(ready_version(engineer))
    row = AuditResult.objects.get(audit=audit, kind="fairness")
    old = row.data
    for key in ("weighted", "missing_values", "weighting"):
        old.pop(key, None)
    old["schema_version"] = 1
    for grouping in old["groupings"].values():
        for d in grouping["disparities"].values():
            d.pop("left_out")
            d.pop("undefined_groups")
    row.data, row.sha256 = old, hashlib.sha256(canonical_json(old).encode()).hexdigest()
    row.save()
    audit.result_hash = result_hash({r.kind: r.data for r in AuditResult.objects.filter(audit=audit)})
    audit.save(update_fields=["result_hash"])
    client.login(username=engineer.username, password=PASSWORD)
    response = client.get(reverse("audit", args=[audit.pk]))
    page = response.content.decode()
    assert response.status_code == 200 and 'id="fairness"' in page
    assert 'id="calibration"' not in page and "Weighted audit." not in page and "counted as 0" not in page


def test_the_calibration_section_renders_a_multiclass_result_per_class():
    from django.template.loader import render_to_string

    from models_core.fairness.calibration import calibration_report

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    groups = {"gender": rng.choice(["f", "m"], 90).tolist()}
    classes = {name: calibration_report((y == k).astype(int), rng.random(90), groups, n_boot=20)
               for k, name in enumerate(["low", "mid", "high"])}
    html = render_to_string("audits/_calibration.html", {"cal": {"task": "multiclass_ovr", "scores": "p",
                                                                  "classes": classes, "weighting": {"weighted": False}}})
    assert 'id="calibration"' in html and html.count("against the rest") == 3 and "ROC AUC by gender" in html
