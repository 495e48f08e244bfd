"""Reads of the audit log: entries, head, checkpoints and the verification of the chain.

The log is one chain for the whole organisation (it verifies only whole): its pages, API and export are for
organisation-wide roles (auditors, compliance officers, administrators), not for members of one project, whose
entries it shares with every other project's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from django.db import connection
from django.db.models import QuerySet

from governance.auditlog.chain import (GENESIS_HASH, checkpoint_message, checkpoint_problems, seal_message,
                                       verify_entries)
from governance.auditlog.models import AuditCheckpoint, AuditLogEntry, ChainHead
from governance.auditlog.signing import public_key_hex, signature_valid
from governance.auditlog.storage import stored_checkpoints
from governance.list_filters import narrowed, ordered

AUDIT_LOG_FILTERS = {"action": "action", "object_type": "object_type", "object_id": "object_id",
                     "actor": "actor_username", "created_after": "created_at__gte", "created_before": "created_at__lt"}
AUDIT_LOG_ORDERING = {"seq": "seq", "created_at": "created_at"}
CHECKPOINT_FILTERS = {"reason": "reason", "created_by": "created_by", "created_after": "created_at__gte",
                      "created_before": "created_at__lt"}
CHECKPOINT_ORDERING = {"seq": "seq", "created_at": "created_at"}


def audit_log_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[AuditLogEntry]:
    """Log entries, latest first. `filters`: action, action_prefix (the page's filter: actions starting with
    it), object_type, object_id, actor (username), created_after/before, ordering ("seq" or "created_at", "-"
    for descending)."""
    filters = filters or {}
    entries = AuditLogEntry.objects.all()
    if filters.get("action_prefix"):
        entries = entries.filter(action__startswith=filters["action_prefix"])
    return ordered(narrowed(entries, filters, AUDIT_LOG_FILTERS), filters.get("ordering", ""),
                   fields=AUDIT_LOG_ORDERING, default="-seq")


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


@dataclass
class Verdict:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    checkpoint: dict | None = None       # the newest checkpoint the log was checked against
    checkpoints_checked: int = 0
    # Entries after the newest valid checkpoint, each with a valid seal: legitimately not yet covered until the
    # next checkpoint (periodic, every AUDIT_CHECKPOINT_INTERVAL_S). Not a problem; reported apart.
    uncovered: int = 0
    uncovered_from: int | None = None


def audit_log_checkpoints() -> list[dict]:
    """Every checkpoint: the stored rows, and the copies in the local folder and the shared storage."""
    found = {(c.seq, c.head_hash, c.signature): c.as_dict() for c in AuditCheckpoint.objects.all()}
    for doc in stored_checkpoints():
        if "invalid_file" in doc:
            found[(-1, doc["invalid_file"], "")] = doc
        else:
            found.setdefault((int(doc["seq"]), doc["head_hash"], doc["signature"]), doc)
    return sorted(found.values(), key=lambda d: (d.get("seq", -1), d.get("created_at", "")))


def valid_checkpoints(public_key: str, *, extra: list[dict] = ()) -> tuple[list[dict], list[str]]:
    """(the checkpoints signed by `public_key` whose signature verifies, the problems of the others), from the
    table, the folder, the shared storage and `extra` (checkpoints an auditor brings)."""
    valid, problems = [], []
    for cp in [*audit_log_checkpoints(), *extra]:
        if "invalid_file" in cp:
            problems.append(f"checkpoint file {cp['invalid_file']} cannot be read")
            continue
        where = f"checkpoint #{cp['seq']} of {cp.get('created_at', '?')}"
        if cp.get("public_key") != public_key:
            problems.append(f"{where}: signed by another key than this server's")
        elif not signature_valid(message=checkpoint_message(seq=int(cp["seq"]), head_hash=cp["head_hash"],
                                                                    created_at=cp["created_at"]),
                                         signature_hex=cp.get("signature", ""), public_key=cp["public_key"]):
            problems.append(f"{where}: its signature does not verify (forged or altered)")
        else:
            valid.append(cp)
    return valid, problems


def seal_problems(entries: list[dict], public_key: str, *, after: int) -> list[str]:
    """Each entry after checkpoint #`after` whose seal is missing or does not verify (rewritten or inserted by
    someone without the signing key)."""
    problems = []
    for entry in entries:
        if not entry.get("seal"):
            problems.append(f"entry #{entry['seq']}: it has no seal and no checkpoint covers it (written by "
                            f"someone without the signing key after checkpoint #{after})")
        elif not signature_valid(message=seal_message(entry["hash"]), signature_hex=entry["seal"],
                                         public_key=public_key):
            problems.append(f"entry #{entry['seq']}: its seal does not verify (rewritten or re-chained after "
                            f"checkpoint #{after})")
    return problems


def audit_log_verify(*, extra_checkpoints: list[dict] = ()) -> Verdict:
    """Recompute every entry's hash and link, check each signed checkpoint against the chain and name each
    entry that was edited, deleted, inserted or reordered, and any truncation a checkpoint reveals. Entries
    after the newest valid checkpoint must carry a valid seal; they are counted as not yet covered.

    Holds the entries' hashes in memory (about 200 bytes an entry) to tell those kinds of tampering apart.
    """
    rows = list(AuditLogEntry.objects.order_by("seq").iterator(chunk_size=2000))
    entries = [export_entry(e) for e in rows]
    problems = verify_entries(entries)
    head = audit_log_head()
    last_seq, last_hash = (entries[-1]["seq"], entries[-1]["hash"]) if entries else (0, GENESIS_HASH)
    if head["seq"] != last_seq or head["hash"] != last_hash:
        problems.append(f"the chain ends at #{last_seq} but the recorded head is #{head['seq']} "
                        f"(entries were removed from the end, or added behind the log's back)")
    trusted_key = public_key_hex()
    valid, signature_problems = valid_checkpoints(trusted_key, extra=extra_checkpoints)
    problems += signature_problems
    problems.extend(checkpoint_problems(entries, valid))
    covered_to = max((int(c["seq"]) for c in valid), default=0)
    tail = [{**entry, "seal": row.seal} for entry, row in zip(entries, rows) if entry["seq"] > covered_to]
    problems += seal_problems(tail, trusted_key, after=covered_to)
    return Verdict(ok=not problems, checked=len(entries), head_seq=head["seq"], head_hash=head["hash"],
                   problems=problems, checkpoint=max(valid, key=lambda c: int(c["seq"])) if valid else None,
                   checkpoints_checked=len(valid), uncovered=len(tail),
                   uncovered_from=tail[0]["seq"] if tail else None)


def audit_log_owner_connected() -> str | None:
    """The role this process connects as, when it owns the audit log's table (PostgreSQL): an owner can
    disable the append-only triggers, so the application should run as the role `manage.py db_roles` makes."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user FROM pg_tables WHERE tablename = %s AND tableowner = current_user",
                       [AuditLogEntry._meta.db_table])
        row = cursor.fetchone()
    return row[0] if row else None


def export_entry(entry: AuditLogEntry) -> dict:
    """An entry as the verifier and the JSON Lines export see it (the fields its hash covers, and the hashes)."""
    return {"seq": entry.seq, "created_at": entry.created_at.isoformat(), "actor": entry.actor_username,
            "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
            "payload": entry.payload, "prev_hash": entry.prev_hash, "hash": entry.hash}
