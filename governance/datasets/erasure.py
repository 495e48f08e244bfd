"""Erasure hooks of the datasets app: what its stores keep of a person, and how it is removed.

Called by the compliance app (an erasure, the retention purge) inside its transaction; never calls up.
Stores: the records (deleted, each version's row count updated); other records whose text or attributes
mention the subject (found for an access request, redacted in place when the officer asks); the datasheets
(80-character previews of duplicated texts, vocabulary terms), the drift reports (new terms, categorical
values) and the PII scans (masked examples, affected row indices), each rewritten with a new digest.
Matching is models_core.data.redaction's: the erased records' texts (a preview is a possibly PII-redacted
prefix) and the subject's identifiers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.db.models import Q

from governance.auditlog.chain import canonical_json
from governance.datasets.models import Datasheet, DatasetDrift, DatasetRecord, DatasetVersion, PiiScan
from models_core.data.pii import find_pii, mask_value
from models_core.data.redaction import Traces, drop_terms, flatten, redact_json, redact_string, snippet

MAX_MENTIONS = 500


def records_delete(*, record_ids: Iterable[int]) -> list[dict]:
    """Delete the records; per dataset version: how many, and its row count updated."""
    ids = list(record_ids)
    by_version: dict[int, int] = {}
    for version_id in DatasetRecord.objects.filter(pk__in=ids).values_list("version_id", flat=True):
        by_version[version_id] = by_version.get(version_id, 0) + 1
    DatasetRecord.objects.filter(pk__in=ids).delete()
    removed = []
    for version in DatasetVersion.objects.select_related("dataset").filter(pk__in=by_version).order_by("pk"):
        version.row_count = DatasetRecord.objects.filter(version=version).count()
        version.save(update_fields=["row_count"])
        removed.append({"dataset": version.dataset.name, "dataset_version": version.pk, "version": version.version,
                        "records": by_version[version.pk]})
    return removed


def _rewrite(row, data) -> dict:
    before = row.sha256
    clean = json.loads(canonical_json(data))
    row.data, row.sha256 = clean, hashlib.sha256(canonical_json(clean).encode()).hexdigest()
    row.save(update_fields=["data", "sha256"])
    return {"sha256_before": before, "sha256_after": row.sha256}


def _term_lists(model, data: dict) -> list[tuple[dict, str]]:
    """(container, key) of each term list: a datasheet's top terms per attribute and group, a drift
    report's new terms."""
    vocabulary = data.get("vocabulary") or {}
    if model is DatasetDrift:
        return [(vocabulary, "new_terms")] if "new_terms" in vocabulary else []
    return [(groups, g) for groups in (vocabulary.get("attributes") or {}).values() if isinstance(groups, dict)
            for g in groups if isinstance(groups[g], list)]


def _redact_reports(model, *, traces: Traces, replacement: str, versions: set[int]) -> list[dict]:
    changed = []
    for row in model.objects.select_for_update().filter(data__isnull=False).order_by("pk").iterator(chunk_size=100):
        data, n = row.data, 0
        # A term is the erased records' own only among the versions they were in.
        if traces.terms and {row.version_id, getattr(row, "against_id", None)} & versions:
            for container, key in _term_lists(model, data):
                container[key], k = drop_terms(container[key], traces)
                n += k
        if traces.may_occur_in(flatten(data)):
            data, k = redact_json(data, traces, replacement)
            n += k
        if n:
            changed.append({"dataset_version": row.version_id, "strings_redacted": n, **_rewrite(row, data)})
    return changed


def datasheets_redact(*, traces: Traces, replacement: str, versions: Iterable[int]) -> list[dict]:
    """Previews of duplicated texts and vocabulary terms that quote the subject, in every datasheet; the
    erased records' own terms (traces.terms) in the datasheets of `versions`."""
    return _redact_reports(Datasheet, traces=traces, replacement=replacement, versions=set(versions))


def drifts_redact(*, traces: Traces, replacement: str, versions: Iterable[int]) -> list[dict]:
    """New terms and categorical values that quote the subject, in every drift report; the erased records'
    own terms in the drift reports that involve `versions`."""
    return _redact_reports(DatasetDrift, traces=traces, replacement=replacement, versions=set(versions))


def pii_scans_redact(*, traces: Traces, rows_by_version: dict[int, set[int] | None], replacement: str) -> list[dict]:
    """In every PII scan: drop the masked examples made from the subject's values (a masked e-mail still
    tells its first letters and domain), the erased rows' indices (None: every row of the version), and any
    string that quotes the subject. The counts stay: they describe the version as it was scanned."""
    masked = {mask_value(f.kind, f.value) for text in traces.texts for f in find_pii(text)}
    changed = []
    for scan in PiiScan.objects.select_for_update().order_by("pk").iterator(chunk_size=100):
        data, n = scan.data, 0
        if scan.version_id in rows_by_version:
            wanted = rows_by_version[scan.version_id]
            kept = [i for i in data.get("row_indices", []) if wanted is not None and i not in wanted]
            n += len(data.get("row_indices", [])) - len(kept)
            data["row_indices"] = kept
        for entry in (data.get("by_kind") or {}).values():
            examples = entry.get("examples") or []
            kept = [e for e in examples if not (isinstance(e, str) and e in masked)]
            n += len(examples) - len(kept)
            entry["examples"] = kept
        if traces.may_occur_in(flatten(data)):
            data, k = redact_json(data, traces, replacement)
            n += k
        if n:
            changed.append({"dataset_version": scan.version_id, "strings_redacted": n, **_rewrite(scan, data)})
    return changed


def _mentioning(identifiers: list[str]) -> Q:
    q = Q()
    for identifier in identifiers:
        q |= Q(text__icontains=identifier) | Q(attributes__icontains=identifier)
    return q


def record_mentions(*, traces: Traces, exclude_subject: str) -> list[dict]:
    """Other people's records whose text or attributes mention one of the subject's identifiers: record id,
    dataset version, column, the identifiers found, and a snippet masked except for the first of them."""
    if not traces.identifiers:
        return []
    found = []
    records = (DatasetRecord.objects.filter(_mentioning(list(traces.identifiers))).exclude(subject_id=exclude_subject)
               .select_related("version__dataset").order_by("version_id", "row_index"))
    for record in records[:MAX_MENTIONS]:
        columns = [(record.version.text_column, record.text)]
        columns += [(key, str(value)) for key, value in (record.attributes or {}).items()]
        for column, value in columns:
            hits = traces.mentions(value)
            if hits:
                found.append({"record": record.pk, "dataset": record.version.dataset.name,
                              "dataset_version": record.version_id, "version": record.version.version,
                              "row_index": record.row_index, "column": column, "identifiers": hits,
                              "snippet": snippet(value, hits[0]), "mentions_the_subject": True})
    return found


def records_redact_mentions(*, traces: Traces, exclude_subject: str, replacement: str) -> list[dict]:
    """Redact in place the subject's identifiers where other people's records mention them; per version."""
    if not traces.identifiers:
        return []
    by_version: dict[int, int] = {}
    records = DatasetRecord.objects.select_for_update().filter(_mentioning(list(traces.identifiers))).exclude(
        subject_id=exclude_subject)
    for record in records.order_by("pk").iterator(chunk_size=500):
        text, a = redact_string(record.text, traces, replacement) if traces.mentions(record.text) else (record.text, 0)
        attributes, b = redact_json(record.attributes, traces, replacement)
        if a or b:
            DatasetRecord.objects.filter(pk=record.pk).update(text=text, attributes=attributes)
            by_version[record.version_id] = by_version.get(record.version_id, 0) + 1
    return [{"dataset_version": v, "records_redacted": n} for v, n in sorted(by_version.items())]
