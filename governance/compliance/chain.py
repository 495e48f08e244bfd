"""Canonical JSON and the entry hash of the audit log (also used by the standalone verifier)."""

from __future__ import annotations

import hashlib
import json


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_body(*, seq: int, created_at: str, actor: str, action: str, object_type: str, object_id: str,
               payload: dict) -> dict:
    return {"seq": seq, "created_at": created_at, "actor": actor, "action": action,
            "object_type": object_type, "object_id": object_id, "payload": payload}


def entry_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_json(body)}".encode()).hexdigest()
