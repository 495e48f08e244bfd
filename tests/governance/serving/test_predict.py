"""The predict endpoint answers only with the version approved and deployed now, for a token of that model
and environment; every answer's decisions reach the decision log."""

from __future__ import annotations

import numpy as np
import pytest

from governance.serving.decision_queue import decisions_flush_all
from governance.serving.models import Decision
from models_core.encoder.artifacts import load_artifact
from tests.governance.serving.served import LABELS, deploy, predict, version_with_artifact

TEXTS = ["Nurse with ten years of experience, she led a ward.", "Python developer, led a team of five."]


def test_answers_with_the_deployed_version_equal_to_the_model_itself(served, api_client):
    response = predict(api_client, served["model"].pk, served["token"], TEXTS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_version"] == served["version"].pk and body["artifact_digest"] == served["version"].artifact_digest
    bundle, _ = load_artifact(served["version"].artifact_path, expected_digest=served["version"].artifact_digest)
    expected = bundle.predict_proba(TEXTS)
    got = np.array([[d["probabilities"][label] for label in LABELS] for d in body["decisions"]])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert [d["label"] for d in body["decisions"]] == [LABELS[i] for i in expected.argmax(axis=1)]


def test_every_answered_decision_is_logged_with_digest_not_text_by_default(served, api_client):
    body = predict(api_client, served["model"].pk, served["token"],
                   [{"text": TEXTS[0], "subject_id": "S-1", "attributes": {"gender": "female"}}]).json()
    decisions_flush_all()
    row = Decision.objects.get(pk=body["decisions"][0]["decision_id"])
    assert row.text is None and row.subject_id == "S-1" and row.attributes == {"gender": "female"}
    assert row.model_version_id == served["version"].pk and row.deployment_id == body["deployment"]
    import hashlib

    assert row.input_sha256 == hashlib.sha256(TEXTS[0].encode()).hexdigest()


def test_batches_of_256_are_served_and_257_refused(served, api_client):
    assert predict(api_client, served["model"].pk, served["token"], ["a short text"] * 256).status_code == 200
    response = predict(api_client, served["model"].pk, served["token"], ["a short text"] * 257)
    assert response.status_code == 400 and "instances" in response.json()
    assert predict(api_client, served["model"].pk, served["token"], []).status_code == 400


def test_a_version_never_approved_cannot_answer(served, api_client, artifacts):
    from governance.approvals.services import deployment_request_create
    from governance.serving.tokens import service_token_create
    from tests.governance.approvals.evidence import completed_audit

    other = version_with_artifact(served["engineer"], artifacts[2])  # requested, not approved: no deployment
    deployment_request_create(actor=served["engineer"], model_version=other, environment="staging",
                              audit=completed_audit(other), justification="please")
    _, token = service_token_create(actor=served["engineer"], model=other.model, environment="staging", name="x")
    response = predict(api_client, other.model.pk, token, TEXTS)
    assert response.status_code == 409
    assert "has ever been approved and deployed" in response.json()["non_field_errors"][0]


def test_a_suspended_deployment_cannot_answer_and_says_why(served, api_client):
    from governance.registry.deployments import deployments_suspend

    deployments_suspend(actor=served["reviewer"], request_id=served["request"].pk, reason="audit evidence changed")
    response = predict(api_client, served["model"].pk, served["token"], TEXTS)
    assert response.status_code == 409
    assert "suspended" in response.json()["non_field_errors"][0]
    assert "audit evidence changed" in response.json()["non_field_errors"][0]


def test_a_retired_deployment_cannot_answer(served, api_client):
    from governance.registry.deployments import deployment_retire

    deployment_retire(actor=served["engineer"], model=served["model"], environment="staging", reason="replaced by rules")
    response = predict(api_client, served["model"].pk, served["token"], TEXTS)
    assert response.status_code == 409 and "retired" in response.json()["non_field_errors"][0]


def test_a_tampered_artifact_is_refused_at_load(served, api_client, tmp_path):
    import shutil

    from governance.registry.models import ModelVersion
    from governance.serving.runtime import SERVED

    copy = tmp_path / "tampered"
    shutil.copytree(served["version"].artifact_path, copy)
    (copy / "metadata.json").write_text('{"note": "swapped by an insider"}')
    ModelVersion.objects.filter(pk=served["version"].pk).update(artifact_path=str(copy))
    SERVED._held.clear()
    response = predict(api_client, served["model"].pk, served["token"], TEXTS)
    assert response.status_code == 409 and "digest mismatch" in response.json()["non_field_errors"][0]


def test_a_new_deployment_is_served_on_the_next_request(served, api_client, artifacts):
    first = predict(api_client, served["model"].pk, served["token"], TEXTS).json()
    v2 = version_with_artifact(served["engineer"], artifacts[2], model=served["model"])
    deploy(v2, engineer=served["engineer"], reviewer=served["reviewer"])
    second = predict(api_client, served["model"].pk, served["token"], TEXTS).json()
    assert first["model_version"] == served["version"].pk and second["model_version"] == v2.pk
    assert second["decisions"][0]["probabilities"] != first["decisions"][0]["probabilities"]


# --------------------------------------------------------------------------------- attacks on token scope
def test_a_token_of_model_a_cannot_ask_model_b(served, api_client, artifacts):
    other = version_with_artifact(served["engineer"], artifacts[2])
    deploy(other, engineer=served["engineer"], reviewer=served["reviewer"])
    response = predict(api_client, other.model.pk, served["token"], TEXTS)
    assert response.status_code == 403 and "another model" in response.json()["non_field_errors"][0]


def test_a_staging_token_cannot_ask_production(served, api_client):
    deploy(served["version"], engineer=served["engineer"], reviewer=served["reviewer"], environment="production")
    response = predict(api_client, served["model"].pk, served["token"], TEXTS, environment="production")
    assert response.status_code == 403 and "staging" in response.json()["non_field_errors"][0]


def test_a_revoked_token_is_refused_at_once(served, api_client):
    from governance.serving.models import ServiceToken
    from governance.serving.tokens import service_token_revoke, token_sha256

    row = ServiceToken.objects.get(token_sha256=token_sha256(served["token"]))
    assert predict(api_client, served["model"].pk, served["token"], TEXTS).status_code == 200
    service_token_revoke(actor=served["engineer"], token=row)
    response = predict(api_client, served["model"].pk, served["token"], TEXTS)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer gst_not-a-token", "Token abc", "Bearer a b"])
def test_no_or_a_forged_token_is_401(served, api_client, header):
    response = api_client.post(f"/api/serve/{served['model'].pk}/staging/predict/", {"instances": [{"text": "x"}]},
                               format="json", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_the_token_is_stored_hashed_and_a_database_reader_cannot_use_what_is_stored(served, api_client):
    from governance.serving.models import ServiceToken

    row = ServiceToken.objects.get(model=served["model"])
    assert served["token"] not in (row.token_sha256, row.prefix) and row.prefix == served["token"][:12]
    assert predict(api_client, served["model"].pk, row.token_sha256, TEXTS).status_code == 401
    assert predict(api_client, served["model"].pk, "gst_" + row.token_sha256, TEXTS).status_code == 401
