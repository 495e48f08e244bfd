"""Writes of the audit log: append, lock, signed checkpoints and the JSON Lines export. Every app appends here."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from governance.auditlog import signing
from governance.auditlog.chain import (CHECKPOINT_ALGORITHM, EXPORT_FORMAT, EXPORT_VERSION, GENESIS_HASH,
                                       canonical_json, checkpoint_message, entry_body, entry_hash)
from governance.auditlog.models import AuditCheckpoint, AuditLogEntry, ChainHead
from governance.auditlog.selectors import export_entry

# pg_advisory_xact_lock key of the audit log ("AUDITLOG" in ASCII): one appender at a time, per transaction.
_ADVISORY_KEY = 0x41554449544C4F47


def audit_log_lock() -> ChainHead:
    """Serialise on the audit log for the rest of the caller's transaction and return the locked head.

    Services that append call this FIRST in their transaction, so every writer takes the log's lock before
    any row lock of its own (one lock order: no deadlocks), and entries are numbered in commit order.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_log_lock() needs a transaction (it holds the lock until commit).")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
    # The head row exists from the first append on; ON CONFLICT DO NOTHING makes its creation race-free.
    ChainHead.objects.bulk_create([ChainHead(id=1)], ignore_conflicts=True)
    return ChainHead.objects.select_for_update().get(id=1)


def audit_log_append(*, actor, action: str, obj=None, object_type: str = "", object_id: str = "",
                     payload: dict | None = None) -> AuditLogEntry:
    """Append one entry in the caller's transaction, serialised on the locked chain head."""
    with transaction.atomic():
        head = audit_log_lock()
        if obj is not None:
            object_type = object_type or obj._meta.label_lower
            object_id = object_id or str(obj.pk)
        actor_name = getattr(actor, "username", "") or ("system" if actor is None else str(actor))
        created_at = timezone.now()
        # Round-trip through canonical JSON so the stored payload hashes identically when re-read.
        clean_payload = json.loads(canonical_json(payload or {}))
        seq = head.seq + 1
        body = entry_body(seq=seq, created_at=created_at.isoformat(), actor=actor_name, action=action,
                          object_type=object_type, object_id=str(object_id), payload=clean_payload)
        digest = entry_hash(head.hash, body)
        entry = AuditLogEntry.objects.create(
            seq=seq, created_at=created_at, actor=actor if getattr(actor, "pk", None) else None,
            actor_username=actor_name, action=action, object_type=object_type, object_id=str(object_id),
            payload=clean_payload, prev_hash=head.hash, hash=digest)
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
        return entry


def audit_log_checkpoint_write(actor, *, reason: str = "manual") -> dict:
    """Sign the current head (seq, hash) with Ed25519, store it and write it out as a JSON file.

    Returns the checkpoint as a dict (with the public key), as exports embed it. Runs under the log's lock
    so the head it signs is the head as committed.
    """
    with transaction.atomic():
        head = audit_log_lock()
        created_at = timezone.now()
        message = checkpoint_message(seq=head.seq, head_hash=head.hash, created_at=created_at.isoformat())
        checkpoint = AuditCheckpoint.objects.create(
            seq=head.seq, head_hash=head.hash, created_at=created_at, reason=reason[:20],
            created_by=getattr(actor, "username", "") or ("system" if actor is None else str(actor)),
            algorithm=CHECKPOINT_ALGORITHM, public_key=signing.public_key_hex(), signature=signing.sign(message))
        document = checkpoint.as_dict()
        transaction.on_commit(lambda: _checkpoint_file_write(document))
    return document


def audit_log_checkpoint_periodic() -> dict | None:
    """The beat task's service: a checkpoint unless the head has not moved since the last one."""
    with transaction.atomic():
        head = audit_log_lock()
        last = AuditCheckpoint.objects.order_by("-seq", "-created_at").first()
        if last is not None and last.seq == head.seq and last.head_hash == head.hash:
            return None
        return audit_log_checkpoint_write(None, reason="periodic")


def _checkpoint_file_write(document: dict) -> None:
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = "".join(c for c in document["created_at"][:26] if c.isdigit() or c == "T")  # UTC
    final = directory / f"checkpoint-{document['seq']:012d}-{stamp}.json"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint-")
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, final)


def audit_log_export(*, actor) -> tuple[dict, Iterator[str]]:
    """Export the log as JSON Lines: a header, every entry up to a fresh checkpoint, then that checkpoint.

    The export is itself logged (after the checkpoint, so the file ends at the checkpoint it carries).
    Returns (the checkpoint, an iterator of lines) — the lines are read in chunks as they are sent.
    """
    with transaction.atomic():
        checkpoint = audit_log_checkpoint_write(actor, reason="export")
        audit_log_append(actor=actor, action="audit_log.exported", object_type="audit_log", object_id="export",
                         payload={"checkpoint_seq": checkpoint["seq"], "head_hash": checkpoint["head_hash"]})
    return checkpoint, _export_lines(checkpoint)


def _export_lines(checkpoint: dict) -> Iterator[str]:
    yield canonical_json({"type": "header", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                          "genesis_hash": GENESIS_HASH, "head_seq": checkpoint["seq"],
                          "head_hash": checkpoint["head_hash"],
                          "verify_with": "python tools/verify_audit_log.py FILE --public-key KEY"}) + "\n"
    entries = AuditLogEntry.objects.filter(seq__lte=checkpoint["seq"]).order_by("seq")
    for entry in entries.iterator(chunk_size=2000):
        yield canonical_json({"type": "entry", **export_entry(entry)}) + "\n"
    yield canonical_json(checkpoint) + "\n"
