"""The decision log's write-ahead queue: decisions go to a Redis list before the answer leaves, and reach
PostgreSQL in bulk, off the request path.

Why it loses nothing when a process dies: a request answers only after RPUSH returned (Redis holds the
decisions; a serving process killed a microsecond later has lost nothing, and a decision whose push failed is
never answered: 503). A flusher claims a batch atomically (a Lua script moves it from the pending list to a
processing list of its own, noted with the time in the in-flight hash), writes it to PostgreSQL in one
transaction (COPY), then deletes its processing list. A flusher that dies between the claim and the delete
leaves the processing list behind; `decisions_recover` writes such lists again once they are
SERVING_RECOVER_AFTER_S old. Writing twice is harmless: a decision's (decided_at, id) is the table's primary
key, so a batch that meets rows already there is written again with ON CONFLICT DO NOTHING.

Redis must itself be durable for a machine (not just process) failure: run it with `appendonly yes` and
`appendfsync always` (or `everysec`, accepting up to a second) where that matters; README "Serving".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from functools import lru_cache

import redis
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from governance.auditlog.services import audit_log_append
from governance.serving.models import Decision

PENDING = "serving:decisions:pending"
PROCESSING = "serving:decisions:processing:"
INFLIGHT = "serving:decisions:inflight"
BATCH = 5000
COLUMNS = ("id", "decided_at", "project_id", "model_id", "model_version_id", "deployment_id", "environment",
           "token_id", "input_sha256", "text", "subject_id", "attributes", "predicted_label", "probabilities")

_CLAIM = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('HSET', KEYS[3], KEYS[2], ARGV[2])
end
return items
"""


@lru_cache(maxsize=None)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)


def queue() -> redis.Redis:
    return _client(settings.SERVING_QUEUE_URL)


def decisions_enqueue(rows: list[dict]) -> None:
    """Hand decisions to the write-ahead queue; returns once Redis holds them (raises redis.RedisError else)."""
    if rows:
        queue().rpush(PENDING, *[json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in rows])


def decisions_pending() -> int:
    client = queue()
    return client.llen(PENDING) + sum(client.llen(k) for k in client.hkeys(INFLIGHT))


def decisions_flush(*, limit: int = BATCH) -> int:
    """Claim up to `limit` queued decisions and write them to PostgreSQL; returns how many."""
    client = queue()
    key = PROCESSING + uuid.uuid4().hex
    items = client.eval(_CLAIM, 3, PENDING, key, INFLIGHT, limit, time.time())
    if not items:
        return 0
    decisions_store(items)
    client.delete(key)
    client.hdel(INFLIGHT, key)
    return len(items)


def decisions_recover(*, older_than_s: float) -> int:
    """Write again the batches claimed by flushers that died (claimed over `older_than_s` seconds ago)."""
    client = queue()
    written = 0
    for key, claimed in client.hgetall(INFLIGHT).items():
        if time.time() - float(claimed) < older_than_s:
            continue
        items = client.lrange(key, 0, -1)
        if items:
            decisions_store(items)
            written += len(items)
        client.delete(key)
        client.hdel(INFLIGHT, key)
    return written


def decisions_flush_all() -> int:
    """Recover stale batches, then flush until the queue is empty (the flusher thread, the periodic task)."""
    written = decisions_recover(older_than_s=settings.SERVING_RECOVER_AFTER_S)
    while True:
        n = decisions_flush()
        written += n
        if n < BATCH:
            return written


def _row(raw: bytes | str) -> dict:
    row = json.loads(raw)
    row["decided_at"] = dt.datetime.fromisoformat(row["decided_at"])
    row["id"] = uuid.UUID(row["id"])
    return row


@transaction.atomic
def decisions_store(items: list) -> None:
    """Write a batch of queued decisions (idempotent) and note it in the audit log (count and digest)."""
    rows = [_row(i) for i in items]
    if connection.vendor == "postgresql":
        _store_postgresql(rows)
    else:
        Decision.objects.bulk_create([Decision(**r) for r in rows], ignore_conflicts=True)
    digest = hashlib.sha256("\n".join(sorted(f"{r['id']}:{r['input_sha256']}" for r in rows)).encode()).hexdigest()
    deployments: dict[str, int] = {}
    for r in rows:
        deployments[str(r["deployment_id"])] = deployments.get(str(r["deployment_id"]), 0) + 1
    audit_log_append(actor=None, action="decisions.logged", object_type="serving.decision",
                     payload={"count": len(rows), "deployments": deployments, "ids_sha256": digest,
                              "first": min(r["decided_at"] for r in rows).isoformat(),
                              "last": max(r["decided_at"] for r in rows).isoformat()})


def partitions_ensure(instants) -> None:
    """Create the monthly partitions the instants fall in (PostgreSQL; SECURITY DEFINER, migration 0001)."""
    if connection.vendor != "postgresql":
        return
    months = sorted({i.astimezone(dt.timezone.utc).date().replace(day=1) for i in instants})
    with connection.cursor() as cursor:
        for month in months:
            cursor.execute("SELECT serving_decision_partition_ensure(%s)", [month])


def _store_postgresql(rows: list[dict]) -> None:
    from psycopg.errors import UniqueViolation
    from psycopg.types.json import Jsonb

    partitions_ensure(r["decided_at"] for r in rows)
    values = [tuple(Jsonb(r[c]) if c in ("attributes", "probabilities") else r.get(c) for c in COLUMNS)
              for r in rows]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY serving_decision ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for value in values:
                    copy.write_row(value)
    except (IntegrityError, UniqueViolation):  # a batch written before (a recovered one): keep what is there, add the rest
        with connection.cursor() as cursor:  # constant column names and placeholders only
            cursor.executemany(f"INSERT INTO serving_decision ({', '.join(COLUMNS)}) VALUES "  # nosec B608
                               f"({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT DO NOTHING", values)
