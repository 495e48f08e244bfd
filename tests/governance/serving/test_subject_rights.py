"""Served decisions and the data subject: an access request lists every decision about them with an
explanation computed on request and the model's logic (Annex IV); an erasure removes them (queued ones
included) and the certificate counts them; a decision still in the write-ahead queue is not missed."""

from __future__ import annotations

import json

import pytest

from governance.roles import COMPLIANCE_OFFICER
from governance.serving.decision_queue import decisions_flush_all, decisions_pending
from governance.serving.models import Decision, DecisionOutcome
from governance.serving.services import serving_policy_update
from tests.factories import make_user
from tests.governance.serving.served import predict

SUBJECT = "APPL-0042"
TEXTS = ["She led a nursing team for ten years.", "Ran the chess club; studied economics."]


def _access_answer(api_client, subject: str) -> dict:
    api_client.force_authenticate(make_user(COMPLIANCE_OFFICER))
    access = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": subject}, format="json")
    assert access.status_code == 201, access.content
    answer = api_client.get(f"/api/compliance/requests/{access.json()['id']}/answer/?as=json")
    assert answer.status_code == 200, answer.content
    return json.loads(answer.content)["content"]


@pytest.fixture
def decided(served, api_client):
    serving_policy_update(actor=served["officer"], environment="staging", store_text=True)
    mine = predict(api_client, served["model"].pk, served["token"],
                   [{"text": t, "subject_id": SUBJECT} for t in TEXTS]).json()
    other = predict(api_client, served["model"].pk, served["token"],
                    [{"text": "Forklift licence, warehouse lead.", "subject_id": "APPL-0007"}]).json()
    return {**served, "mine": mine, "other": other}


def test_an_access_request_lists_the_subjects_decisions_with_explanations(decided, api_client):
    content = _access_answer(api_client, SUBJECT)  # still in the write-ahead queue: the answer flushes it first
    served = content["h_automated_decisions_in_service"]
    assert content["confirmation_personal_data_processed"] is True
    assert sorted(d["decision_id"] for d in served) == sorted(d["decision_id"] for d in decided["mine"]["decisions"])
    for entry in served:
        answered = next(d for d in decided["mine"]["decisions"] if d["decision_id"] == entry["decision_id"])
        assert entry["decision"] == answered["label"] and entry["probabilities"] == answered["probabilities"]
        explanation = entry["explanation"]
        assert explanation["available"] is True and explanation["class"] == answered["label"]
        # Re-scored by the very version that decided: the same probability as answered.
        assert explanation["probability"] == pytest.approx(answered["probabilities"][answered["label"]], abs=1e-6)
        assert explanation["tokens"] and all(isinstance(t["attribution"], float) for t in explanation["tokens"])
        assert entry["logic"]["intended_purpose"] == "Screening job applications for interview"
        assert entry["model"] == decided["model"].name and entry["input_text"] in TEXTS
    assert all(d["decision_id"] not in {e["decision_id"] for e in served} for d in decided["other"]["decisions"])


def test_the_explanation_is_shapley_exact_on_a_short_text(decided, api_client):
    """SHAP values add up to the decided class's probability minus the base value (all words masked)."""
    from governance.serving.explanations import decisions_explain

    decisions_flush_all()
    decision = Decision.objects.filter(subject_id=SUBJECT).first()
    explanation = decisions_explain([decision])[decision.pk]
    total = sum(t["attribution"] for t in explanation["all_tokens"])
    assert total == pytest.approx(explanation["probability"] - explanation["base_value"], abs=1e-6)
    ranked = sorted(explanation["all_tokens"], key=lambda t: -abs(t["attribution"]))[:len(explanation["tokens"])]
    assert [t["token"] for t in ranked] == [t["token"] for t in explanation["tokens"]]


def test_without_stored_text_the_answer_says_why_there_is_no_explanation(served, api_client):
    predict(api_client, served["model"].pk, served["token"], [{"text": TEXTS[0], "subject_id": SUBJECT}])
    entry = _access_answer(api_client, SUBJECT)["h_automated_decisions_in_service"][0]
    assert entry["explanation"]["available"] is False and "not kept" in entry["explanation"]["why"]
    assert entry["input_text"] is None and entry["logic"]["how_it_decides"]


def test_the_access_letter_pdf_carries_the_decisions(decided, api_client):
    api_client.force_authenticate(make_user(COMPLIANCE_OFFICER))
    access = api_client.post("/api/compliance/requests/", {"kind": "access", "subject_id": SUBJECT}, format="json")
    letter = api_client.get(f"/api/compliance/requests/{access.json()['id']}/answer/?as=pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")


def test_erasure_removes_the_subjects_decisions_queued_or_logged_and_their_outcomes(decided, api_client):
    decisions_flush_all()
    first = decided["mine"]["decisions"][0]["decision_id"]
    api_client.force_authenticate(decided["engineer"])
    assert api_client.post("/api/decisions/outcomes/", {"outcomes": [{"decision_id": first, "label": "yes"}]},
                           format="json").status_code == 201
    # One more decision about the subject, still in the write-ahead queue when the erasure runs, and another
    # person's decision whose kept text quotes the subject.
    api_client.force_authenticate(None)
    predict(api_client, decided["model"].pk, decided["token"], [{"text": "A third text.", "subject_id": SUBJECT}])
    predict(api_client, decided["model"].pk, decided["token"],
            [{"text": f"Referee for {SUBJECT}: a fine colleague.", "subject_id": "APPL-0099"}])
    assert decisions_pending() == 2
    api_client.force_authenticate(make_user(COMPLIANCE_OFFICER))
    erasure = api_client.post("/api/compliance/requests/", {"kind": "erasure", "subject_id": SUBJECT},
                              format="json").json()
    done = api_client.post(f"/api/compliance/requests/{erasure['id']}/fulfil/", {"ground": "b"}, format="json")
    assert done.status_code == 200, done.content
    assert not Decision.objects.filter(subject_id=SUBJECT).exists()
    assert not DecisionOutcome.objects.filter(decision_id=first).exists()
    assert Decision.objects.filter(subject_id="APPL-0007").count() == 1  # others' decisions stay
    quote = Decision.objects.get(subject_id="APPL-0099")
    assert SUBJECT not in quote.text and "[redacted: erasure request" in quote.text  # the quote goes, the row stays
    certificate = json.loads(api_client.get(f"/api/compliance/requests/{erasure['id']}/certificate/?as=json").content)
    store = next(s for s in certificate["content"]["stores"] if s["store"].startswith("decision log"))
    assert store["count"] == 3 and store["outcomes"] == 1
    assert certificate["content"]["served_decisions_removed"]["decisions"] == 3
    quotes = next(s for s in certificate["content"]["stores"] if s["store"].startswith("decision log texts"))
    assert quotes["count"] == 1
    # The subject's id and texts are nowhere in the decision log any more.
    assert not Decision.objects.filter(text__in=TEXTS).exists()
    again = _access_answer(api_client, SUBJECT)
    assert again["h_automated_decisions_in_service"] == []
