"""Erasure hook of the serving app: the decision log's rows about a data subject, and their outcomes.

Called by the compliance app (an erasure) inside its transaction; never calls up. The write-ahead queue is
flushed first, so a decision answered a moment ago (still in Redis) is erased with the rest. Decisions are
found by the subject id the client sent; their texts (when the serving policy kept them) go with the rows.
The audit log keeps only the batch digests it was given (ids and input hashes, no text, no subject id).
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q

from governance.serving.decision_queue import decisions_flush_all
from governance.serving.models import Decision, DecisionOutcome
from models_core.data.redaction import Traces, redact_string

STORE = "decision log (served decisions and their outcomes)"
QUOTES = "decision log texts that quote the subject"


def decisions_erase(*, subject_id: str) -> dict:
    """Delete every logged decision about `subject_id` and its outcome; returns the counts per model."""
    if not subject_id:
        return {"decisions": 0, "outcomes": 0, "by_model": {}}
    decisions_flush_all()
    rows = Decision.objects.filter(subject_id=subject_id)
    by_model: dict[str, int] = {}
    for model_id in rows.values_list("model_id", flat=True):
        by_model[str(model_id)] = by_model.get(str(model_id), 0) + 1
    outcomes, _ = DecisionOutcome.objects.filter(decision_id__in=rows.values("id")).delete()
    decisions, _ = rows.delete()
    return {"decisions": decisions, "outcomes": outcomes, "by_model": by_model}


def decisions_redact(*, traces: Traces, replacement: str) -> dict[str, int]:
    """Redact the subject's texts and identifiers in the kept input texts of other decisions (another subject's,
    or one sent without a subject id): the rows stay, the quote goes. One scan of the kept texts in SQL finds the
    candidates (an identifier inside, or one of the subject's record texts whole)."""
    decisions_flush_all()
    if not traces:
        return {QUOTES: 0}
    match = [Q(text__icontains=i) for i in traces.identifiers] + ([Q(text__in=list(traces.texts))] if traces.texts
                                                                  else [])
    changed = 0
    if match:
        rows = Decision.objects.filter(reduce(or_, match), text__isnull=False).only("id", "decided_at", "text")
        for row in rows.iterator(chunk_size=500):
            text, hit = redact_string(row.text, traces, replacement)
            if hit:
                Decision.objects.filter(pk=row.pk, decided_at=row.decided_at).update(text=text)
                changed += 1
    return {QUOTES: changed}
