"""Erasure hooks of the audits app: what its stores keep of a person, and how it is removed.

Called by the compliance app (an erasure, the retention purge) inside its transaction; never calls up.
Stores: the per-row predictions (deleted); the stored results, rewritten in place with a new digest while
the audit's result hash keeps naming what was computed: the explained rows' texts, tokens and group values
(by position), the counterfactual examples' original and swapped texts (by position: a swapped text differs
from the original by the identity terms, so it is found through the row, not the text), the robustness
examples' original and perturbed texts (by position, likewise), and anywhere else a
result quotes the subject (models_core.data.redaction: their texts and identifiers); the audits' error
messages; and the rendered report sections in the cache (forgotten). Exports are rendered on request and
never stored, so none is left to delete.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.db.models import Count, Q

from governance.auditlog.chain import canonical_json
from governance.audits.models import Audit, AuditResult, Prediction
from governance.audits.report import report_cache_forget
from models_core.data.redaction import Traces, flatten, redact_json, redact_string

ERASED = "[erased]"


def audit_positions(*, audit_id: int, record_ids: set[int]) -> set[int]:
    """Positions, in the audit's row order, of the given records. An audit's explanations and counterfactual
    examples name rows by their position in the rows it read (ordered by row index), and it stored one
    prediction per row in that order, so the predictions' primary-key order recovers the positions even
    after rows were erased."""
    ordered = Prediction.objects.filter(audit_id=audit_id).order_by("pk").values_list("record_id", flat=True)
    return {i for i, record_id in enumerate(ordered) if record_id in record_ids}


def _blank_explained(data: dict, wanted: set[int] | None) -> int:
    """Blank the explained rows at the `wanted` positions (text, tokens, words, groups); then drop from the
    global view (rankings of lower-cased words) every word that only those rows held, such as a place only
    the erased person names: the view's figures are aggregates, its words are not."""
    rows, hit = data.get("row_indices") or [], 0
    gone, kept = set(), set()
    for entry in data.get("texts", []):
        index = entry.get("index")
        words = {str(w.get("word", "")).lower() for w in entry.get("words") or [] if isinstance(w, dict)}
        words |= {str(t.get("token", "")).lower() for t in entry.get("tokens") or [] if isinstance(t, dict)}
        if index is None or index >= len(rows) or not (wanted is None or rows[index] in wanted):
            kept |= words
            continue
        if entry.get("text") != ERASED:
            entry["text"] = ERASED
            entry["tokens"] = [{**t, "token": ERASED} for t in entry.get("tokens", [])]
            entry["words"] = [{**w, "word": ERASED} for w in entry.get("words") or [] if isinstance(w, dict)]
            entry["groups"] = {k: ERASED for k in entry.get("groups", {})}
            hit += 1
        gone |= words
    gone -= kept | {ERASED}
    if gone and isinstance(data.get("global"), dict):
        data["global"] = _without_words(data["global"], gone)
    return hit


def _without_words(node, gone: set[str]):
    """A copy of a global view without the ranking rows (and set-aside words) in `gone`."""
    if isinstance(node, dict):
        return {k: _without_words(v, gone) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_words(v, gone) for v in node
                if not (isinstance(v, dict) and str(v.get("token", "")).lower() in gone)
                and not (isinstance(v, str) and v.lower() in gone)]
    return node


def _blank_counterfactual(data: dict, wanted: set[int] | None) -> int:
    hit = 0
    for direction in (data.get("directions") or {}).values():
        for example in direction.get("worst", []):
            if (wanted is None or example.get("index") in wanted) and example.get("original") != ERASED:
                example["original"] = example["swapped"] = ERASED
                hit += 1
    return hit


def _blank_robustness(data: dict, wanted: set[int] | None) -> int:
    """The robustness examples (worst per suite, failing expectations, attacks) quote the row at `index` and
    a perturbation of it (a name swap keeps the rest of the text): both go."""
    examples = [w for suite in (data.get("suites") or {}).values() for w in suite.get("worst", [])]
    examples += [w for e in data.get("directional") or [] for w in e.get("worst", [])]
    examples += list((data.get("adversarial") or {}).get("examples") or [])
    hit = 0
    for example in examples:
        if (wanted is None or example.get("index") in wanted) and example.get("original") != ERASED:
            example["original"] = example["perturbed"] = ERASED
            hit += 1
    return hit


_BY_POSITION = {"explanations": _blank_explained, "counterfactual": _blank_counterfactual,
                "robustness": _blank_robustness}


def audit_results_redact(*, positions_by_audit: dict[int, set[int] | None], traces: Traces | None = None,
                         replacement: str = ERASED) -> list[dict]:
    """Blank the rows at the given positions (every row when None) in the explanations and counterfactual
    examples of each audit in `positions_by_audit`, then remove every string that quotes `traces` from the
    results of every audit. Call it before the rows' predictions are deleted (audit_positions reads them).
    Returns one entry per rewritten result: audit, result kind, rows blanked, other strings redacted, and
    the digests before and after."""
    changed = []
    scope = Q(audit_id__in=list(positions_by_audit), kind__in=list(_BY_POSITION))
    # With traces, every audit's results are read: a result of another audit may quote the subject.
    results = (AuditResult.objects.all() if traces else AuditResult.objects.filter(scope)).select_for_update()
    results = results.order_by("audit_id", "kind")
    for result in results.iterator(chunk_size=200):
        data, rows = result.data, 0
        if result.audit_id in positions_by_audit and result.kind in _BY_POSITION:
            rows = _BY_POSITION[result.kind](data, positions_by_audit[result.audit_id])
        strings = 0
        if traces and traces.may_occur_in(flatten(data)):
            data, strings = redact_json(data, traces, replacement)
        if rows or strings:
            before = result.sha256
            clean = json.loads(canonical_json(data))
            result.data, result.sha256 = clean, hashlib.sha256(canonical_json(clean).encode()).hexdigest()
            result.save(update_fields=["data", "sha256"])
            changed.append({"audit": result.audit_id, "result": result.kind, "rows_redacted": rows,
                            "strings_redacted": strings, "sha256_before": before, "sha256_after": result.sha256})
    if changed:  # no rendered copy of the erased text stays in the report cache
        audit_ids = sorted({c["audit"] for c in changed})
        report_cache_forget(audit_ids=audit_ids)
        # Again once committed: a page rendered meanwhile from the old rows may have filed them again.
        transaction.on_commit(lambda: report_cache_forget(audit_ids=audit_ids))
    return changed


def audit_errors_redact(*, traces: Traces, replacement: str = ERASED) -> int:
    """Failed audits keep their error message, which may quote a row: redact it there; and a running audit's
    provisional results (issue 19: explained texts, counterfactual examples) until its final ones replace them."""
    n = 0
    for audit in Audit.objects.select_for_update().exclude(error="").only("pk", "error").iterator(chunk_size=500):
        clean, k = redact_string(audit.error, traces, replacement)
        if k:
            Audit.objects.filter(pk=audit.pk).update(error=clean)
            n += 1
    running = Audit.objects.select_for_update().exclude(provisional={}).only("pk", "provisional")
    for audit in running.iterator(chunk_size=100):
        if traces.may_occur_in(flatten(audit.provisional)):
            clean, k = redact_json(audit.provisional, traces, replacement)
            if k:
                Audit.objects.filter(pk=audit.pk).update(provisional=clean)
                n += 1
    return n


def predictions_delete(*, record_ids: set[int], subject_id: str = "") -> list[dict]:
    """Delete the predictions about these records (and, by subject id, those whose record is gone);
    returns per audit how many."""
    which = Q(record_id__in=list(record_ids))
    if subject_id:
        which |= Q(subject_id=subject_id)
    predictions = Prediction.objects.filter(which)
    removed = [{"audit": row["audit"], "predictions": row["n"]}
               for row in predictions.values("audit").annotate(n=Count("pk")).order_by("audit")]
    Prediction.objects.filter(pk__in=list(predictions.values_list("pk", flat=True))).delete()
    return removed


def audits_of_versions(*, version_ids) -> dict[int, int]:
    """audit id -> the dataset version it audited, for the audits of these versions."""
    return dict(Audit.objects.filter(dataset_version_id__in=list(version_ids)).values_list("pk", "dataset_version_id"))
