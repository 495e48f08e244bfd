"""The audit log's tables. They were created by the compliance app (migrations compliance 0001–0004) and keep
their names (`db_table`), their rows and their append-only triggers; auditlog 0001 moved only Django's state."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.auditlog.chain import GENESIS_HASH


class AuditLogEntry(models.Model):
    """One entry of the append-only, hash-chained audit log.

    `hash` = SHA-256 over `prev_hash` and the canonical JSON of the entry (see chain.py). `prev_hash` is
    unique, so two appenders that raced from the same head fail loudly instead of forking the chain.
    On PostgreSQL triggers refuse UPDATE, DELETE (compliance 0002) and TRUNCATE (auditlog 0002), and an
    insert that does not extend the chain head by one (auditlog 0002, which also advances the head).
    """

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, db_index=True)
    object_id = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)
    # Ed25519 signature of `hash` by the signing key, made at append (signing.seal): a rewrite after the newest
    # checkpoint by anyone without the key (the database owner) cannot be re-sealed. Empty on entries older
    # than auditlog 0002, which only a checkpoint covers.
    seal = models.CharField(max_length=128, blank=True, default="", db_default="")

    class Meta:
        db_table = "compliance_auditlogentry"
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class ChainHead(models.Model):
    """One row, locked first by every appender: it serialises appends (select_for_update)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        db_table = "compliance_chainhead"


class AuditCheckpoint(models.Model):
    """A signed statement that the log had `seq` entries ending in `head_hash` at `created_at`.

    Written periodically (django-celery-beat) and with every export, also as a JSON file under
    AUDIT_CHECKPOINT_DIR, so that removing entries from the end of the log (truncation), which a hash chain
    alone cannot show, is detected. Append-only on PostgreSQL like the log (migration compliance 0004).
    """

    seq = models.BigIntegerField(db_index=True)
    head_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True, default="")
    reason = models.CharField(max_length=20, default="manual")
    algorithm = models.CharField(max_length=20, default="Ed25519")
    public_key = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        db_table = "compliance_auditcheckpoint"
        ordering = ["-seq", "-created_at"]

    def as_dict(self) -> dict:
        return {"type": "checkpoint", "seq": self.seq, "head_hash": self.head_hash,
                "created_at": self.created_at.isoformat(), "created_by": self.created_by, "reason": self.reason,
                "algorithm": self.algorithm, "public_key": self.public_key, "signature": self.signature}
