"""Data minimisation in what readers see of an audit: loan notes quoted by the results (explained rows,
counterfactual examples) are masked on the report page, in the API and in the HTML export; a reviewer or
compliance officer may reveal one text with a reason (logged without the text); everyone else is refused,
and the stored results stay as the worker wrote them."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from governance.audits.models import AuditResult
from governance.auditlog.models import AuditLogEntry
from governance.roles import AUDITOR, COMPLIANCE_OFFICER, REVIEWER
from tests.factories import PASSWORD, make_user
from tests.governance.audits.loan_audit import loan_notes_audit

pytestmark = pytest.mark.django_db


@pytest.fixture
def loan_audit(engineer):
    return loan_notes_audit(engineer)


def _visible(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def _leaks(body: str, planted: list[str]) -> list[str]:
    return [value for value in planted if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", body)]


def _page(client, user, url):
    client.login(username=user.username, password=PASSWORD)
    return client.get(url)


def test_the_report_page_masks_the_personal_data_of_the_quoted_texts(client, loan_audit):
    audit, planted = loan_audit
    reviewer = make_user(REVIEWER)
    for _ in range(2):  # rendered, then served from the kept sections: masked both times
        response = _page(client, reviewer, reverse("audit", args=[audit.pk]))
        assert response.status_code == 200
        body = response.content.decode()
        assert not _leaks(body, planted)
        assert "[PERSON]" in body and ("[PHONE]" in body or "[EMAIL]" in body or "[IBAN]" in body)
        assert 'id="masked-note"' in body
    section = body[body.index('id="explanation-1"'):]
    assert "[PERSON]" in _visible(section[:section.index("</article>")])
    cf = body[body.index('id="counterfactual"'):body.index("</section>", body.index('id="counterfactual"'))]
    assert "[PERSON]" in cf
    # The stored results are untouched: masking happens when they are shown.
    stored = json.dumps(AuditResult.objects.get(audit=audit, kind="explanations").data)
    assert _leaks(stored, planted)


def test_the_api_returns_the_results_masked_with_their_refs(api_client, engineer, loan_audit):
    audit, planted = loan_audit
    api_client.force_authenticate(engineer)
    response = api_client.get(f"/api/audits/{audit.pk}/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert not _leaks(json.dumps(results), planted)
    assert "explanations/texts/0" in results["masked_refs"]
    assert "counterfactual/directions/female→male/worst/0/original" in results["masked_refs"]
    first = results["explanations"]["texts"][0]
    # The masked text's tokens still point at it: every token shows what its offsets cut out of the text.
    for token in first["tokens"]:
        assert first["text"][token["start"]:token["end"]].lower() == token["token"].lower()
    assert any(t["token"] == "[PERSON]" for t in first["tokens"])
    assert len(first["tokens"]) == len(first["attributions"]["shap"])


def test_the_html_and_pdf_exports_carry_the_masked_texts(client, loan_audit):
    audit, planted = loan_audit
    response = _page(client, make_user(REVIEWER), reverse("audit-export", args=[audit.pk, "html"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert not _leaks(body, planted) and "[PERSON]" in body
    from governance.audits import exports, selectors

    content = exports.audit_report_content(audit=audit, results=selectors.audit_results_shown(audit=audit),
                                           verdicts=[])
    assert not _leaks(json.dumps(exports.pdf_blocks(content), default=str), planted)


@pytest.mark.parametrize("role", [REVIEWER, COMPLIANCE_OFFICER])
def test_a_reviewer_or_officer_reveals_one_text_with_a_reason_logged_without_it(api_client, loan_audit, role):
    audit, planted = loan_audit
    api_client.force_authenticate(make_user(role))
    stored = AuditResult.objects.get(audit=audit, kind="explanations").data["texts"][1]["text"]
    response = api_client.post(f"/api/audits/{audit.pk}/reveal/",
                               {"ref": "explanations/texts/1", "reason": "Checking the flagged explanation"},
                               format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"ref": "explanations/texts/1", "text": stored}
    entry = AuditLogEntry.objects.filter(action="audit.text_revealed").get()
    assert entry.payload["ref"] == "explanations/texts/1"
    assert entry.payload["reason"] == "Checking the flagged explanation"
    assert entry.object_id == str(audit.pk)
    assert stored not in json.dumps(entry.payload) and not _leaks(json.dumps(entry.payload), planted)


@pytest.mark.parametrize("role", ["ml_engineer", AUDITOR])
def test_other_roles_are_refused_the_reveal_on_the_api_and_the_page(api_client, client, loan_audit, role):
    audit, planted = loan_audit
    user = make_user(role)
    api_client.force_authenticate(user)
    response = api_client.post(f"/api/audits/{audit.pk}/reveal/",
                               {"ref": "explanations/texts/0", "reason": "I would like to see it"}, format="json")
    assert response.status_code == 403
    assert not _leaks(response.content.decode(), planted)
    client.login(username=user.username, password=PASSWORD)
    page = client.post(reverse("audit-text-reveal", args=[audit.pk]),
                       {"ref": "explanations/texts/0", "reason": "I would like to see it"})
    assert page.status_code == 403 and not _leaks(page.content.decode(), planted)
    assert client.get(reverse("audit-text-reveal", args=[audit.pk])).status_code == 403
    assert not AuditLogEntry.objects.filter(action="audit.text_revealed").exists()


@pytest.mark.parametrize("body, field", [
    ({"ref": "explanations/texts/0"}, "reason"),
    ({"ref": "explanations/texts/0", "reason": "   "}, "reason"),
    ({"ref": "explanations/texts/0", "reason": "because"}, "reason"),  # too short to say anything
    ({"ref": "explanations/texts/99", "reason": "Checking the explanation"}, "ref"),
    ({"ref": "metrics/accuracy", "reason": "Checking the explanation"}, "ref"),  # not a text
    ({"ref": "explanations", "reason": "Checking the explanation"}, "ref"),  # the whole result at once
    ({"reason": "Checking the explanation"}, "ref"),
])
def test_a_reveal_without_a_reason_or_a_text_is_a_400_at_the_field(api_client, loan_audit, body, field):
    audit, planted = loan_audit
    api_client.force_authenticate(make_user(REVIEWER))
    response = api_client.post(f"/api/audits/{audit.pk}/reveal/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not _leaks(response.content.decode(), planted)
    assert not AuditLogEntry.objects.filter(action="audit.text_revealed").exists()


def test_the_reveal_page_shows_the_one_text_and_refuses_a_missing_reason(client, loan_audit):
    audit, planted = loan_audit
    reviewer = make_user(REVIEWER)
    report = _page(client, reviewer, reverse("audit", args=[audit.pk])).content.decode()
    assert reverse("audit-text-reveal", args=[audit.pk]) in report
    form = client.get(reverse("audit-text-reveal", args=[audit.pk]))
    assert form.status_code == 200 and not _leaks(form.content.decode(), planted)
    assert "explanations/texts/0" in form.content.decode()
    bad = client.post(reverse("audit-text-reveal", args=[audit.pk]), {"ref": "explanations/texts/0", "reason": ""})
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    assert not _leaks(bad.content.decode(), planted)
    ok = client.post(reverse("audit-text-reveal", args=[audit.pk]),
                     {"ref": "explanations/texts/0", "reason": "Investigating a complaint from the applicant"})
    assert ok.status_code == 200
    stored = AuditResult.objects.get(audit=audit, kind="explanations").data["texts"][0]["text"]
    assert stored in ok.content.decode().replace("&#x27;", "'")
    assert AuditLogEntry.objects.filter(action="audit.text_revealed").count() == 1
    # The reveal reaches the one reader's answer only: the report stays masked for everyone, the revealer too.
    again = client.get(reverse("audit", args=[audit.pk])).content.decode()
    assert not _leaks(again, planted)
    engineer_page = _page(client, make_user(), reverse("audit", args=[audit.pk])).content.decode()
    assert not _leaks(engineer_page, planted) and reverse("audit-text-reveal", args=[audit.pk]) not in engineer_page


def test_every_example_text_of_any_result_is_masked_and_only_texts_can_be_revealed():
    from governance.audits.minimisation import results_masked, text_at

    note = "Applicant Maria Kowalski, phone 020 7946 0958, lives in Leeds."
    results = {"robustness": {"examples": [{"original": note, "perturbed": note.replace("Applicant", "Aplicant"),
                                            "p_original": 0.5}],
                              "config": {"text_column": "text"}},
               "explanations": {"texts": [{"text": "ten years of python", "tokens": []}]},
               "metrics": {"accuracy": 0.8}}
    shown = results_masked(results)
    assert shown["robustness"]["examples"][0]["original"] == "Applicant [PERSON], phone [PHONE], lives in [LOCATION]."
    assert "Kowalski" not in str(shown) and "7946" not in str(shown)
    assert shown["masked_refs"] == ["robustness/examples/0/original", "robustness/examples/0/perturbed"]
    assert shown["explanations"]["texts"][0]["text"] == "ten years of python"  # nothing to mask
    assert results["robustness"]["examples"][0]["original"] == note  # the stored copy is untouched
    assert text_at(results, "robustness/examples/0/original") == note
    for ref in ("metrics/accuracy", "robustness/examples/0/p_original", "robustness", "", "../etc/passwd"):
        assert text_at(results, ref) is None


def test_global_token_importance_masks_the_pieces_of_names_it_lists():
    from governance.audits.minimisation import results_masked

    text = "Applicant Maria Kowalski lives in Leeds"
    pieces = [("applicant", 0, 9), ("maria", 10, 15), ("kowal", 16, 21), ("##ski", 21, 24), ("lives", 25, 30),
              ("in", 31, 33), ("leeds", 34, 39)]
    results = {"explanations": {"texts": [{"text": text, "tokens": [{"token": t, "start": s, "end": e}
                                                                     for t, s, e in pieces]}],
                                "global": {"top_tokens": [{"token": "kowal", "mean_abs": 0.3},
                                                          {"token": "lives", "mean_abs": 0.1}],
                                           "proxies": {"gender": [{"token": "leeds", "gap": 0.2}]}}}}
    shown = results_masked(results)["explanations"]["global"]
    assert [t["token"] for t in shown["top_tokens"]] == ["[PERSON]", "lives"]
    assert shown["proxies"]["gender"][0]["token"] == "[LOCATION]"
    assert results["explanations"]["global"]["top_tokens"][0]["token"] == "kowal"


def test_global_word_importance_masks_whole_names_in_every_ranking_even_the_hidden_all_words_one():
    """An insider reading the "show all words" ranking (or the API) must not find a name there either."""
    from governance.audits.minimisation import results_masked

    text = "Applicant Maria Kowalski lives in Leeds ."
    spans = [("Applicant", 0, 9), ("Maria", 10, 15), ("Kowalski", 16, 24), ("lives", 25, 30), ("in", 31, 33),
             ("Leeds", 34, 39), (".", 40, 41)]
    ranking = [{"token": "kowalski", "kind": "word", "mean_abs": 0.3}, {"token": ".", "kind": "punctuation"}]
    results = {"explanations": {"schema": "models_core.explain/2", "texts": [
        {"text": text, "tokens": [], "words": [{"word": w, "start": s, "end": e, "tokens": []} for w, s, e in spans]}],
        "global": {"unit": "word", "top_tokens": [ranking[0]], "proxies": {"gender": [{"token": "leeds", "gap": 0.2}]},
                   "all": {"top_tokens": ranking, "by_group": {"gender": {"f": [dict(ranking[0])]}},
                           "proxies": {"gender": [{"token": "maria", "gap": 0.1}]}}}}}
    shown = results_masked(results)["explanations"]["global"]
    assert shown["top_tokens"][0]["token"] == "[PERSON]"
    assert shown["proxies"]["gender"][0]["token"] == "[LOCATION]"
    assert [t["token"] for t in shown["all"]["top_tokens"]] == ["[PERSON]", "."]
    assert shown["all"]["by_group"]["gender"]["f"][0]["token"] == "[PERSON]"
    assert shown["all"]["proxies"]["gender"][0]["token"] == "[PERSON]"
    assert "kowalski" not in str(shown) and "maria" not in str(shown).lower()


def test_a_reason_naming_someone_is_logged_masked(api_client, loan_audit):
    audit, planted = loan_audit
    api_client.force_authenticate(make_user(COMPLIANCE_OFFICER))
    response = api_client.post(f"/api/audits/{audit.pk}/reveal/",
                               {"ref": "explanations/texts/2",
                                "reason": "Complaint from Maria Kowalski, call 020 7946 0123"}, format="json")
    assert response.status_code == 200
    logged = AuditLogEntry.objects.get(action="audit.text_revealed").payload["reason"]
    assert logged == "Complaint from [PERSON], call [PHONE]"
