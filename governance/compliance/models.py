from __future__ import annotations

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditLogEntry(models.Model):
    """One entry of the append-only, hash-chained audit log.

    `hash` = SHA-256 over `prev_hash` and the canonical JSON of the entry (see chain.py). `prev_hash` is
    unique, so two appenders that raced from the same head fail loudly instead of forking the chain.
    On PostgreSQL a trigger refuses UPDATE and DELETE on this table (migration 0002).
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

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class ChainHead(models.Model):
    """One row, locked first by every appender: it serialises appends (select_for_update)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)


class OrganisationProfile(models.Model):
    """The controller's identity for GDPR Art. 30(1)(a) and every export (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    controller_name = models.CharField(max_length=200, default="")
    controller_contact = models.CharField(max_length=300, default="", blank=True)
    joint_controllers = models.TextField(blank=True, default="")
    representative = models.CharField(max_length=300, blank=True, default="")
    dpo_name = models.CharField(max_length=200, blank=True, default="")
    dpo_contact = models.CharField(max_length=300, blank=True, default="")
    security_measures = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
