"""Erasure hook of the serving app: the decision log's rows about a data subject, and their outcomes.

Called by the compliance app (an erasure) inside its transaction; never calls up. The write-ahead queue is
flushed first, so a decision answered a moment ago (still in Redis) is erased with the rest. Decisions are
found by the subject id the client sent; their texts (when the serving policy kept them) go with the rows.
The audit log keeps only the batch digests it was given (ids and input hashes, no text, no subject id).
"""

from __future__ import annotations

from governance.serving.decision_queue import decisions_flush_all
from governance.serving.models import Decision, DecisionOutcome

STORE = "decision log (served decisions and their outcomes)"


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
