"""An audit with the robustness tests, end to end through the services: the stored result, the report
section with its charts, the API, the PDF, Annex IV, and the erasure of a subject quoted in its examples."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from governance.audits import services as audit_services
from governance.audits.exports import pdf_blocks
from governance.audits.models import AuditResult, Prediction
from governance.audits.services import audit_request
from governance.compliance.documentation import annex_iv
from governance.compliance.subject_requests import erasure_request_fulfil, subject_request_register
from governance.roles import COMPLIANCE_OFFICER
from tests.factories import PASSWORD, make_user, upload_hiring
from tests.governance.slice import trained_version

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
EXPECTATIONS = [{"phrase": "They have no relevant experience.", "direction": "down"},
                {"phrase": "They led a team of twenty.", "direction": "up", "tolerance": 0.05}]


@pytest.fixture
def robust_audit(engineer, inline_jobs, monkeypatch):
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap"])
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "n_boot", 200)
    version, _ = trained_version(engineer, inline_jobs, epochs=2)
    holdout = upload_hiring(engineer, n_rows=60, seed=11)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=2,
                              robustness=True, robustness_expectations=EXPECTATIONS, robustness_max_texts=60)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    return audit


def test_an_audit_with_robustness_stores_shows_exports_documents_and_erases_it(client, api_client, engineer,
                                                                                 robust_audit):
    audit = robust_audit
    assert audit.config["robustness"]["directional"][1] == {**EXPECTATIONS[1], "position": "append"}
    result = AuditResult.objects.get(audit=audit, kind="robustness").data
    assert result["schema"] == "models_core.robustness/1" and result["n_texts"] == 60
    assert set(result["suites"]) == {"typos", "casing", "punctuation", "contractions", "irrelevant", "names",
                                     "numbers"}
    assert result["suites"]["typos"]["n_changed"] == 60 and set(result["suites"]["typos"]["by_group"]) == {
        "gender", "age_band"}
    assert [e["phrase"] for e in result["directional"]] == [e["phrase"] for e in EXPECTATIONS]
    # the attack ranks words by the audit's own SHAP values, on the explained rows
    explained = AuditResult.objects.get(audit=audit, kind="explanations").data["row_indices"]
    assert result["adversarial"]["importance"] == ["shap"] and result["adversarial"]["n_attacked"] == len(explained)

    client.login(username=engineer.username, password=PASSWORD)
    body = client.get(reverse("audit", args=[audit.pk])).content.decode()
    section = body[body.index('id="robustness"'):]
    assert "Flip rate by invariance suite" in section and "Flip rate by suite and gender" in section
    assert "Typos" in section and "They have no relevant experience." in section and "Attack success rate" in section

    api_client.force_authenticate(engineer)
    shown = api_client.get(f"/api/audits/{audit.pk}/").json()["results"]["robustness"]
    assert shown["suites"]["typos"]["flip_rate"] == result["suites"]["typos"]["flip_rate"]
    assert shown["summary"] == result["summary"]

    content = {"audit": {"model_version": "", "dataset_version": "", "requested_by": "", "finished_at": "",
                         "artifact_digest": "", "dataset_sha256": "", "result_hash": ""},
               "policy_verdicts": [], "result_sha256": {}, "results": {"robustness": result}}
    blocks = pdf_blocks(content)
    assert ("h", "Robustness (EU AI Act Art. 15)") in blocks

    testing = next(v for k, v in annex_iv(audit.model_version)["sections"].items() if k.startswith("2."))
    rows = testing["robustness_testing"][0]
    assert rows["audit"] == audit.pk and rows["rows"][0]["test"] == "invariance: Typos"
    assert rows["rows"][0]["ci"] == result["suites"]["typos"]["flip_rate"]["ci"]
    assert not any("Robustness testing" in m for m in annex_iv(audit.model_version)["missing"])
    assert "original" not in json.dumps(testing["robustness_testing"])  # no quoted text in the documentation

    # a subject quoted in the examples asks for erasure: every example of their row is blanked
    example = result["suites"]["typos"]["worst"][0]
    record = Prediction.objects.filter(audit=audit).order_by("pk")[example["index"]].record
    assert example["original"] == record.text
    officer = make_user(COMPLIANCE_OFFICER)
    erasure_request_fulfil(actor=officer, ground="b", request=subject_request_register(
        actor=officer, kind="erasure", subject_id=record.subject_id))
    after = AuditResult.objects.get(audit=audit, kind="robustness").data
    assert record.text not in json.dumps(after)
    blanked = [w for s in after["suites"].values() for w in s["worst"] if w["index"] == example["index"]]
    assert blanked and all(w["original"] == w["perturbed"] == "[erased]" for w in blanked)
    assert after["suites"]["typos"]["flip_rate"] == result["suites"]["typos"]["flip_rate"]  # numbers kept


def test_bad_robustness_settings_are_a_400_with_the_field(api_client, engineer):
    from governance.errors import ValidationFailed
    from governance.audits.robustness import expectations_parse, robustness_config

    api_client.force_authenticate(engineer)
    response = api_client.post("/api/audits/", {"model_version": 1, "dataset_version": 1, "robustness": True,
                                                "robustness_expectations": [{"phrase": "x", "direction": "left"}]},
                               format="json")
    assert response.status_code == 400 and "robustness_expectations" in response.json()
    with pytest.raises(ValidationFailed) as caught:
        robustness_config(expectations=[{"phrase": "  ", "direction": "up"}], max_texts=None, seed=0, n_boot=10)
    assert caught.value.field == "robustness_expectations"
    with pytest.raises(ValidationFailed) as caught:
        robustness_config(expectations=None, max_texts=5, seed=0, n_boot=10)
    assert caught.value.field == "robustness_max_texts"
    assert expectations_parse("Two missed payments. | down | 0.05\n\nA promotion. | up") == [
        {"phrase": "Two missed payments.", "direction": "down", "tolerance": 0.05},
        {"phrase": "A promotion.", "direction": "up"}]
    with pytest.raises(ValidationFailed, match="Line 1"):
        expectations_parse("no direction here")
