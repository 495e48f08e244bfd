#!/usr/bin/env python3
"""Verify an exported audit log (JSON Lines) offline, with Python's standard library and `cryptography`.

    python tools/verify_audit_log.py audit-log.jsonl --public-key HEX [--checkpoint cp.json ...] [--no-signatures]

The file holds a header line, one line per entry (seq, created_at, actor, action, object_type, object_id,
payload, prev_hash, hash) and at least one signed checkpoint line (seq, head_hash, created_at, public_key,
signature). The verifier recomputes each entry's SHA-256 over the previous hash and the entry's canonical
JSON, follows the links, and names every entry that was edited, deleted, inserted or reordered. Each
checkpoint (in the file, and any given with --checkpoint, such as the files the server writes out under
AUDIT_CHECKPOINT_DIR) vouches that entry #seq had head_hash: an export cut short, or rewritten and re-chained,
fails against it.

Every entry must be covered by a checkpoint whose Ed25519 signature verifies against --public-key (the
organisation's published key), and the header's head must be the last entry and a signed head: an entry
appended after the signed checkpoint fails. Checking signatures needs the `cryptography` package; without it,
or without --public-key, the verdict is a failure, because nothing would show who wrote the file.
`--no-signatures` checks the chain alone and says that this proves nothing. Entries' seals (the signature
made as each was appended) are checked when present.

Exit status: 0 when the log verifies, 1 when it does not (or cannot be proven), 2 when the file cannot be read.
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


def _ed25519():
    """cryptography's Ed25519 verifier, or None when the package is not importable here."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return None

    def valid(key_hex: str, signature_hex: str, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(bytes.fromhex(signature_hex), message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    return valid


def seal_message(entry_hash_hex: str) -> bytes:
    return f"{EXPORT_FORMAT}-entry\n{entry_hash_hex}".encode()


def signature_check(checkpoints: list[dict], entries: list[dict], public_key: str | None, *,
                    no_signatures: bool = False) -> tuple[list[dict] | None, list[str], list[str]]:
    """(the checkpoints whose signature verifies, or None when none could be checked; problems; notes)."""
    if no_signatures:
        return list(checkpoints), [], ["NOTHING PROVEN: --no-signatures was given, so no signature was checked; "
                                       "anyone can write a file that passes the checks that remain (the chain "
                                       "and the checkpoints' sequence numbers and head hashes)"]
    valid_sig = _ed25519()
    if valid_sig is None:
        return None, ["signatures cannot be checked: the 'cryptography' package is not importable here, so "
                      "nothing shows who wrote this file (install it, or pass --no-signatures to check the chain "
                      "alone, which proves nothing)"], []
    problems, notes, valid = [], [], []
    if not public_key:
        problems.append("no --public-key given: a signature checked against the key written in the file proves "
                        "nothing about who signed it (pass the organisation's published key)")
    for cp in checkpoints:
        if public_key and cp.get("public_key") != public_key:
            problems.append(f"checkpoint #{cp.get('seq')}: signed by another key than the one given with --public-key")
        elif not valid_sig(public_key or cp.get("public_key", ""), cp.get("signature", ""), checkpoint_message(cp)):
            problems.append(f"checkpoint #{cp.get('seq')}: its Ed25519 signature does not verify (forged or altered)")
        else:
            valid.append(cp)
    key = public_key or (valid[0]["public_key"] if valid else "")
    for entry in entries:
        if entry.get("seal") and not valid_sig(key, entry["seal"], seal_message(entry["hash"])):
            problems.append(f"entry #{entry['seq']}: its seal does not verify (rewritten, or sealed by another key)")
    if public_key:
        notes.append("signatures verified with 'cryptography' against the given public key")
    return valid, problems, notes


def coverage_problems(entries: list[dict], valid: list[dict], header: dict | None) -> list[str]:
    """Every entry, and the header's head, that no valid signed checkpoint in the file covers."""
    problems: list[str] = []
    covered_to = max((int(c["seq"]) for c in valid), default=0)
    uncovered = [e for e in entries if e["seq"] > covered_to]
    for entry in uncovered[:MAX_PROBLEMS]:
        problems.append(f"entry #{entry['seq']}: not covered by a signed checkpoint (the newest valid one is "
                        f"#{covered_to}): added after the export was signed")
    if header is not None and "head_seq" in header:
        last = (entries[-1]["seq"], entries[-1]["hash"]) if entries else (0, GENESIS_HASH)
        head = (header.get("head_seq"), header.get("head_hash"))
        if head != last:
            problems.append(f"the header's head #{head[0]} {head[1]} is not the last entry #{last[0]} {last[1]}")
        if not any((int(c["seq"]), c["head_hash"]) == head for c in valid):
            problems.append(f"the header's head #{head[0]} is not the head of any valid signed checkpoint")
    return problems


def read_export(lines) -> tuple[dict | None, list[dict], list[dict], list[str]]:
    entries, checkpoints, problems = [], [], []
    header = None
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
            if header is not None:
                problems.append(f"line {number}: a second header")
            elif record.get("format") == EXPORT_FORMAT:
                header = record
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
    if header is None:
        problems.append(f"no '{EXPORT_FORMAT}' header line")
    return header, entries, checkpoints, problems


def verify(lines, *, extra_checkpoints: list[dict] = (), public_key: str | None = None,
           no_signatures: bool = False) -> dict:
    header, entries, checkpoints, problems = read_export(lines)
    checkpoints = [*checkpoints, *extra_checkpoints]
    problems += verify_chain(entries)
    if not checkpoints:
        problems.append("no signed checkpoint: entries removed from the end (truncation) cannot be ruled out")
    valid, sig_problems, notes = signature_check(checkpoints, entries, public_key, no_signatures=no_signatures)
    problems += sig_problems
    if valid is not None:
        problems += checkpoint_problems(entries, valid) + coverage_problems(entries, valid, header)
    last = entries[-1] if entries else None
    return {"ok": not problems, "checked": len(entries), "head_seq": last["seq"] if last else 0,
            "head_hash": last["hash"] if last else GENESIS_HASH,
            "checkpoint": max(valid, key=lambda c: c["seq"]) if valid else None,
            "signatures_checked": not no_signatures and valid is not None,
            "problems": problems, "notes": notes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the exported audit log (.jsonl)")
    parser.add_argument("--checkpoint", action="append", default=[], help="a checkpoint JSON file (repeatable)")
    parser.add_argument("--public-key", help="the organisation's Ed25519 public key (64 hex characters)")
    parser.add_argument("--no-signatures", action="store_true",
                        help="check the chain without checking any signature (proves nothing about who wrote it)")
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
    verdict = verify(lines, extra_checkpoints=extra, public_key=args.public_key, no_signatures=args.no_signatures)
    if args.json:
        print(json.dumps(verdict, indent=2, ensure_ascii=False))
    else:
        if verdict["ok"]:
            cp = verdict["checkpoint"]
            print(f"{'OK' if verdict['signatures_checked'] else 'CHAIN CONSISTENT, NOTHING PROVEN'}: "
                  f"{verdict['checked']} entries verified, head #{verdict['head_seq']} {verdict['head_hash']}; "
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
