"""Canonical JSON, the entry hash and the verification of the audit log's hash chain.

Pure standard library (no Django): the server's verifier (`selectors.audit_log_verify`) and the export use
it. `tools/verify_audit_log.py` carries its own copy of these rules so that an auditor needs nothing but
that file and Python; `tests/governance/auditlog/test_audit_log_tampering.py` checks that both agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

GENESIS_HASH = "0" * 64
CHECKPOINT_ALGORITHM = "Ed25519"
EXPORT_FORMAT = "governance-audit-log"
EXPORT_VERSION = 1
MAX_PROBLEMS = 200


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_body(*, seq: int, created_at: str, actor: str, action: str, object_type: str, object_id: str,
               payload: dict) -> dict:
    return {"seq": seq, "created_at": created_at, "actor": actor, "action": action,
            "object_type": object_type, "object_id": object_id, "payload": payload}


def entry_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def seal_message(entry_hash_hex: str) -> bytes:
    """The bytes an entry's seal (the Ed25519 signature made as it is appended) covers: its hash, which covers
    its content and, through prev_hash, every entry before it."""
    return f"{EXPORT_FORMAT}-entry\n{entry_hash_hex}".encode()


def checkpoint_message(*, seq: int, head_hash: str, created_at: str) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers."""
    return canonical_json({"format": EXPORT_FORMAT, "seq": seq, "head_hash": head_hash,
                           "created_at": created_at}).encode()


def _body_of(entry: dict, seq: int | None = None) -> dict:
    return entry_body(seq=entry["seq"] if seq is None else seq, created_at=entry["created_at"],
                      actor=entry["actor"], action=entry["action"], object_type=entry["object_type"],
                      object_id=entry["object_id"], payload=entry["payload"])


def verify_entries(entries: Sequence[dict], *, checkpoints: Iterable[dict] = (),
                   start: tuple[int, str] = (0, GENESIS_HASH)) -> list[str]:
    """Every problem of a chain given in its stored order, naming the entries at fault.

    `entries` are dicts with seq, created_at (ISO string), actor, action, object_type, object_id, payload,
    prev_hash and hash. Each entry is judged on three things: its content against its own hash (edited,
    or renumbered when the hash fits another sequence number), its link to the entry before it (deleted,
    inserted or reordered, told apart by where its previous-hash points), and its sequence number.
    `checkpoints` ({seq, head_hash}) vouch that entry #seq had that hash: a missing or different entry
    there means the log was truncated or rewritten, which no chain check alone can see.
    `start` (seq, hash): the entry the first one must follow (a checked checkpoint's), the genesis by default.
    """
    problems: list[str] = []
    position = {e["hash"]: i for i, e in enumerate(entries)}
    referenced = {e["prev_hash"] for e in entries}
    for i, entry in enumerate(entries):
        seq = entry["seq"]
        before = entries[i - 1] if i else None
        expected_prev = before["hash"] if before else start[1]
        if entry_hash(entry["prev_hash"], _body_of(entry)) != entry["hash"]:
            problems.append(_content_problem(entry, entries, position))
        if entry["prev_hash"] != expected_prev:
            problems.append(_link_problem(i, entries, position, referenced, start=start))
        elif before is not None and seq != before["seq"] + 1:
            problems.append(f"entry #{seq}: its sequence number should be #{before['seq'] + 1} (renumbered)")
        elif before is None and seq != start[0] + 1:
            problems.append(f"entry #{seq}: the log should continue at #{start[0] + 1} (entries before it were "
                            f"removed)" if start[0] else
                            f"entry #{seq}: the log should start at #1 (entries before it were removed)")
        if len(problems) >= MAX_PROBLEMS:
            problems.append("… (more problems not listed)")
            break
    return problems + checkpoint_problems(entries, checkpoints)


def checkpoint_problems(entries: Sequence[dict], checkpoints: Iterable[dict]) -> list[str]:
    """What the (already signature-checked) checkpoints say is missing or rewritten."""
    problems: list[str] = []
    by_seq = {e["seq"]: e for e in entries}
    last_seq = entries[-1]["seq"] if entries else 0
    for cp in checkpoints:
        at = by_seq.get(cp["seq"])
        if cp["seq"] > last_seq:
            problems.append(f"checkpoint #{cp['seq']} vouches for entries up to #{cp['seq']}, but the log ends at "
                            f"#{last_seq}: entries were removed from the end (truncated)")
        elif at is None:
            problems.append(f"checkpoint #{cp['seq']}: entry #{cp['seq']} is missing (deleted)")
        elif at["hash"] != cp["head_hash"]:
            problems.append(f"checkpoint #{cp['seq']}: entry #{cp['seq']} has a different hash than the checkpoint "
                            f"signed (the log was rewritten up to there)")
    return problems


def _content_problem(entry: dict, entries: Sequence[dict], position: dict) -> str:
    seq = entry["seq"]
    candidates = {seq + d for d in (-3, -2, -1, 1, 2, 3)}
    predecessor = position.get(entry["prev_hash"])
    if predecessor is not None:
        candidates.add(entries[predecessor]["seq"] + 1)
    for other in sorted(c for c in candidates if c > 0 and c != seq):
        if entry_hash(entry["prev_hash"], _body_of(entry, other)) == entry["hash"]:
            return f"entry #{seq}: renumbered — its hash was made for #{other} (reordered, or entries removed or inserted)"
    return f"entry #{seq}: content does not match its hash (edited)"


def _link_problem(i: int, entries: Sequence[dict], position: dict, referenced: set,
                  start: tuple[int, str] = (0, GENESIS_HASH)) -> str:
    entry = entries[i]
    seq = entry["seq"]
    before = entries[i - 1] if i else None
    after = entries[i + 1] if i + 1 < len(entries) else None
    before_hash = before["hash"] if before else start[1]
    where = f"#{before['seq']}" if before else (f"checkpoint #{start[0]}" if start[0] else "the start")
    orphan = entry["hash"] not in referenced
    if orphan and after is not None and after["prev_hash"] == before_hash:
        return f"entry #{seq}: inserted — the entry after it links straight to {where}"
    j = position.get(entry["prev_hash"])
    if j is not None and j > i:
        return (f"entry #{seq}: out of order — it follows #{entries[j]['seq']}, which stands after it "
                f"(reordered)")
    if j is not None:
        between = entries[j + 1:i]
        if all(e["hash"] not in referenced for e in between):
            return (f"entry #{seq}: the entries before it ({', '.join('#' + str(e['seq']) for e in between)}) "
                    f"were inserted — it links straight to #{entries[j]['seq']}")
        return f"entry #{seq}: out of order — it follows #{entries[j]['seq']} but stands after {where} (reordered)"
    if entry["prev_hash"] == GENESIS_HASH:
        return f"entry #{seq}: it claims to start the log but stands after {where} (reordered or inserted)"
    return f"entry #{seq}: the entry it follows is not in the log (deleted{'' if before is None else ' after ' + where})"
