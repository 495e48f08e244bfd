"""The audit log moved from the compliance app to the auditlog app (compliance 0005, auditlog 0001) by state
only: a database that holds a chain migrates forward with every row, the chain verifies, and the append-only
trigger still refuses UPDATE and DELETE."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from governance.auditlog import signing
from governance.auditlog.chain import GENESIS_HASH, canonical_json, checkpoint_message, entry_body, entry_hash
from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.auditlog.services import audit_log_append

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("compliance", "0004_audit_checkpoint")]  # the last state with the log in the compliance app


def _append_with_old_models(apps, n: int) -> None:
    """Chain `n` entries and sign a checkpoint the way the compliance app did, through its historical models."""
    Entry = apps.get_model("compliance", "AuditLogEntry")
    Head = apps.get_model("compliance", "ChainHead")
    Checkpoint = apps.get_model("compliance", "AuditCheckpoint")
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        created_at = timezone.now()
        payload = json.loads(canonical_json({"i": seq, "note": "before the move"}))
        body = entry_body(seq=seq, created_at=created_at.isoformat(), actor="system", action="test.appended",
                          object_type="test", object_id=str(seq), payload=payload)
        digest = entry_hash(prev, body)
        Entry.objects.create(seq=seq, created_at=created_at, actor_username="system", action="test.appended",
                             object_type="test", object_id=str(seq), payload=payload, prev_hash=prev, hash=digest)
        prev = digest
    Head.objects.create(id=1, seq=n, hash=prev)
    signed_at = timezone.now()
    Checkpoint.objects.create(seq=n, head_hash=prev, created_at=signed_at, created_by="system", reason="manual",
                              public_key=signing.public_key_hex(),
                              signature=signing.sign(checkpoint_message(seq=n, head_hash=prev,
                                                                        created_at=signed_at.isoformat())))


def test_a_chain_written_before_the_move_verifies_after_it_and_stays_append_only(as_owner):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        assert "auditlog" not in {m._meta.app_label for m in old_apps.get_models()}
        _append_with_old_models(old_apps, 7)
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    verdict = audit_log_verify()
    assert verdict.ok, verdict.problems
    assert (verdict.checked, verdict.head_seq, verdict.checkpoints_checked) == (7, 7, 1)
    assert list(AuditLogEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 8))

    entry = audit_log_append(actor=None, action="test.after_the_move", object_type="test", object_id="8")
    assert entry.seq == 8 and entry.prev_hash == AuditLogEntry.objects.get(seq=7).hash
    assert audit_log_verify().ok

    for sql in ("UPDATE compliance_auditlogentry SET payload = '{}' WHERE seq = 3",
                "DELETE FROM compliance_auditlogentry WHERE seq = 8",
                "UPDATE compliance_auditcheckpoint SET seq = 1"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert audit_log_verify().ok
