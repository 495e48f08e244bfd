#!/usr/bin/env python3
"""Verify an exported audit log (JSON Lines) offline, with nothing but Python's standard library.

    python tools/verify_audit_log.py audit-log.jsonl [--checkpoint cp.json ...] [--public-key HEX]

The file holds a header line, one line per entry (seq, created_at, actor, action, object_type, object_id,
payload, prev_hash, hash) and at least one signed checkpoint line (seq, head_hash, created_at, public_key,
signature). The verifier recomputes each entry's SHA-256 over the previous hash and the entry's canonical
JSON, follows the links, and names every entry that was edited, deleted, inserted or reordered. Each
checkpoint (in the file, and any given with --checkpoint, such as the files the server writes out under
AUDIT_CHECKPOINT_DIR) vouches that entry #seq had head_hash: an export cut short, or rewritten and re-chained,
fails against it.

Ed25519 signatures need a library: when `cryptography` is importable the checkpoints' signatures are verified
(against --public-key when given, the organisation's published key; otherwise only against the key written
in the checkpoint, which proves integrity but not origin); when it is not, the verdict says they were not.

Exit status: 0 when the log verifies, 1 when it does not, 2 when the file cannot be read.
These rules are the server's (governance/auditlog/chain.py); a test keeps the two in agreement.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

GENESIS_HASH = "0" * 64
EXPORT_FORMAT = "governance-audit-log"
MAX_PROBLEMS = 200
ENTRY_FIELDS = ("seq", "created_at", "actor", "action", "object_type", "object_id", "payload", "prev_hash", "hash")


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, entry: dict, seq: int | None = None) -> str:
    body = {"seq": entry["seq"] if seq is None else seq, "created_at": entry["created_at"], "actor": entry["actor"],
            "action": entry["action"], "object_type": entry["object_type"], "object_id": entry["object_id"],
            "payload": entry["payload"]}
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()


def checkpoint_message(cp: dict) -> bytes:
    return canonical_json({"format": EXPORT_FORMAT, "seq": cp["seq"], "head_hash": cp["head_hash"],
                           "created_at": cp["created_at"]}).encode()


def verify_chain(entries: list[dict]) -> list[str]:
    problems: list[str] = []
    position = {e["hash"]: i for i, e in enumerate(entries)}
    referenced = {e["prev_hash"] for e in entries}
    for i, entry in enumerate(entries):
        seq = entry["seq"]
        before = entries[i - 1] if i else None
        expected_prev = before["hash"] if before else GENESIS_HASH
        if entry_hash(entry["prev_hash"], entry) != entry["hash"]:
            problems.append(_content_problem(entry, entries, position))
        if entry["prev_hash"] != expected_prev:
            problems.append(_link_problem(i, entries, position, referenced))
        elif before is not None and seq != before["seq"] + 1:
            problems.append(f"entry #{seq}: its sequence number should be #{before['seq'] + 1} (renumbered)")
        elif before is None and seq != 1:
            problems.append(f"entry #{seq}: the log should start at #1 (entries before it were removed)")
        if len(problems) >= MAX_PROBLEMS:
            problems.append("… (more problems not listed)")
            break
    return problems


def _content_problem(entry: dict, entries: list[dict], position: dict) -> str:
    seq = entry["seq"]
    candidates = {seq + d for d in (-3, -2, -1, 1, 2, 3)}
    predecessor = position.get(entry["prev_hash"])
    if predecessor is not None:
        candidates.add(entries[predecessor]["seq"] + 1)
    for other in sorted(c for c in candidates if c > 0 and c != seq):
        if entry_hash(entry["prev_hash"], entry, other) == entry["hash"]:
            return f"entry #{seq}: renumbered — its hash was made for #{other} (reordered, or entries removed or inserted)"
    return f"entry #{seq}: content does not match its hash (edited)"


def _link_problem(i: int, entries: list[dict], position: dict, referenced: set) -> str:
    entry = entries[i]
    seq = entry["seq"]
    before = entries[i - 1] if i else None
    after = entries[i + 1] if i + 1 < len(entries) else None
    before_hash = before["hash"] if before else GENESIS_HASH
    where = f"#{before['seq']}" if before else "the start"
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


def checkpoint_problems(entries: list[dict], checkpoints: list[dict]) -> list[str]:
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


def signature_check(checkpoints: list[dict], public_key: str | None) -> tuple[list[str], list[str]]:
    """(problems, notes) about the checkpoints' Ed25519 signatures."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return [], ["signatures NOT verified: the 'cryptography' package is not importable here (the chain and "
                    "the checkpoints' sequence numbers and head hashes were checked)"]
    problems, notes = [], []
    for cp in checkpoints:
        key = public_key or cp.get("public_key", "")
        if public_key and cp.get("public_key") != public_key:
            problems.append(f"checkpoint #{cp['seq']}: signed by another key than the one given with --public-key")
            continue
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(bytes.fromhex(cp["signature"]),
                                                                         checkpoint_message(cp))
        except (InvalidSignature, ValueError, KeyError):
            problems.append(f"checkpoint #{cp['seq']}: its Ed25519 signature does not verify (forged or altered)")
    notes.append("signatures verified with 'cryptography'" + (
        " against the given public key" if public_key else
        " against the key stated in each checkpoint (pass --public-key to pin the organisation's key)"))
    return problems, notes


def read_export(lines) -> tuple[list[dict], list[dict], list[str]]:
    entries, checkpoints, problems = [], [], []
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not JSON (the file was damaged or edited)")
            continue
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "header":
            header_seen = record.get("format") == EXPORT_FORMAT
        elif kind == "entry":
            missing = [f for f in ENTRY_FIELDS if f not in record]
            if missing:
                problems.append(f"line {number}: an entry without {', '.join(missing)}")
            else:
                entries.append(record)
        elif kind == "checkpoint":
            checkpoints.append(record)
        else:
            problems.append(f"line {number}: not a header, entry or checkpoint")
    if not header_seen:
        problems.append(f"no '{EXPORT_FORMAT}' header line")
    return entries, checkpoints, problems


def verify(lines, *, extra_checkpoints: list[dict] = (), public_key: str | None = None) -> dict:
    entries, checkpoints, problems = read_export(lines)
    checkpoints = [*checkpoints, *extra_checkpoints]
    problems += verify_chain(entries)
    if not checkpoints:
        problems.append("no signed checkpoint: entries removed from the end (truncation) cannot be ruled out")
    sig_problems, notes = signature_check(checkpoints, public_key)
    problems += sig_problems + checkpoint_problems(entries, checkpoints)
    last = entries[-1] if entries else None
    return {"ok": not problems, "checked": len(entries), "head_seq": last["seq"] if last else 0,
            "head_hash": last["hash"] if last else GENESIS_HASH,
            "checkpoint": max(checkpoints, key=lambda c: c["seq"]) if checkpoints else None,
            "problems": problems, "notes": notes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the exported audit log (.jsonl)")
    parser.add_argument("--checkpoint", action="append", default=[], help="a checkpoint JSON file (repeatable)")
    parser.add_argument("--public-key", help="the organisation's Ed25519 public key (64 hex characters)")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)
    try:
        with open(args.export, encoding="utf-8") as handle:
            lines = handle.readlines()
        extra = []
        for path in args.checkpoint:
            with open(path, encoding="utf-8") as handle:
                extra.append(json.load(handle))
    except (OSError, ValueError) as exc:
        print(f"cannot read: {exc}", file=sys.stderr)
        return 2
    verdict = verify(lines, extra_checkpoints=extra, public_key=args.public_key)
    if args.json:
        print(json.dumps(verdict, indent=2, ensure_ascii=False))
    else:
        if verdict["ok"]:
            cp = verdict["checkpoint"]
            print(f"OK: {verdict['checked']} entries verified, head #{verdict['head_seq']} {verdict['head_hash']}; "
                  f"checkpoint #{cp['seq']} of {cp.get('created_at')} matches")
        else:
            print(f"FAILED: {len(verdict['problems'])} problem(s) in {verdict['checked']} entries")
            for problem in verdict["problems"]:
                print(f"  - {problem}")
        for note in verdict["notes"]:
            print(f"note: {note}")
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
