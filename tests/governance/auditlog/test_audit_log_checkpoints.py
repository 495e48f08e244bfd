"""Signed checkpoints: the key's origin, the periodic task, and the files written out."""

from __future__ import annotations

import json
import os
import stat

import pytest

from governance.auditlog import signing
from governance.auditlog.chain import checkpoint_message
from governance.auditlog.models import AuditCheckpoint
from governance.auditlog.services import audit_log_append, audit_log_checkpoint_periodic

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_SIGNING_KEY", raising=False)
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit.key"
    return tmp_path


def test_the_key_file_is_generated_once_private_and_reused(isolated, settings):
    first = signing.public_key_hex()
    key_file = settings.AUDIT_SIGNING_KEY_FILE
    assert key_file.exists() and stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    signing._private_key.cache_clear()
    assert signing.public_key_hex() == first


def test_the_environment_variable_wins_over_the_file(monkeypatch, settings):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed = bytes(range(32))
    monkeypatch.setenv("AUDIT_SIGNING_KEY", seed.hex())
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signing.public_key_hex() == expected.hex()
    assert not settings.AUDIT_SIGNING_KEY_FILE.exists()
    monkeypatch.setenv("AUDIT_SIGNING_KEY", "not hex")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        signing.public_key_hex()


def test_the_periodic_checkpoint_signs_a_moved_head_and_writes_it_out(engineer, settings,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = audit_log_checkpoint_periodic()
    assert first is not None and first["reason"] == "periodic"
    assert audit_log_checkpoint_periodic() is None  # the head has not moved: nothing to sign
    audit_log_append(actor=engineer, action="test.event", object_type="thing", object_id="1")
    with django_capture_on_commit_callbacks(execute=True):
        second = audit_log_checkpoint_periodic()
    assert second["seq"] == first["seq"] + 1 and AuditCheckpoint.objects.count() == 2
    files = sorted(settings.AUDIT_CHECKPOINT_DIR.glob("checkpoint-*.json"))
    assert [json.loads(f.read_text())["seq"] for f in files] == [first["seq"], second["seq"]]
    message = checkpoint_message(seq=second["seq"], head_hash=second["head_hash"], created_at=second["created_at"])
    assert signing.signature_valid(message=message, signature_hex=second["signature"],
                                   public_key=second["public_key"])
    assert not signing.signature_valid(message=message + b"x", signature_hex=second["signature"],
                                       public_key=second["public_key"])


def test_the_checkpoint_task_is_scheduled_on_the_default_queue():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="governance.audit_log_checkpoint")
    assert task.enabled and task.queue == "default" and task.interval is not None


def test_the_audit_log_page_shows_the_head_the_verdict_and_the_checkpoint(client, engineer):
    from governance.auditlog.selectors import audit_log_head
    from governance.auditlog.services import audit_log_checkpoint_write
    from tests.factories import PASSWORD

    from governance.roles import AUDITOR
    from tests.factories import make_user

    checkpoint = audit_log_checkpoint_write(engineer)
    auditor = make_user(AUDITOR)
    client.login(username=auditor.username, password=PASSWORD)
    page = client.get("/audit-log/?verify=1").content.decode()
    assert audit_log_head()["hash"] in page and "Chain intact" in page
    assert f"the newest: #{checkpoint['seq']}" in page and checkpoint["public_key"] in page
    assert client.post("/audit-log/checkpoint/").status_code == 403  # an auditor may not sign
    # A project's engineer reads neither: the log spans every project (auditlog.selectors).
    client.login(username=engineer.username, password=PASSWORD)
    assert client.get("/audit-log/").status_code == 403 and client.post("/audit-log/checkpoint/").status_code == 403
