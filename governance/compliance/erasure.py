"""One cleaning for the erasure (Art. 17) and the retention purge (Art. 5(1)(e)): every store the product
keeps a person's data in, each cleaned by the app that owns it, in one transaction, with counts.

Compliance is the top app, so it calls the lower apps' erasure hooks directly, in the order the data
depends on (explanations and counterfactual examples are found through the predictions, so they are
redacted before the predictions are deleted; the records go last). Each hook receives a
models_core.data.redaction.Traces (the erased records' texts and the subject's identifiers) and the
replacement to write: "[erased]" in computed results, "[redacted: erasure request ER-…]" in text that
people wrote (notes, comments, waiver reasons, justifications), so a reader sees what was removed and why.

The stores, as the certificate lists them (`STORES`): dataset records; audit predictions; the decision log of
the serving endpoint (decisions about the subject and their outcomes deleted, other decisions' kept texts that
quote them redacted: governance/serving/erasure.py); audit results
(explained rows, counterfactual examples, any other quote); audit error messages; datasheets (previews,
vocabulary); drift reports; PII scans (masked examples, row indices); job errors and progress details;
model version errors and training history; deployment end reasons; deployment request justifications and
gate results, comments, waiver reasons, approval reasons, webhook deliveries; subject requests' notes and reasons;
erasure decisions' justifications; the report cache (the rewritten audits' entries deleted); mentions in
other people's records (on request). Exports are rendered on request and never stored (nothing to delete);
the audit log holds ids and salted hashes only and is never edited.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from governance.approvals.erasure import approvals_redact
from governance.audits.erasure import (ERASED, audit_errors_redact, audit_positions, audit_results_redact,
                                       audits_of_versions, predictions_delete)
from governance.compliance.models import ErasureImpact, SubjectRequest
from governance.datasets.erasure import (datasheets_redact, drifts_redact, pii_scans_redact, records_delete,
                                         records_redact_mentions)
from governance.jobs.erasure import jobs_redact
from governance.registry.erasure import registry_redact
from governance.serving.erasure import STORE as DECISION_LOG, decisions_erase, decisions_redact
from models_core.data.redaction import Traces, flatten, redact_string, snippet

NOT_STORED = ("Exports (JSON, CSV, PDF, HTML) are rendered on request and never stored: none to delete or "
              "re-render.")
AUDIT_LOG = "The audit log holds ids and salted hashes only; it is append-only and was not edited."


def redaction_note(label: str) -> str:
    return f"[redacted: {label}]"


def compliance_redact(*, traces: Traces, replacement: str) -> dict[str, int]:
    """The compliance app's own free text: every subject request's notes and reasons, every erasure
    decision's justification."""
    stores = ((SubjectRequest, ("notes", "extension_reason", "exception_reason"), "subject request notes and reasons"),
              (ErasureImpact, ("justification",), "erasure decision justifications"))
    counts = {name: 0 for _, _, name in stores}
    for model, fields, name in stores:
        for row in model.objects.select_for_update().only("pk", *fields).order_by("pk").iterator(chunk_size=500):
            values = {f: getattr(row, f) for f in fields}
            if not traces.may_occur_in(flatten(values)):
                continue
            changed = {f: v for f, (v, k) in ((f, redact_string(values[f], traces, replacement)) for f in fields)
                       if k}
            if changed:
                model.objects.filter(pk=row.pk).update(**changed)
                counts[name] += 1
    return counts


def compliance_mentions(*, traces: Traces) -> list[dict]:
    """Subject requests whose notes or reasons mention the subject (their own requests included)."""
    found = []
    fields = ("notes", "extension_reason", "exception_reason")
    for row in SubjectRequest.objects.only("pk", "reference", *fields).order_by("pk").iterator(chunk_size=500):
        for column in fields:
            hits = traces.mentions(getattr(row, column) or "")
            if hits:
                found.append({"store": "subject request notes and reasons", "record": row.pk,
                              "reference": row.reference, "column": column, "identifiers": hits,
                              "snippet": snippet(getattr(row, column), hits[0]), "mentions_the_subject": True})
    return found


def _store(name: str, action: str, count: int, **detail) -> dict:
    return {"store": name, "action": action, "count": count, **detail}


def stores_clean(*, traces: Traces, record_ids: set[int], rows_by_version: dict[int, set[int] | None],
                 note: str, subject_id: str = "", mentions: bool = False) -> dict:
    """Clean every store; call inside the caller's transaction. `rows_by_version`: the erased row indices
    per dataset version (None: every row of it). Returns {"stores": [...], "audit_results": [...],
    "predictions": [...], "records": [...], "datasheets": [...], ...} for the certificate or the run."""
    positions = {audit_id: None if rows_by_version[version_id] is None
                 else audit_positions(audit_id=audit_id, record_ids=record_ids)
                 for audit_id, version_id in audits_of_versions(version_ids=rows_by_version).items()}
    results = audit_results_redact(positions_by_audit=positions, traces=traces, replacement=ERASED)
    predictions = predictions_delete(record_ids=record_ids, subject_id=subject_id)
    served = decisions_erase(subject_id=subject_id)
    mention_rows = (records_redact_mentions(traces=traces, exclude_subject=subject_id, replacement=note)
                    if mentions else [])
    records = records_delete(record_ids=record_ids)
    sheets = datasheets_redact(traces=traces, replacement=ERASED, versions=rows_by_version)
    drifts = drifts_redact(traces=traces, replacement=ERASED, versions=rows_by_version)
    scans = pii_scans_redact(traces=traces, rows_by_version=rows_by_version, replacement=ERASED)
    errors = audit_errors_redact(traces=traces, replacement=note)
    jobs = jobs_redact(traces=traces, replacement=note)
    texts = {**registry_redact(traces=traces, replacement=note), **approvals_redact(traces=traces, replacement=note),
             **compliance_redact(traces=traces, replacement=note), **decisions_redact(traces=traces, replacement=note)}
    stores = [
        _store("dataset records", "deleted", sum(r["records"] for r in records)),
        _store("audit predictions", "deleted", sum(p["predictions"] for p in predictions)),
        _store(DECISION_LOG, "deleted", served["decisions"], outcomes=served["outcomes"], by_model=served["by_model"]),
        _store("audit results (explained rows, counterfactual examples, other quotes)", "redacted", len(results),
               rows=sum(r["rows_redacted"] for r in results)),
        _store("report cache entries", "deleted", len({r["audit"] for r in results})),
        _store("audit error messages", "redacted", errors),
        _store("datasheets (duplicate previews, vocabulary)", "redacted", len(sheets)),
        _store("dataset drift reports", "redacted", len(drifts)),
        _store("PII scans (examples, row indices)", "redacted", len(scans)),
        _store("job errors and progress details", "redacted", jobs),
        *[_store(name, "redacted", n) for name, n in sorted(texts.items())],
        _store("mentions in other people's records", "redacted" if mentions else "not requested",
               sum(m["records_redacted"] for m in mention_rows)),
        _store("stored exports", "none stored", 0, note=NOT_STORED),
        _store("audit log", "holds no personal data", 0, note=AUDIT_LOG),
    ]
    return {"stores": stores, "records": records, "predictions": predictions, "served_decisions": served,
            "audit_results": results,
            "datasheets": sheets, "drifts": drifts, "pii_scans": scans, "mentions": mention_rows}


def traces_of_records(records: Iterable, *, identifiers: Iterable[str], terms: Iterable[str] = ()) -> Traces:
    """Traces of many records at once (the retention purge): their texts, the identifiers and terms given."""
    texts = [r.text for r in records]
    identifiers = list(identifiers)
    words = {w for i in identifiers for w in i.split() if w[:1].isupper() and "@" not in i}
    return Traces.build(identifiers=identifiers, texts=texts, words=words, terms=terms)


def subjects_without_records(subject_ids: Iterable[str], *, leaving: set[int]) -> list[str]:
    """The subject ids that have no record left outside the records `leaving`."""
    from governance.datasets.models import DatasetRecord

    ids = set(subject_ids)
    kept = set(DatasetRecord.objects.filter(Q(subject_id__in=ids) & ~Q(pk__in=leaving))
               .values_list("subject_id", flat=True))
    return sorted(ids - kept)
