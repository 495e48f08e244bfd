"""Signed checkpoints: verify the chain from the newest valid checkpoint to the head, then sign the head;
store it (table, local folder, shared write-once storage) and tell the witnesses (signals.checkpoint_signed).

The writer never signs what the head merely says. Under the log's lock it checks that every validly signed
checkpoint still matches the entry it vouches for, that each entry after the newest one links, hashes and
numbers correctly from it, that each carries a valid seal (the signature made as it was appended, which a
database owner without the key cannot forge for a rewritten entry), and that the last entry is the head.
When anything fails it signs nothing: it raises AuditLogVerificationFailed naming the entries, logs the
error, appends `audit_log.verification_failed` and sends signals.verification_failed (webhook event
`auditlog.verification_failed`).
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.utils import timezone

from governance.auditlog import signing
from governance.auditlog.appends import audit_log_append, audit_log_lock
from governance.auditlog.chain import CHECKPOINT_ALGORITHM, GENESIS_HASH, checkpoint_message, verify_entries
from governance.auditlog.models import AuditCheckpoint, AuditLogEntry
from governance.auditlog.selectors import export_entry, seal_problems, valid_checkpoints
from governance.auditlog.signals import checkpoint_signed, verification_failed
from governance.auditlog.storage import checkpoint_store
from governance.errors import InvalidState

log = logging.getLogger(__name__)


class AuditLogVerificationFailed(InvalidState):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("The audit log does not verify; no checkpoint was signed: " + "; ".join(problems[:10])
                         + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))


def tail_problems(head_seq: int, head_hash: str) -> tuple[list[str], dict | None]:
    """What stands between the newest valid checkpoint and the head: (problems, that checkpoint or None)."""
    public_key = signing.public_key_hex()
    valid, _ignored = valid_checkpoints(public_key)  # invalid ones vouch for nothing; the verifiers name them
    problems: list[str] = []
    vouched = {e.seq: e.hash for e in AuditLogEntry.objects.filter(seq__in={int(c["seq"]) for c in valid})
               .only("seq", "hash")}
    matching = []
    for cp in valid:
        seq = int(cp["seq"])
        if seq > head_seq:
            problems.append(f"checkpoint #{seq} vouches for entries up to #{seq}, but the head is #{head_seq}: "
                            f"entries were removed from the end (truncated)")
        elif seq and vouched.get(seq) is None:
            problems.append(f"checkpoint #{seq}: entry #{seq} is missing (deleted)")
        elif seq and vouched[seq] != cp["head_hash"]:
            problems.append(f"checkpoint #{seq}: entry #{seq} has a different hash than the checkpoint signed "
                            f"(the log was rewritten up to there)")
        else:
            matching.append(cp)
    base = max(matching, key=lambda c: int(c["seq"]), default=None)
    start = (int(base["seq"]), base["head_hash"]) if base else (0, GENESIS_HASH)
    entries = [{**export_entry(e), "seal": e.seal}
               for e in AuditLogEntry.objects.filter(seq__gt=start[0]).order_by("seq").iterator(chunk_size=2000)]
    problems += verify_entries(entries, start=start)
    problems += seal_problems(entries, public_key, after=start[0])
    last_seq, last_hash = (entries[-1]["seq"], entries[-1]["hash"]) if entries else start
    if (last_seq, last_hash) != (head_seq, head_hash):
        problems.append(f"the chain ends at #{last_seq} but the recorded head is #{head_seq} (entries were removed "
                        f"from the end, or the head was moved behind the log's back)")
    return problems, base


def audit_log_checkpoint_write(actor, *, reason: str = "manual") -> dict:
    """Verify the chain from the newest valid checkpoint to the head, then sign the head (seq, hash) with
    Ed25519 and store it. Returns the checkpoint as a dict (with the public key), as exports embed it.
    Raises AuditLogVerificationFailed, signing nothing, when the chain does not verify."""
    actor_name = getattr(actor, "username", "") or ("system" if actor is None else str(actor))
    try:
        with transaction.atomic():
            head = audit_log_lock()
            problems, _base = tail_problems(head.seq, head.hash)
            if problems:
                raise AuditLogVerificationFailed(problems)
            created_at = timezone.now()
            message = checkpoint_message(seq=head.seq, head_hash=head.hash, created_at=created_at.isoformat())
            checkpoint = AuditCheckpoint.objects.create(
                seq=head.seq, head_hash=head.hash, created_at=created_at, reason=reason[:20], created_by=actor_name,
                algorithm=CHECKPOINT_ALGORITHM, public_key=signing.public_key_hex(), signature=signing.sign(message))
            document = checkpoint.as_dict()
            transaction.on_commit(lambda: _checkpoint_publish(document))
    except AuditLogVerificationFailed as exc:
        _verification_failed_record(exc.problems, reason=reason, actor=actor)
        raise
    return document


def audit_log_checkpoint_periodic() -> dict | None:
    """The beat task's service: a checkpoint unless the head has not moved since the last one."""
    with transaction.atomic():
        head = audit_log_lock()
        last = AuditCheckpoint.objects.order_by("-seq", "-created_at").first()
        if last is not None and last.seq == head.seq and last.head_hash == head.hash:
            return None
    return audit_log_checkpoint_write(None, reason="periodic")


def _checkpoint_publish(document: dict) -> None:
    try:
        checkpoint_store(document)
    except Exception:  # noqa: BLE001 committed in its table; an outage of a copy (disk, S3) is logged loudly
        log.exception("audit-log checkpoint #%s could not be written to its storage", document["seq"])
    checkpoint_signed.send(sender=AuditCheckpoint, checkpoint=document)


def _verification_failed_record(problems: list[str], *, reason: str, actor) -> None:
    log.error("audit log verification failed, checkpoint (%s) refused: %s", reason, " | ".join(problems))
    actor_name = getattr(actor, "username", "") or "system"
    try:
        with transaction.atomic():
            audit_log_append(actor=actor, action="audit_log.verification_failed", object_type="audit_log",
                             object_id="checkpoint", payload={"reason": reason, "problems": problems[:50]})
            transaction.on_commit(lambda: verification_failed.send(
                sender=AuditCheckpoint, problems=problems, reason=reason, actor=actor_name))
    except DatabaseError:  # a log broken past appending (its head row gone): the witnesses are told anyway
        log.exception("could not record the failed verification in the audit log")
        verification_failed.send(sender=AuditCheckpoint, problems=problems, reason=reason, actor=actor_name)
