"""The audit report page, its API and its exports, on one audit that explained a few rows (stored results only)."""

from __future__ import annotations

import copy
import hashlib
import re

import pytest
from django.urls import reverse

from governance.audits import services as audit_services
from governance.audits.models import AuditResult
from governance.auditlog.chain import canonical_json
from governance.auditlog.models import AuditLogEntry
from tests.factories import PASSWORD
from tests.governance.slice import completed_audit

pytestmark = pytest.mark.django_db


@pytest.fixture
def explained_audit(engineer, inline_jobs, monkeypatch):
    # SHAP and IG only: LIME's thousands of perturbations per text add minutes and nothing the page needs
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap", "ig"])
    audit = completed_audit(engineer, inline_jobs, explain_rows=4)
    assert audit.status == "complete", audit.error
    return audit


def test_report_api_and_exports_show_the_stored_results(client, api_client, engineer, explained_audit):
    """One trained and explained audit serves every check (training and explaining dominate the cost)."""
    client.login(username=engineer.username, password=PASSWORD)
    _verdict_first_then_every_stored_result(client, explained_audit)
    _token_heatmap_spans_reproduce_the_text_with_values_on_hover(client, explained_audit)
    _api_returns_the_explanations_with_the_audit(api_client, engineer, explained_audit)
    _html_export_is_self_contained_and_logged_with_its_hash(client, explained_audit)
    _pdf_export_is_a_pdf_logged_with_its_hash(client, explained_audit)
    _an_unknown_export_format_is_refused_without_a_log_entry(client, explained_audit)
    _stability_flags_and_truncation_are_stated(client, explained_audit)  # edits the stored result: last


def _verdict_first_then_every_stored_result(client, explained_audit):
    body = client.get(reverse("audit", args=[explained_audit.pk])).content.decode()
    order = [body.index(f'id="{anchor}"') for anchor in ("verdict", "performance", "fairness", "explanations",
                                                          "compute", "lineage", "evidence")]
    assert order == sorted(order)
    verdict = body[body.index('id="verdict"'):body.index('id="performance"')]
    assert "Staging:" in verdict and "Production:" in verdict
    assert "Explanations present" in verdict and "Audit recent enough" in verdict
    assert "above baseline" in verdict or "not above baseline" in verdict
    assert "to weigh before signing" in verdict or "No finding against the model" in verdict
    assert explained_audit.result_hash in body
    for result in AuditResult.objects.filter(audit=explained_audit):
        assert result.sha256 in body


def _token_heatmap_spans_reproduce_the_text_with_values_on_hover(client, explained_audit):
    body = client.get(reverse("audit", args=[explained_audit.pk])).content.decode()
    ex = AuditResult.objects.get(audit=explained_audit, kind="explanations").data
    first = ex["texts"][0]
    shap = first["attributions"]["shap"]
    # the value of the most important token is on its span's title, formatted as stored
    k = max(range(len(shap)), key=lambda i: abs(shap[i]))
    token = first["tokens"][k]
    assert f'title="{token["token"]}: {shap[k]:+.4f} (SHAP)"' in body
    # the spans of one heatmap, with the tags stripped, give back the explained text
    section = body[body.index('id="explanation-1"'):body.index('id="explanation-2"')]
    line = re.search(r'<span class="method">SHAP</span> <span class="tokens" lang="en">(.*?)</span></p>', section,
                     re.S).group(1)
    from html import unescape
    assert unescape(re.sub(r"<[^>]+>", "", line)) == first["text"]
    # the accessible table holds every token's value under every method
    assert section.count("<tr><td class=\"mono\">") == len(first["tokens"])
    assert "Global word importance" in body and "Likely proxies for gender" in body
    assert body.count('role="img"') >= 2
    # punctuation and stop words set aside by default, the full ranking one click away (no JavaScript)
    glob = ex["global"]
    assert "Set aside by default: punctuation" in body
    assert '<details id="global-all-words"' in body and "Show all words, punctuation and stop words included" in body
    default = body[body.index('id="global-tokens"'):body.index('id="global-all-words"')]
    from django.utils.html import escape
    for word in glob["set_aside"]["punctuation"] + glob["set_aside"]["stop_words"]:
        assert f'<td class="mono">{escape(word)}</td>' not in default
    every = body[body.index('id="global-all-words"'):body.index("</details>", body.index('id="global-all-words"'))]
    assert all(f'<td class="mono">{escape(t["token"])}</td>' in every for t in glob["all"]["top_tokens"][:20])
    assert "Method agreement (ρ min)" in body and "Stability (top-k min)" in body
    assert "the same game, not equal values" in body and "60 tokens Pearson ≥ 0.55" in body  # the measured gap


def _stability_flags_and_truncation_are_stated(client, explained_audit):
    ex_row = AuditResult.objects.get(audit=explained_audit, kind="explanations")
    data = ex_row.data
    data["texts"][0]["flags"] = ["truncated", "low_method_agreement", "ig_incomplete"]
    data["texts"][0]["method_info"]["ig"]["delta"] = 0.01234
    data["texts"][1]["method_info"].pop("ig")  # a result stored before IG's gap was kept still renders
    data["texts"][0]["truncated"] = True
    data["texts"][0]["original_length"] = 900
    # Rewritten in place as the services rewrite a result (a new digest, the audit's result hash unchanged): the
    # page's cached sections are keyed by the results' digests, so no cache needs clearing.
    AuditResult.objects.filter(pk=ex_row.pk).update(
        data=data, sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
    body = client.get(reverse("audit", args=[explained_audit.pk])).content.decode()
    assert "methods disagree (low agreement)" in body
    assert f"the first {len(data['texts'][0]['text'])} of 900 characters" in body
    assert "Integrated Gradients incomplete" in body
    ig = data["texts"][0]["method_info"]["ig"]
    assert f"completeness gap (|sum of attributions − (P − P with all tokens masked)|): 0.01234 (integrated with " \
           f"{ig['n_steps']} gradient nodes on {ig['panels']} Gauss-Legendre panels of the path), flagged above " \
           f"{data['config']['ig']['delta_max']:.5f}" in body
    flagged = sum(1 for t in data["texts"] if t["flags"])
    assert f"{flagged} of {len(data['texts'])}</span> explanations carry a flag" in body
    # a result stored under schema /1 (agreement under "stability", clipped at 0) still reads, and says what it is
    old = copy.deepcopy(data)
    old["schema"] = "models_core.explain/1"
    for text in old["texts"]:
        agreement = text.pop("agreement")
        text["stability"] = {"score": max(0.0, agreement["score"] or 0.0), "methods": agreement["methods"], "seeds": {}}
        text.pop("words"), text.pop("word_attributions")
    old["global"] = {k: v for k, v in old["global"].items() if k not in ("unit", "all", "set_aside")}
    AuditResult.objects.filter(pk=ex_row.pk).update(
        data=old, sha256=hashlib.sha256(canonical_json(old).encode()).hexdigest())
    body = client.get(reverse("audit", args=[explained_audit.pk])).content.decode()
    assert "Explained before this measure was separated" in body and "clipped at 0" in body
    assert "Global token importance" in body and "Method agreement: Integrated Gradients–SHAP" in body
    api = client.get(f"/api/audits/{explained_audit.pk}/").json()["results"]["explanations"]
    assert api["texts"][0]["agreement"]["clipped_at_zero"] and api["legacy"]["schema"] == "models_core.explain/1"


def _api_returns_the_explanations_with_the_audit(api_client, engineer, explained_audit):
    api_client.force_authenticate(engineer)
    data = api_client.get(f"/api/audits/{explained_audit.pk}/").json()
    ex = data["results"]["explanations"]
    assert ex["schema"] == "models_core.explain/2"
    assert len(ex["texts"]) == 4 and set(ex["texts"][0]["attributions"]) == {"shap", "ig"}
    assert {"agreement", "stability", "words", "word_attributions", "truncated"} <= set(ex["texts"][0])
    assert ex["texts"][0]["agreement"]["methods"][0]["a"] == "ig"
    assert "top_tokens" in ex["global"] and "proxies" in ex["global"]


def _html_export_is_self_contained_and_logged_with_its_hash(client, explained_audit):
    response = client.get(reverse("audit-export", args=[explained_audit.pk, "html"]))
    assert response.status_code == 200
    body = response.content
    text = body.decode()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)
    assert "<script" not in text and "<link" not in text and "<style>" in text
    assert "Verdict against the deployment policies" in text and explained_audit.result_hash in text
    assert "<svg" in text and "Provenance of this export" in text
    digest = hashlib.sha256(body).hexdigest()
    assert response["X-Content-SHA256"] == digest
    entry = AuditLogEntry.objects.filter(action="audit.report_exported").latest("seq")
    assert entry.payload["file_sha256"] == digest and entry.payload["format"] == "html"
    assert entry.object_id == str(explained_audit.pk)


def _pdf_export_is_a_pdf_logged_with_its_hash(client, explained_audit):
    response = client.get(reverse("audit-export", args=[explained_audit.pk, "pdf"]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    entry = AuditLogEntry.objects.filter(action="audit.report_exported").latest("seq")
    assert entry.payload == {**entry.payload, "format": "pdf",
                             "file_sha256": hashlib.sha256(response.content).hexdigest()}


def _an_unknown_export_format_is_refused_without_a_log_entry(client, explained_audit):
    before = AuditLogEntry.objects.count()
    response = client.get(reverse("audit-export", args=[explained_audit.pk, "docx"]), follow=True)
    assert "exports as HTML or PDF" in response.content.decode()
    assert AuditLogEntry.objects.count() == before
