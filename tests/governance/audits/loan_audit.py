"""A completed audit whose stored results quote loan notes with people, phones, e-mails and IBANs in them
(explained rows with their tokens, counterfactual examples), written as the audit worker writes results;
the planted values are returned so tests can look for them."""

from __future__ import annotations

import hashlib
import re

from django.utils import timezone

from governance.audits.models import Audit, AuditResult, AuditStatus
from governance.audits.services import result_hash
from governance.auditlog.chain import canonical_json
from tests.governance.approvals.evidence import _json, ready_version
from tests.models_core.pii.notes import loan_notes

_TOKEN = re.compile(r"\w+|[^\w\s]")


def _explained(i: int, text: str) -> dict:
    tokens = [{"token": m.group().lower(), "start": m.start(), "end": m.end()} for m in _TOKEN.finditer(text)]
    values = [round(0.01 * ((k % 7) - 3), 4) for k in range(len(tokens))]
    return {"index": i, "text": text, "tokens": tokens, "attributions": {"shap": values}, "target": "yes",
            "value": 0.62, "base_value": 0.5, "groups": {"gender": "female" if i % 2 else "male"},
            "stability": {"score": 0.9, "methods": [], "seeds": {}}, "flags": [], "truncated": False}


def loan_notes_audit(engineer, *, n_texts: int = 4, seed: int = 3) -> tuple[Audit, list[str]]:
    """A complete audit quoting `n_texts` loan notes; returns it and every planted personal value."""
    notes = loan_notes(n_texts, seed=seed)
    planted = sorted({text[s:e] for text, spans in notes for _, s, e, _ in spans}, key=len, reverse=True)
    texts = [text for text, _ in notes]
    version = ready_version(engineer)
    results = {
        "metrics": {"accuracy": 0.8, "n": 40, "f1_macro": 0.79, "majority_baseline_accuracy": 0.5,
                    "per_class": []},
        "explanations": {"methods": ["shap"], "texts": [_explained(i, t) for i, t in enumerate(texts)],
                         "row_indices": list(range(len(texts))), "config": {"max_length": 128},
                         "global": {"top_tokens": [], "proxies": {}}},
        "counterfactual": {"groups": ["female", "male"], "n_texts": len(texts), "positive_class": "yes",
                           "word_pairs": [["she", "he"]],
                           "directions": {"female→male": {
                               "n_changed": 1, "n_flipped": 1, "flip_rate": 1.0, "mean_abs_change": 0.2,
                               "mean_change": 0.2, "max_abs_change": 0.2,
                               "worst": [{"index": 0, "original": texts[0] + " She is the applicant.",
                                          "swapped": texts[0] + " He is the applicant.", "p_original": 0.4,
                                          "p_swapped": 0.6, "change": 0.2, "flipped": True}]}}},
    }
    results = {k: _json(v) for k, v in results.items()}
    now = timezone.now()
    audit = Audit.objects.create(model_version=version, dataset_version=version.dataset_version,
                                 status=AuditStatus.COMPLETE, requested_by=engineer,
                                 artifact_digest=version.artifact_digest, started_at=now, finished_at=now,
                                 summary={"accuracy": 0.8, "n": 40}, result_hash=result_hash(results))
    AuditResult.objects.bulk_create(
        AuditResult(audit=audit, kind=kind, data=data,
                    sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
        for kind, data in results.items())
    return audit, planted
