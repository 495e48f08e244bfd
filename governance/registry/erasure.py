"""Erasure hook of the registry app: a model version's error message, training history and metrics, and a
deployment's end reason, may quote a row or name a person.

Called by the compliance app (an erasure, the retention purge) inside its transaction; never calls up. The
weights are not edited: a model trained on erased records gets a decision (retrain or keep) instead.
"""

from __future__ import annotations

from governance.registry.models import Deployment, ModelVersion
from models_core.data.redaction import Traces, flatten, redact_json, redact_string

_TEXT = {ModelVersion: ("error", "lineage_note"), Deployment: ("ended_reason",)}
_JSON = {ModelVersion: ("history", "metrics"), Deployment: ()}
_NAMES = {ModelVersion: "model version errors and training history", Deployment: "deployment end reasons"}


def registry_redact(*, traces: Traces, replacement: str) -> dict[str, int]:
    """Redact the subject's texts and identifiers; returns per store the rows changed."""
    counts: dict[str, int] = dict.fromkeys(_NAMES.values(), 0)
    for model, text_fields in _TEXT.items():
        fields = ("pk", *text_fields, *_JSON[model])
        for row in model.objects.select_for_update().only(*fields).order_by("pk").iterator(chunk_size=500):
            values = {f: getattr(row, f) for f in text_fields + _JSON[model]}
            if not traces.may_occur_in(flatten(values)):
                continue
            clean = {}
            for f in text_fields:
                clean[f] = redact_string(values[f], traces, replacement)
            for f in _JSON[model]:
                clean[f] = redact_json(values[f], traces, replacement)
            changed = {f: v for f, (v, k) in clean.items() if k}
            if changed:
                model.objects.filter(pk=row.pk).update(**changed)
                counts[_NAMES[model]] += 1
    return counts
