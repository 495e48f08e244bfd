"""Appending to the audit log: the lock every writer takes first, and the append itself. Every app appends
through `governance.auditlog.services` (which re-exports these)."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.utils import timezone

from governance.auditlog import signing
from governance.auditlog.chain import GENESIS_HASH, canonical_json, entry_body, entry_hash
from governance.auditlog.models import AuditLogEntry, ChainHead

# pg_advisory_xact_lock key of the audit log ("AUDITLOG" in ASCII): one appender at a time, per transaction.
_ADVISORY_KEY = 0x41554449544C4F47


def audit_log_lock() -> ChainHead:
    """Serialise on the audit log for the rest of the caller's transaction and return the chain head.

    Services that append call this FIRST in their transaction, so every writer takes the log's lock before
    any row lock of its own (one lock order: no deadlocks), and entries are numbered in commit order.
    On PostgreSQL the advisory lock serialises appenders and the head is read, never written, by the
    application: the insert trigger of auditlog 0002 (SECURITY DEFINER) refuses an entry that does not extend
    the head and advances it, so the application's role needs no UPDATE on the log's tables. Elsewhere (the
    SQLite demo, whose IMMEDIATE transactions serialise writers) the head row is locked and written here.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_log_lock() needs a transaction (it holds the lock until commit).")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        return ChainHead.objects.filter(id=1).first() or ChainHead(id=1, seq=0, hash=GENESIS_HASH)
    # The head row exists from the first append on; ON CONFLICT DO NOTHING makes its creation race-free.
    ChainHead.objects.bulk_create([ChainHead(id=1)], ignore_conflicts=True)
    return ChainHead.objects.select_for_update().get(id=1)


def audit_log_append(*, actor, action: str, obj=None, object_type: str = "", object_id: str = "",
                     payload: dict | None = None) -> AuditLogEntry:
    """Append one entry in the caller's transaction, serialised on the log's lock, sealed with the signing key."""
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
            payload=clean_payload, prev_hash=head.hash, hash=digest, seal=signing.seal(digest))
        if connection.vendor != "postgresql":
            head.seq, head.hash = seq, digest
            head.save(update_fields=["seq", "hash"])
        return entry
