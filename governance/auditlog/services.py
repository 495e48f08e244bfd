"""Writes of the audit log: append and lock (appends.py), signed checkpoints (checkpoints.py) and the JSON
Lines export. Every app appends here."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction

from governance.auditlog.appends import audit_log_append, audit_log_lock
from governance.auditlog.checkpoints import (AuditLogVerificationFailed, audit_log_checkpoint_periodic,
                                             audit_log_checkpoint_write)
from governance.auditlog.chain import EXPORT_FORMAT, EXPORT_VERSION, GENESIS_HASH, canonical_json
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import export_entry

__all__ = ["AuditLogVerificationFailed", "audit_log_append", "audit_log_checkpoint_periodic",
           "audit_log_checkpoint_write", "audit_log_export", "audit_log_lock"]


def audit_log_export(*, actor) -> tuple[dict, Iterator[str]]:
    """Export the log as JSON Lines: a header, every entry up to a fresh checkpoint, then that checkpoint.

    The export is itself logged (after the checkpoint, so the file ends at the checkpoint it carries).
    Returns (the checkpoint, an iterator of lines) — the lines are read in chunks as they are sent.
    """
    # The checkpoint commits on its own, before the export is logged: a refusal (the log does not verify) is
    # then recorded and announced (checkpoints.py) instead of being rolled back with the export.
    checkpoint = audit_log_checkpoint_write(actor, reason="export")
    with transaction.atomic():
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
        yield canonical_json({"type": "entry", **export_entry(entry), "seal": entry.seal}) + "\n"
    yield canonical_json(checkpoint) + "\n"
