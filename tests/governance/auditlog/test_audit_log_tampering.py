"""Every kind of tampering with the audit log, done by raw SQL with the append-only trigger switched off
(or by editing an exported file), is caught by the server's verifier, `manage.py verify_audit_log` and the
standalone `tools/verify_audit_log.py`, which name the entries at fault."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from governance.auditlog.chain import canonical_json, entry_body, entry_hash, verify_entries
from governance.auditlog.models import AuditCheckpoint, AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.auditlog.services import audit_log_append, audit_log_checkpoint_write, audit_log_export
from tests.conftest import owner_execute

# Committed rows: the owner's tampering runs on its own connection (tests/conftest.py owner_execute).
pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "verify_audit_log.py"


@pytest.fixture(autouse=True)
def checkpoint_dir(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return settings.AUDIT_CHECKPOINT_DIR


@pytest.fixture
def chain(engineer):
    for i in range(8):
        audit_log_append(actor=engineer, action="test.event", object_type="thing", object_id=str(i),
                         payload={"i": i, "text": "ünïcode", "nested": {"b": [1, 2.5, None]}})
    return list(AuditLogEntry.objects.order_by("seq"))


def _raw(sql: str, params=()):
    """Tamper as a database superuser would: as the owner, with triggers (the append-only guard) switched off."""
    owner_execute(sql, params, triggers=False)


def _forge(*, seq: int, prev_hash: str, action: str = "forged.event") -> tuple[str, str]:
    """A self-consistent entry row as a forger would write it: its own hash is right."""
    created = "2026-01-01T00:00:00+00:00"
    body = entry_body(seq=seq, created_at=created, actor="mallory", action=action, object_type="thing",
                      object_id="x", payload={})
    digest = entry_hash(prev_hash, body)
    _raw("INSERT INTO compliance_auditlogentry (seq, created_at, actor_username, action, object_type, object_id, "
         "payload, prev_hash, hash) VALUES (%s, %s, 'mallory', %s, 'thing', 'x', '{}', %s, %s)",
         (seq, created, action, prev_hash, digest))
    return digest, created


def _shift_from(seq: int, by: int):
    """Renumber entries >= seq (two steps, as the unique index checks each row)."""
    _raw("UPDATE compliance_auditlogentry SET seq = -seq WHERE seq >= %s", (seq,))
    _raw("UPDATE compliance_auditlogentry SET seq = -seq + %s WHERE seq < 0", (by,))


def _problems() -> list[str]:
    verdict = audit_log_verify()
    assert not verdict.ok
    return verdict.problems


def _has(problems: list[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in problems)


# --- in the database -------------------------------------------------------------------------------------

def test_an_untouched_chain_with_checkpoints_verifies(chain):
    audit_log_checkpoint_write(chain[0].actor)
    verdict = audit_log_verify()
    assert verdict.ok, verdict.problems
    assert verdict.checked == len(chain) and verdict.checkpoint["seq"] == chain[-1].seq


def test_the_trigger_refuses_update_and_delete_of_checkpoints(chain):
    import psycopg

    audit_log_checkpoint_write(None)
    for sql in ("UPDATE compliance_auditcheckpoint SET seq = 1", "DELETE FROM compliance_auditcheckpoint"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner_execute(sql)  # even the owner, triggers on
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            with connection.cursor() as cursor:  # the application's role
                cursor.execute(sql)


def test_an_edited_entry_is_named(chain):
    _raw("UPDATE compliance_auditlogentry SET payload = %s WHERE seq = %s", ('{"i": 99}', chain[2].seq))
    problems = _problems()
    assert _has(problems, f"#{chain[2].seq}", "edited")
    assert len(problems) == 1


def test_a_deleted_entry_is_named(chain):
    _raw("DELETE FROM compliance_auditlogentry WHERE seq = %s", (chain[3].seq,))
    problems = _problems()
    assert _has(problems, f"entry #{chain[4].seq}", "deleted", f"after #{chain[2].seq}")


def test_an_inserted_entry_is_named(chain):
    k = chain[4].seq
    _shift_from(k, 1)
    _forge(seq=k, prev_hash="a" * 64)
    problems = _problems()
    assert _has(problems, f"entry #{k}", "inserted")
    assert _has(problems, f"#{k + 1}", "renumbered") and _has(problems, f"entry #{k + 1}", f"#{k}) were inserted")


def test_reordered_entries_are_named(chain):
    a, b = chain[3].seq, chain[4].seq
    _raw("UPDATE compliance_auditlogentry SET seq = -1 WHERE seq = %s", (a,))
    _raw("UPDATE compliance_auditlogentry SET seq = %s WHERE seq = %s", (a, b))
    _raw("UPDATE compliance_auditlogentry SET seq = %s WHERE seq = -1", (b,))
    problems = _problems()
    assert _has(problems, f"entry #{a}", "out of order") and _has(problems, f"entry #{b}", "out of order")
    assert _has(problems, f"entry #{a}", f"made for #{b}")


def test_truncation_is_caught_by_the_checkpoint_even_with_the_head_rewritten(chain):
    audit_log_checkpoint_write(None)
    keep = chain[-3]
    _raw("DELETE FROM compliance_auditlogentry WHERE seq > %s", (keep.seq,))
    _raw("UPDATE compliance_chainhead SET seq = %s, hash = %s", (keep.seq, keep.hash))
    problems = _problems()
    assert _has(problems, f"checkpoint #{chain[-1].seq}", "truncated")
    assert not _has(problems, "edited") and not _has(problems, "deleted")


def test_truncation_is_caught_by_the_written_out_checkpoint_when_the_table_is_wiped_too(
        chain, django_capture_on_commit_callbacks, checkpoint_dir):
    with django_capture_on_commit_callbacks(execute=True):
        audit_log_checkpoint_write(None, reason="periodic")
    assert len(list(checkpoint_dir.glob("checkpoint-*.json"))) == 1
    keep = chain[-2]
    _raw("DELETE FROM compliance_auditlogentry WHERE seq > %s", (keep.seq,))
    _raw("DELETE FROM compliance_auditcheckpoint")
    _raw("UPDATE compliance_chainhead SET seq = %s, hash = %s", (keep.seq, keep.hash))
    assert _has(_problems(), f"checkpoint #{chain[-1].seq}", "truncated")


def test_a_rechained_rewrite_is_caught_by_the_checkpoint(chain):
    """A forger who inserts an entry and recomputes every later hash leaves a self-consistent chain."""
    audit_log_checkpoint_write(None)
    k = chain[4].seq
    _raw("DELETE FROM compliance_auditlogentry WHERE seq >= %s", (k,))
    prev, seq = chain[3].hash, k
    prev, _ = _forge(seq=seq, prev_hash=prev, action="forged.approval")
    for old in chain[4:]:
        seq += 1
        body = entry_body(seq=seq, created_at=old.created_at.isoformat(), actor=old.actor_username,
                          action=old.action, object_type=old.object_type, object_id=old.object_id,
                          payload=old.payload)
        digest = entry_hash(prev, body)
        _raw("INSERT INTO compliance_auditlogentry (seq, created_at, actor_username, action, object_type, "
             "object_id, payload, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
             (seq, old.created_at, old.actor_username, old.action, old.object_type, old.object_id,
              json.dumps(old.payload), prev, digest))
        prev = digest
    _raw("UPDATE compliance_chainhead SET seq = %s, hash = %s", (seq, prev))
    problems = _problems()
    # The chain itself is consistent: only the checkpoint, and the seal the forger could not make for the entry
    # past it, give the rewrite away.
    assert problems == [p for p in problems if p.startswith("checkpoint") or "has no seal" in p]
    assert _has(problems, f"checkpoint #{chain[-1].seq}", "rewritten")
    assert _has(problems, f"entry #{seq}", "no seal")


def test_a_forged_checkpoint_signature_is_refused(chain, checkpoint_dir):
    checkpoint = audit_log_checkpoint_write(None)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    forged = {**checkpoint, "seq": checkpoint["seq"] + 5}
    (checkpoint_dir / "checkpoint-999999999999-forged.json").write_text(json.dumps(forged))
    assert _has(_problems(), f"checkpoint #{forged['seq']}", "signature does not verify")


def test_the_command_says_ok_or_names_the_problem_and_fails(chain):
    audit_log_checkpoint_write(None)
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    assert out.getvalue().startswith("OK") and f"#{chain[-1].seq}" in out.getvalue()
    _raw("UPDATE compliance_auditlogentry SET actor_username = 'someone-else' WHERE seq = %s", (chain[1].seq,))
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_audit_log", stdout=out)
    assert exit_info.value.code == 1
    assert f"entry #{chain[1].seq}: content does not match its hash (edited)" in out.getvalue()


# --- in an exported file, checked by the standalone verifier -----------------------------------------------

def _export(actor, tmp_path) -> tuple[dict, list[str], Path]:
    checkpoint, lines = audit_log_export(actor=actor)
    lines = list(lines)
    path = tmp_path / "audit-log.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return checkpoint, lines, path


def _tool(path: Path, *args: str, stdlib_only: bool = True) -> subprocess.CompletedProcess:
    # -S: no site-packages, so the tool provably needs the standard library only.
    flags = ["-S", "-E"] if stdlib_only else []
    return subprocess.run([sys.executable, *flags, str(TOOL), str(path), *args], capture_output=True, text=True,
                          cwd="/")


def _rewrite(path: Path, lines: list[str]):
    path.write_text("".join(lines), encoding="utf-8")


def test_an_export_verifies_offline_and_carries_the_head(chain, tmp_path, api_client, engineer):
    checkpoint, lines, path = _export(engineer, tmp_path)
    assert json.loads(lines[0])["type"] == "header" and json.loads(lines[-1]) == checkpoint
    assert checkpoint["seq"] == chain[-1].seq
    assert AuditLogEntry.objects.filter(action="audit_log.exported", seq=checkpoint["seq"] + 1).exists()
    pinned = _tool(path, "--public-key", checkpoint["public_key"], stdlib_only=False)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert pinned.stdout.startswith(f"OK: {len(chain)} entries") and "against the given public key" in pinned.stdout
    # Without `cryptography` (-S: no site-packages) nothing can be proven: a failure, unless asked explicitly.
    bare = _tool(path, "--public-key", checkpoint["public_key"])
    assert bare.returncode == 1 and "signatures cannot be checked" in bare.stdout
    chain_only = _tool(path, "--no-signatures")
    assert chain_only.returncode == 0 and chain_only.stdout.startswith("CHAIN CONSISTENT, NOTHING PROVEN")
    assert "NOTHING PROVEN: --no-signatures was given" in chain_only.stdout
    unpinned = _tool(path, stdlib_only=False)
    assert unpinned.returncode == 1 and "no --public-key given" in unpinned.stdout
    api_client.force_authenticate(engineer)  # a project's engineer: the log spans every project
    assert api_client.get("/api/audit-log/export/").status_code == 403
    from governance.roles import AUDITOR
    from tests.factories import make_user

    api_client.force_authenticate(make_user(AUDITOR))
    response = api_client.get("/api/audit-log/export/")
    assert response.status_code == 200
    head = AuditCheckpoint.objects.order_by("-seq").first()
    assert response["X-Audit-Log-Head"] == f"{head.seq}:{head.head_hash}"
    body = b"".join(response.streaming_content).decode()
    assert json.loads(body.splitlines()[-1])["head_hash"] == head.head_hash


def _entry_line(lines: list[str], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if json.loads(line).get("type") == "entry"
                and json.loads(line)["seq"] == seq)


@pytest.mark.parametrize("kind", ["edited", "deleted", "inserted", "reordered", "truncated", "no checkpoint",
                                  "wrong key", "forged signature"])
def test_the_standalone_verifier_names_each_kind_of_tampering(chain, tmp_path, engineer, kind):
    checkpoint, lines, path = _export(engineer, tmp_path)
    third = _entry_line(lines, chain[2].seq)
    seq3, seq4 = chain[2].seq, chain[3].seq
    if kind == "edited":
        record = json.loads(lines[third])
        record["payload"]["i"] = 1000
        lines[third] = canonical_json(record) + "\n"
        expected = (f"entry #{seq3}", "edited")
    elif kind == "deleted":
        del lines[third]
        expected = (f"entry #{seq4}", "deleted", f"after #{chain[1].seq}")
    elif kind == "inserted":
        body = entry_body(seq=seq3, created_at="2026-01-01T00:00:00+00:00", actor="mallory", action="forged",
                          object_type="x", object_id="1", payload={})
        forged = {"type": "entry", **body, "prev_hash": chain[1].hash, "hash": entry_hash(chain[1].hash, body)}
        lines.insert(third, canonical_json(forged) + "\n")
        expected = (f"entry #{seq3}", "inserted")
    elif kind == "reordered":
        lines[third], lines[third + 1] = lines[third + 1], lines[third]
        expected = (f"entry #{seq4}", "out of order", "reordered")
    elif kind == "truncated":
        del lines[-3:-1]  # the last two entries; the checkpoint line stays
        expected = (f"checkpoint #{checkpoint['seq']}", "truncated")
    elif kind == "no checkpoint":
        del lines[-3:]
        expected = ("no signed checkpoint",)
    elif kind == "wrong key":
        expected = ("another key",)
    else:
        record = json.loads(lines[-1])
        record["head_hash"] = chain[-2].hash
        record["seq"] = chain[-2].seq
        lines[-1] = canonical_json(record) + "\n"
        expected = (f"checkpoint #{chain[-2].seq}", "signature does not verify")
    _rewrite(path, lines)
    key = "ab" * 32 if kind == "wrong key" else checkpoint["public_key"]
    result = _tool(path, "--json", "--public-key", key, stdlib_only=False)
    verdict = json.loads(result.stdout)
    assert result.returncode == 1 and not verdict["ok"]
    assert _has(verdict["problems"], *expected), verdict["problems"]
    # The server's rules give the same verdict on the same entries.
    records = [json.loads(line) for line in lines]
    entries = [{k: v for k, v in r.items() if k != "type"} for r in records if r["type"] == "entry"]
    cps = [r for r in records if r["type"] == "checkpoint"]
    server = verify_entries(entries, checkpoints=cps)
    tool_chain = [p for p in verdict["problems"] if not any(
        word in p for word in ("signature", "another key", "not covered", "header's head", "seal"))]
    assert server == tool_chain or (kind == "no checkpoint" and server + ["no signed checkpoint: entries removed "
                                    "from the end (truncation) cannot be ruled out"] == tool_chain)


def test_an_external_checkpoint_catches_an_export_cut_short_with_its_checkpoint(chain, tmp_path, engineer,
                                                                              checkpoint_dir):
    checkpoint, lines, path = _export(engineer, tmp_path)
    (tmp_path / "cp.json").write_text(json.dumps(checkpoint))
    _rewrite(path, lines[:-4] + [lines[-1].replace(checkpoint["head_hash"], "0" * 64)])  # a fake last line
    result = _tool(path, "--checkpoint", str(tmp_path / "cp.json"), "--public-key", checkpoint["public_key"],
                   stdlib_only=False)
    assert result.returncode == 1 and f"checkpoint #{checkpoint['seq']} vouches" in result.stdout
