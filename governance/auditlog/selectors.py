"""Reads of the compliance domain: the audit log, its verification, the record of processing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from typing import Any, Mapping

from django.conf import settings
from django.db.models import QuerySet

from governance.compliance.chain import GENESIS_HASH, checkpoint_message, checkpoint_problems, verify_entries
from governance.compliance.models import (AuditCheckpoint, AuditLogEntry, ChainHead, OrganisationProfile, RetentionRun,
                                          SubjectRequest)
from governance.compliance.signing import public_key_hex, signature_valid
from governance.compliance.subjects import subject_hash
from governance.list_filters import narrowed, ordered, searched

AUDIT_LOG_FILTERS = {"action": "action", "object_type": "object_type", "object_id": "object_id",
                     "actor": "actor_username", "created_after": "created_at__gte", "created_before": "created_at__lt"}
AUDIT_LOG_ORDERING = {"seq": "seq", "created_at": "created_at"}
SUBJECT_REQUEST_FILTERS = {"kind": "kind", "status": "status", "received_after": "received_on__gte",
                           "received_before": "received_on__lt"}
SUBJECT_REQUEST_ORDERING = {"id": "pk", "created_at": "created_at", "received_on": "received_on",
                            "closed_at": "closed_at"}
CHECKPOINT_FILTERS = {"reason": "reason", "created_by": "created_by", "created_after": "created_at__gte",
                      "created_before": "created_at__lt"}
CHECKPOINT_ORDERING = {"seq": "seq", "created_at": "created_at"}
RETENTION_RUN_FILTERS = {"triggered_by": "triggered_by", "started_after": "started_at__gte",
                         "started_before": "started_at__lt"}
RETENTION_RUN_ORDERING = {"id": "pk", "started_at": "started_at", "records_removed": "records_removed"}


def audit_log_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[AuditLogEntry]:
    """Log entries, latest first. `filters`: action, object_type, object_id, actor (username),
    created_after/before, ordering ("seq" or "created_at", "-" for descending)."""
    filters = filters or {}
    return ordered(narrowed(AuditLogEntry.objects.all(), filters, AUDIT_LOG_FILTERS), filters.get("ordering", ""),
                   fields=AUDIT_LOG_ORDERING, default="-seq")


def subject_request_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[SubjectRequest]:
    """Data subject requests, newest first, with their erasure impacts. `filters`: q (reference contains),
    subject (the requests about this subject, found by its hash: also those whose identifier an erasure
    blanked), kind, status, received_after/before, ordering (a key of SUBJECT_REQUEST_ORDERING)."""
    filters = filters or {}
    qs = searched(SubjectRequest.objects.prefetch_related("impacts__model_version__model"), filters.get("q", ""),
                  fields=("reference__icontains",))
    if filters.get("subject"):
        qs = qs.filter(subject_hash=subject_hash(filters["subject"]))
    return ordered(narrowed(qs, filters, SUBJECT_REQUEST_FILTERS), filters.get("ordering", ""),
                   fields=SUBJECT_REQUEST_ORDERING, default="-created_at")


def retention_run_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[RetentionRun]:
    """Retention purges, latest first. `filters`: triggered_by, started_after/before, ordering (a key of
    RETENTION_RUN_ORDERING)."""
    filters = filters or {}
    return ordered(narrowed(RetentionRun.objects.all(), filters, RETENTION_RUN_FILTERS), filters.get("ordering", ""),
                   fields=RETENTION_RUN_ORDERING, default="-started_at")


def audit_log_head() -> dict:
    head = ChainHead.objects.filter(id=1).first()
    return {"seq": head.seq if head else 0, "hash": head.hash if head else GENESIS_HASH}


def audit_log_checkpoint_list(*, limit: int = 100) -> list[dict]:
    return [c.as_dict() for c in AuditCheckpoint.objects.order_by("-seq", "-created_at")[:limit]]


def audit_log_checkpoint_rows(*, filters: Mapping[str, Any] | None = None) -> QuerySet[AuditCheckpoint]:
    """The stored checkpoints, latest first. `filters`: reason, created_by, created_after/before, ordering
    ("seq" or "created_at", "-" for descending)."""
    filters = filters or {}
    return ordered(narrowed(AuditCheckpoint.objects.all(), filters, CHECKPOINT_FILTERS), filters.get("ordering", ""),
                   fields=CHECKPOINT_ORDERING, default="-seq")


def organisation_profile() -> OrganisationProfile:
    return OrganisationProfile.objects.filter(id=1).first() or OrganisationProfile(id=1)


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    checkpoint: dict | None = None       # the newest checkpoint the log was checked against
    checkpoints_checked: int = 0


def audit_log_checkpoints() -> list[dict]:
    """Every checkpoint: the stored rows and the JSON files written out under AUDIT_CHECKPOINT_DIR."""
    found = {(c.seq, c.head_hash, c.signature): c.as_dict() for c in AuditCheckpoint.objects.all()}
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    if directory.is_dir():
        for path in sorted(directory.glob("checkpoint-*.json")):
            try:
                doc = json.loads(path.read_text())
                found.setdefault((int(doc["seq"]), doc["head_hash"], doc["signature"]), {**doc, "file": path.name})
            except (ValueError, KeyError, TypeError, OSError):
                found[(-1, path.name, "")] = {"invalid_file": path.name}
    return sorted(found.values(), key=lambda d: (d.get("seq", -1), d.get("created_at", "")))


def audit_log_verify(*, extra_checkpoints: list[dict] = ()) -> Verdict:
    """Recompute every entry's hash and link, check each signed checkpoint against the chain and name each
    entry that was edited, deleted, inserted or reordered, and any truncation a checkpoint reveals.

    Holds the entries' hashes in memory (about 200 bytes an entry) to tell those kinds of tampering apart.
    """
    entries = [export_entry(e) for e in AuditLogEntry.objects.order_by("seq").iterator(chunk_size=2000)]
    problems = verify_entries(entries)
    head = audit_log_head()
    last_seq, last_hash = (entries[-1]["seq"], entries[-1]["hash"]) if entries else (0, GENESIS_HASH)
    if head["seq"] != last_seq or head["hash"] != last_hash:
        problems.append(f"the chain ends at #{last_seq} but the recorded head is #{head['seq']} "
                        f"(entries were removed from the end, or added behind the log's back)")
    checkpoints = [*audit_log_checkpoints(), *extra_checkpoints]
    trusted_key = public_key_hex()
    valid = []
    for cp in checkpoints:
        if "invalid_file" in cp:
            problems.append(f"checkpoint file {cp['invalid_file']} cannot be read")
            continue
        where = f"checkpoint #{cp['seq']} of {cp.get('created_at', '?')}"
        if cp.get("public_key") != trusted_key:
            problems.append(f"{where}: signed by another key than this server's")
        elif not signature_valid(message=checkpoint_message(seq=int(cp["seq"]), head_hash=cp["head_hash"],
                                                            created_at=cp["created_at"]),
                                 signature_hex=cp.get("signature", ""), public_key=cp["public_key"]):
            problems.append(f"{where}: its signature does not verify (forged or altered)")
        else:
            valid.append(cp)
    problems.extend(checkpoint_problems(entries, valid))
    return Verdict(ok=not problems, checked=len(entries), head_seq=head["seq"], head_hash=head["hash"],
                   problems=problems, checkpoint=valid[-1] if valid else None, checkpoints_checked=len(valid))



def export_entry(entry: AuditLogEntry) -> dict:
    """An entry as the verifier and the JSON Lines export see it (the fields its hash covers, and the hashes)."""
    return {"seq": entry.seq, "created_at": entry.created_at.isoformat(), "actor": entry.actor_username,
            "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
            "payload": entry.payload, "prev_hash": entry.prev_hash, "hash": entry.hash}
