"""Issue 15, points 8–10: the audit log cannot be quietly rewritten. Each attack is carried out for real on
PostgreSQL — raw SQL as the tables' owner where the attack is the owner's, as the application's role (what the
whole suite runs as: tests/conftest.py) where it is the application's, edits of an exported file, the offline
verifier without `cryptography` — and is refused, or detected with the entry named.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command

from governance import roles
from governance.auditlog.chain import canonical_json, checkpoint_message, entry_body, entry_hash
from governance.auditlog.models import AuditCheckpoint, AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.auditlog.services import (AuditLogVerificationFailed, audit_log_append, audit_log_checkpoint_write,
                                          audit_log_export)
from governance.auditlog.signing import signature_valid
from tests.conftest import app_role_connect, owner_connect, owner_execute
from tests.e2e.conftest import ROOT, _worker_env, wait_for
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.test_webhooks import Receiver, _verify

pytestmark = pytest.mark.django_db(transaction=True)
TOOL = ROOT / "tools" / "verify_audit_log.py"
LOG_TABLES = ("compliance_auditlogentry", "compliance_auditcheckpoint", "compliance_chainhead")


def _append(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit_log_append(actor=None, action="test.event", object_type="thing", object_id=str(i), payload={"i": i})


def _rechain_after(seq: int, *, edit_seq: int) -> list[int]:
    """The owner's forgery: rewrite every entry after #seq (one payload changed), re-chain them with correct
    hashes, keep their old seals (the owner has no key to make new ones) and move the head — triggers off."""
    rows = list(AuditLogEntry.objects.filter(seq__gt=seq).order_by("seq"))
    prev = AuditLogEntry.objects.get(seq=seq).hash
    owner_execute("DELETE FROM compliance_auditlogentry WHERE seq > %s", (seq,), triggers=False)
    for row in rows:
        payload = {"i": 999, "note": "forged"} if row.seq == edit_seq else row.payload
        body = entry_body(seq=row.seq, created_at=row.created_at.isoformat(), actor=row.actor_username,
                          action=row.action, object_type=row.object_type, object_id=row.object_id, payload=payload)
        digest = entry_hash(prev, body)
        owner_execute("INSERT INTO compliance_auditlogentry (seq, created_at, actor_username, action, object_type, "
                      "object_id, payload, prev_hash, hash, seal) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                      (row.seq, row.created_at, row.actor_username, row.action, row.object_type, row.object_id,
                       json.dumps(payload), prev, digest, row.seal), triggers=False)
        prev = digest
    owner_execute("UPDATE compliance_chainhead SET seq = %s, hash = %s WHERE id = 1", (rows[-1].seq, prev),
                  triggers=False)
    return [r.seq for r in rows]


# --- point 8: the checkpoint writer signs nothing that does not verify ---------------------------------------

def test_a_rechained_rewrite_after_the_checkpoint_is_refused_by_the_command_and_named(tmp_path):
    _append(6)
    checkpoint = audit_log_checkpoint_write(None)
    _append(4, start=6)
    rewritten = _rechain_after(checkpoint["seq"], edit_seq=checkpoint["seq"] + 2)
    assert audit_log_verify().problems  # the live verifier names them too (below, with the command)

    env = _worker_env("", tmp_path)  # the application's role, this test's checkpoint folder
    result = subprocess.run([sys.executable, "manage.py", "audit_log_checkpoint"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("REFUSED")
    edited = checkpoint["seq"] + 2
    for seq in rewritten:  # the edited entry and every one re-chained after it; the one before is unchanged
        assert (f"entry #{seq}: its seal does not verify" in result.stdout) == (seq >= edited), result.stdout
    assert AuditCheckpoint.objects.count() == 1  # nothing signed
    assert AuditLogEntry.objects.filter(action="audit_log.verification_failed").exists()

    verify = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 1 and f"entry #{rewritten[2]}: its seal does not verify" in verify.stdout


def test_the_live_verifier_reports_entries_not_yet_covered_apart_and_fails_on_them_when_asked():
    _append(3)
    checkpoint = audit_log_checkpoint_write(None)
    _append(2, start=3)
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    first, last = checkpoint["seq"] + 1, checkpoint["seq"] + 2
    assert out.getvalue().startswith("OK") and f"not yet covered: 2 entries (#{first}–#{last})" in out.getvalue()
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_log", "--require-covered", stdout=out)
    assert exit_info.value.code == 1
    assert f"entry #{first}: not covered by a signed checkpoint" in out.getvalue()
    assert f"entry #{last}: not covered by a signed checkpoint" in out.getvalue()


def test_a_head_moved_behind_the_logs_back_is_named():
    _append(4)
    audit_log_checkpoint_write(None)
    owner_execute("UPDATE compliance_chainhead SET seq = 2, hash = (SELECT hash FROM compliance_auditlogentry "
                  "WHERE seq = 2)", triggers=False)
    assert any("the recorded head is #2" in p for p in audit_log_verify().problems)
    with pytest.raises(AuditLogVerificationFailed, match="vouches for entries up to"):
        audit_log_checkpoint_write(None)


def test_the_refusal_shows_on_the_page_and_in_the_api(client, api_client):
    officer = make_user(roles.COMPLIANCE_OFFICER)
    _append(3)
    checkpoint = audit_log_checkpoint_write(None)
    _append(2, start=3)
    rewritten = _rechain_after(checkpoint["seq"], edit_seq=checkpoint["seq"] + 1)
    client.login(username=officer.username, password=PASSWORD)
    page = client.post("/audit-log/checkpoint/", follow=True).content.decode()
    assert "No checkpoint signed: the audit log does not verify" in page
    assert f"entry #{rewritten[0]}: its seal does not verify" in page
    api_client.force_authenticate(officer)
    response = api_client.post("/api/audit-log/checkpoints/")
    assert response.status_code == 409 and f"entry #{rewritten[0]}" in response.json()["non_field_errors"][0]
    assert AuditCheckpoint.objects.count() == 1


@pytest.mark.e2e
def test_the_beat_task_refuses_logs_and_tells_the_witnesses_who_got_every_signed_head(celery_worker_process,
                                                                                      api_client, settings):
    from workers.celery import app

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # as the worker's (tests/e2e/conftest.py)
    receiver = Receiver()
    try:
        api_client.force_authenticate(make_user(roles.ADMIN))
        hook = api_client.post("/api/webhooks/", {"url": receiver.url, "events": [
            "auditlog.checkpoint", "auditlog.verification_failed"]}, format="json").json()
        _append(5)
        app.send_task("governance.audit_log_checkpoint")  # as django-celery-beat sends it
        signed = wait_for(lambda: [c for c in receiver.calls if c["headers"]["X-Governance-Event"]
                                   == "auditlog.checkpoint"], timeout=60, what="the checkpoint webhook",
                          proc=celery_worker_process)
        assert _verify(hook["secret"], signed[0])
        witnessed = json.loads(signed[0]["body"])["checkpoint"]
        stored = AuditCheckpoint.objects.get()
        assert (witnessed["seq"], witnessed["head_hash"], witnessed["signature"]) == (
            stored.seq, stored.head_hash, stored.signature)
        assert signature_valid(message=checkpoint_message(seq=witnessed["seq"], head_hash=witnessed["head_hash"],
                                                          created_at=witnessed["created_at"]),
                               signature_hex=witnessed["signature"], public_key=witnessed["public_key"])

        _append(3, start=5)
        rewritten = _rechain_after(stored.seq, edit_seq=stored.seq + 1)
        app.send_task("governance.audit_log_checkpoint")
        failed = wait_for(lambda: [c for c in receiver.calls if c["headers"]["X-Governance-Event"]
                                   == "auditlog.verification_failed"], timeout=60, what="the failure webhook",
                          proc=celery_worker_process)
        assert _verify(hook["secret"], failed[0])
        problems = json.loads(failed[0]["body"])["problems"]
        assert any(f"entry #{rewritten[0]}: its seal does not verify" in p for p in problems)
        log = celery_worker_process.log_path.read_text()
        assert "audit-log checkpoint refused, the log does not verify" in log and f"entry #{rewritten[0]}" in log
        assert AuditCheckpoint.objects.count() == 1  # the forgery was never signed
    finally:
        receiver.close()


def test_entries_the_application_role_inserts_without_the_key_are_refused_by_the_writer():
    """A thief of the application's database credentials (not its key) appends an entry that extends the head
    correctly: it cannot seal it."""
    _append(3)
    audit_log_checkpoint_write(None)
    head = AuditLogEntry.objects.order_by("-seq").first()
    body = entry_body(seq=head.seq + 1, created_at="2026-12-01T00:00:00+00:00", actor="mallory",
                      action="deployment_request.approved", object_type="x", object_id="1", payload={})
    with app_role_connect() as app_db:
        app_db.execute("INSERT INTO compliance_auditlogentry (seq, created_at, actor_username, action, object_type, "
                       "object_id, payload, prev_hash, hash, seal) VALUES (%s, %s, 'mallory', %s, 'x', '1', '{}', "
                       "%s, %s, %s)", (head.seq + 1, body["created_at"], body["action"], head.hash,
                                       entry_hash(head.hash, body), "00" * 64))
    with pytest.raises(AuditLogVerificationFailed, match=f"entry #{head.seq + 1}: its seal does not verify"):
        audit_log_checkpoint_write(None)


# --- point 8: the application's role cannot rewrite, truncate or unguard the log ---------------------------

@pytest.mark.parametrize("sql", [
    "UPDATE compliance_auditlogentry SET payload = '{}'",
    "DELETE FROM compliance_auditlogentry",
    "TRUNCATE compliance_auditlogentry",
    "TRUNCATE compliance_auditcheckpoint",
    "TRUNCATE compliance_chainhead",
    "UPDATE compliance_chainhead SET seq = 0",
    "DELETE FROM compliance_auditcheckpoint",
    "ALTER TABLE compliance_auditlogentry DISABLE TRIGGER compliance_auditlogentry_append_only",
    "ALTER TABLE compliance_auditlogentry DISABLE TRIGGER ALL",
    "ALTER TABLE compliance_auditcheckpoint DISABLE TRIGGER USER",
    "ALTER TABLE compliance_auditlogentry ADD COLUMN note text",
    "DROP TRIGGER compliance_auditlogentry_no_truncate ON compliance_auditlogentry",
    "DROP TABLE compliance_auditlogentry",
    "SET session_replication_role = replica",
    "CREATE TABLE compliance_auditlogentry_copy (id int)",
])
def test_the_application_role_is_refused(sql):
    _append(2)
    with app_role_connect() as app_db, pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_db.execute(sql)
    assert audit_log_verify().ok and AuditLogEntry.objects.count() == 2


def test_the_application_role_owns_nothing_and_may_only_append_to_the_log():
    with app_role_connect() as app_db:
        role = app_db.execute("SELECT current_user").fetchone()[0]
        owned = app_db.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user").fetchone()[0]
        rights = {table: app_db.execute(
            "SELECT array_agg(p ORDER BY p) FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE',"
            "'REFERENCES','TRIGGER']) p WHERE has_table_privilege(current_user, %s, p)", (table,)).fetchone()[0]
            for table in LOG_TABLES}
        superuser = app_db.execute("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls FROM pg_roles "
                                   "WHERE rolname = current_user").fetchone()[0]
    assert role.endswith("_app") and owned == 0 and not superuser
    assert rights == {"compliance_auditlogentry": ["INSERT", "SELECT"],
                      "compliance_auditcheckpoint": ["INSERT", "SELECT"], "compliance_chainhead": ["SELECT"]}


def test_an_entry_that_does_not_extend_the_head_is_refused_even_to_the_application_role():
    _append(2)
    head = AuditLogEntry.objects.order_by("-seq").first()
    for seq, prev in ((head.seq + 2, head.hash), (head.seq + 1, "a" * 64), (head.seq, head.prev_hash)):
        with app_role_connect() as app_db, pytest.raises(psycopg.errors.Error, match="does not extend the head|"
                                                                                       "duplicate key"):
            app_db.execute("INSERT INTO compliance_auditlogentry (seq, created_at, actor_username, action, "
                           "object_type, object_id, payload, prev_hash, hash) VALUES (%s, now(), 'm', 'x', 'x', "
                           "'1', '{}', %s, %s)", (seq, prev, "b" * 64))
    assert audit_log_verify().ok


def test_tables_a_later_migration_creates_are_granted_to_the_application_role():
    with owner_connect() as owner:
        owner.execute("CREATE TABLE later_migration_table (id int)")
    try:
        with app_role_connect() as app_db:
            app_db.execute("INSERT INTO later_migration_table VALUES (1)")
            assert app_db.execute("SELECT count(*) FROM later_migration_table").fetchone()[0] == 1
    finally:
        owner_execute("DROP TABLE later_migration_table")


def test_db_roles_refuses_bad_input(monkeypatch):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--app-role"):
        call_command("db_roles", app_role="Robert'); DROP TABLE x;--", stdout=StringIO())
    monkeypatch.delenv("NO_SUCH_PASSWORD_VAR", raising=False)
    with pytest.raises(CommandError, match="NO_SUCH_PASSWORD_VAR"):
        call_command("db_roles", app_role="gov_app_x", password_env="NO_SUCH_PASSWORD_VAR", stdout=StringIO())


# --- point 8: the owner's attacks: TRUNCATE refused; with the triggers off, detected --------------------------

def test_truncate_is_refused_even_to_the_owner():
    _append(3)
    for table in LOG_TABLES:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only: TRUNCATE"):
            owner_execute(f"TRUNCATE {table}")
    assert audit_log_verify().ok and AuditLogEntry.objects.count() == 3


def test_the_owner_who_disables_the_triggers_and_wipes_the_log_is_caught_by_the_write_once_copy(settings, tmp_path,
                                                                                                 django_capture_on_commit_callbacks):
    settings.STORAGES = {**settings.STORAGES, "audit_checkpoints": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "worm")}}}
    _append(5)
    with django_capture_on_commit_callbacks(execute=True):
        checkpoint = audit_log_checkpoint_write(None)
    stored = list((tmp_path / "worm" / "audit-log-checkpoints").glob("checkpoint-*.json"))
    assert [json.loads(p.read_text())["signature"] for p in stored] == [checkpoint["signature"]]
    keep = AuditLogEntry.objects.get(seq=2)
    with owner_connect() as owner:  # the owner, as a careless or hostile DBA can
        for table in LOG_TABLES:
            owner.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        owner.execute("DELETE FROM compliance_auditlogentry WHERE seq > 2")
        owner.execute("DELETE FROM compliance_auditcheckpoint")
        owner.execute("UPDATE compliance_chainhead SET seq = %s, hash = %s", (keep.seq, keep.hash))
        for table in LOG_TABLES:
            owner.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    for path in Path(settings.AUDIT_CHECKPOINT_DIR).glob("checkpoint-*.json"):
        path.unlink()  # and the local folder
    problems = audit_log_verify().problems
    assert any(f"checkpoint #{checkpoint['seq']} vouches" in p and "truncated" in p for p in problems), problems
    with pytest.raises(AuditLogVerificationFailed, match="truncated"):
        audit_log_checkpoint_write(None)


# --- point 9: the offline verifier ---------------------------------------------------------------------------

def _export(tmp_path) -> tuple[dict, list[str], Path]:
    checkpoint, lines = audit_log_export(actor=None)
    lines = list(lines)
    path = tmp_path / "audit-log.jsonl"
    path.write_text("".join(lines))
    return checkpoint, lines, path


def _tool(path: Path, *args: str, block_cryptography: bool = False) -> subprocess.CompletedProcess:
    if block_cryptography:  # the verifier's interpreter cannot import `cryptography`, as on a bare machine
        code = ("import sys, runpy\n"
                "class Block:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name == 'cryptography' or name.startswith('cryptography.'):\n"
                "            raise ImportError('blocked: ' + name)\n"
                "sys.meta_path.insert(0, Block())\n"
                f"sys.argv = {[str(TOOL), str(path), *args]!r}\n"
                f"runpy.run_path({str(TOOL)!r}, run_name='__main__')\n")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    return subprocess.run([sys.executable, str(TOOL), str(path), *args], capture_output=True, text=True, cwd="/")


def test_an_entry_appended_after_the_signed_checkpoint_fails_offline_and_is_named(tmp_path):
    _append(4)
    checkpoint, lines, path = _export(tmp_path)
    key = checkpoint["public_key"]
    assert _tool(path, "--public-key", key).returncode == 0
    last = json.loads(lines[-2])
    body = entry_body(seq=last["seq"] + 1, created_at="2026-12-01T00:00:00+00:00", actor="mallory",
                      action="deployment_request.approved", object_type="x", object_id="1", payload={})
    forged = {"type": "entry", **body, "prev_hash": last["hash"], "hash": entry_hash(last["hash"], body)}
    path.write_text("".join(lines[:-1] + [canonical_json(forged) + "\n", lines[-1]]))
    result = _tool(path, "--public-key", key)
    assert result.returncode == 1
    assert f"entry #{forged['seq']}: not covered by a signed checkpoint" in result.stdout
    assert f"the header's head #{checkpoint['seq']}" in result.stdout  # the header says where the log ended
    # Moving the header's head to the forged entry does not help: no signed checkpoint has it.
    header = json.loads(lines[0])
    header.update(head_seq=forged["seq"], head_hash=forged["hash"])
    path.write_text("".join([canonical_json(header) + "\n"] + lines[1:-1] + [canonical_json(forged) + "\n",
                                                                            lines[-1]]))
    result = _tool(path, "--public-key", key)
    assert result.returncode == 1 and f"the header's head #{forged['seq']} is not the head of any valid signed" \
        in result.stdout


def test_without_cryptography_the_verifier_fails_unless_told_that_nothing_is_proven(tmp_path):
    _append(3)
    checkpoint, lines, path = _export(tmp_path)
    blocked = _tool(path, "--public-key", checkpoint["public_key"], block_cryptography=True)
    assert blocked.returncode == 1 and "signatures cannot be checked" in blocked.stdout, blocked.stdout
    # A forger's zero signature changes nothing: still no OK without cryptography.
    zeroed = json.loads(lines[-1])
    zeroed["signature"] = "00" * 64
    path.write_text("".join(lines[:-1] + [canonical_json(zeroed) + "\n"]))
    assert _tool(path, "--public-key", checkpoint["public_key"], block_cryptography=True).returncode == 1
    assert "does not verify" in _tool(path, "--public-key", checkpoint["public_key"]).stdout
    explicit = _tool(path, "--no-signatures", block_cryptography=True)
    assert explicit.returncode == 0 and "NOTHING PROVEN" in explicit.stdout
    assert explicit.stdout.startswith("CHAIN CONSISTENT, NOTHING PROVEN")


@pytest.mark.parametrize("kind", ["edited", "deleted", "inserted", "reordered", "rechained"])
def test_the_offline_verifier_names_each_kind_of_tampering_in_an_export(tmp_path, kind):
    _append(6)
    checkpoint, lines, path = _export(tmp_path)
    entries = [json.loads(line) for line in lines[1:-1]]
    i = 3  # the fourth entry
    seq = entries[i]["seq"]
    if kind == "edited":
        entries[i]["payload"] = {"i": 1000}
        expected = f"entry #{seq}: content does not match its hash (edited)"
    elif kind == "deleted":
        del entries[i]
        expected = f"entry #{seq + 1}: the entry it follows is not in the log (deleted"
    elif kind == "inserted":
        body = entry_body(seq=seq, created_at="2026-01-01T00:00:00+00:00", actor="m", action="x", object_type="x",
                          object_id="1", payload={})
        prev = entries[i - 1]["hash"]
        entries.insert(i, {"type": "entry", **body, "prev_hash": prev, "hash": entry_hash(prev, body)})
        expected = "inserted"
    elif kind == "reordered":
        entries[i], entries[i + 1] = entries[i + 1], entries[i]
        expected = "out of order"
    else:  # rewrite from the fourth entry on and re-chain every later hash: the signed head no longer matches
        prev = entries[i - 1]["hash"]
        for entry in entries[i:]:
            if entry["seq"] == seq:
                entry["payload"] = {"i": 1000}
            body = {k: entry[k] for k in ("seq", "created_at", "actor", "action", "object_type", "object_id",
                                          "payload")}
            entry.update(prev_hash=prev, hash=entry_hash(prev, body))
            prev = entry["hash"]
        expected = f"checkpoint #{checkpoint['seq']}: entry #{checkpoint['seq']} has a different hash"
    path.write_text("".join([lines[0]] + [canonical_json(e) + "\n" for e in entries] + [lines[-1]]))
    result = _tool(path, "--public-key", checkpoint["public_key"])
    assert result.returncode == 1 and expected in result.stdout, result.stdout


def test_verify_audit_log_warns_an_operator_who_runs_the_application_as_the_owner(tmp_path):
    from tests.conftest import DB_OWNER

    _append(2)
    audit_log_checkpoint_write(None)
    as_app = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=ROOT, env=_worker_env("", tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert as_app.returncode == 0 and "warning" not in as_app.stderr
    owner_url = f"postgres://{DB_OWNER['USER']}@{DB_OWNER['HOST']}:{DB_OWNER['PORT']}/{DB_OWNER['NAME']}"
    as_owner = subprocess.run([sys.executable, "manage.py", "verify_audit_log"], cwd=ROOT,
                              env={**_worker_env("", tmp_path), "DATABASE_URL": owner_url},
                              capture_output=True, text=True, timeout=120)
    assert as_owner.returncode == 0 and f"connects as {DB_OWNER['USER']}, the owner" in as_owner.stderr
