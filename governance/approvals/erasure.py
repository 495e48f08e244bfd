"""Erasure hook of the approvals app: free text people write about a deployment may quote a data subject.

Called by the compliance app (an erasure, the retention purge) inside its transaction; never calls up.
Redacted in place, the rest of each text kept, each occurrence replaced by the note the caller gives
("[redacted: erasure request ER-…]"): request justifications and stored gate results (which quote the
waivers), comments, waiver reasons, approval and rejection reasons, and the webhook deliveries' payloads and
last errors.
"""

from __future__ import annotations

from governance.approvals.models import Approval, DeploymentRequest, GateWaiver, RequestComment, WebhookDelivery
from models_core.data.redaction import Traces, flatten, redact_json, redact_string, snippet

_TEXT = {DeploymentRequest: ("justification",), RequestComment: ("body",), GateWaiver: ("reason",),
         Approval: ("reason", "voided_reason"), WebhookDelivery: ("last_error",)}
# A request's stored gate results quote its waivers' reasons (approvals.gates.apply_waivers).
_JSON = {DeploymentRequest: ("gate_results",), WebhookDelivery: ("payload",)}
_NAMES = {DeploymentRequest: "deployment request justifications and gate results", RequestComment: "request comments",
          GateWaiver: "waiver reasons", Approval: "approval and rejection reasons",
          WebhookDelivery: "webhook deliveries"}


def approvals_redact(*, traces: Traces, replacement: str) -> dict[str, int]:
    """Redact the subject's texts and identifiers; returns per store the rows changed."""
    counts: dict[str, int] = dict.fromkeys(_NAMES.values(), 0)
    for model, text_fields in _TEXT.items():
        json_fields = _JSON.get(model, ())
        rows = model.objects.select_for_update().only("pk", *text_fields, *json_fields).order_by("pk")
        for row in rows.iterator(chunk_size=500):
            values = {f: getattr(row, f) for f in text_fields + json_fields}
            if not traces.may_occur_in(flatten(values)):
                continue
            clean = {f: redact_string(values[f], traces, replacement) for f in text_fields}
            clean.update({f: redact_json(values[f], traces, replacement) for f in json_fields})
            changed = {f: v for f, (v, k) in clean.items() if k}
            if changed:
                model.objects.filter(pk=row.pk).update(**changed)
                counts[_NAMES[model]] += 1
    return counts


def approvals_mentions(*, traces: Traces) -> list[dict]:
    """Where people's text about deployments mentions the subject: store, row id, column, masked snippet."""
    found = []
    for model, text_fields in _TEXT.items():
        for row in model.objects.only("pk", *text_fields).order_by("pk").iterator(chunk_size=500):
            for column in text_fields:
                hits = traces.mentions(getattr(row, column) or "")
                if hits:
                    found.append({"store": _NAMES[model], "record": row.pk, "column": column, "identifiers": hits,
                                  "snippet": snippet(getattr(row, column), hits[0]), "mentions_the_subject": True})
    return found
