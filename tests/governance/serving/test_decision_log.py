"""The decision log's storage: monthly partitions made on demand, retention per environment (rows, then
whole months), and what the application's database role can and cannot do to it."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from governance.serving.decision_queue import decisions_store
from governance.serving.models import Decision, DecisionOutcome
from governance.serving.services import decisions_retention_purge, outcomes_record, serving_policy_update


def _row(served, at, environment="staging") -> dict:
    deployment = served["version"].deployments.get(environment="staging")
    return {"id": str(uuid.uuid4()), "decided_at": at.isoformat(), "project_id": served["model"].project_id,
            "model_id": served["model"].pk, "model_version_id": served["version"].pk, "deployment_id": deployment.pk,
            "environment": environment, "token_id": None, "input_sha256": "0" * 64, "text": "kept text",
            "subject_id": "S-1", "attributes": {}, "predicted_label": "yes", "probabilities": {"no": 0.4, "yes": 0.6}}


def _partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'serving_decision'::regclass")
        return {r[0] for r in cursor.fetchall()}


def test_months_get_their_partition_on_first_use(served):
    now = timezone.now()
    old = now - timedelta(days=400)
    decisions_store([json.dumps(_row(served, old)), json.dumps(_row(served, now))])
    assert {f"serving_decision_y{old:%Y}m{old:%m}", f"serving_decision_y{now:%Y}m{now:%m}"} <= _partitions()
    assert Decision.objects.count() == 2


def test_storing_a_batch_twice_writes_it_once(served):
    rows = [json.dumps(_row(served, timezone.now())) for _ in range(3)]
    decisions_store(rows)
    decisions_store(rows[:2] + [json.dumps(_row(served, timezone.now()))])  # a recovered batch, and one more
    assert Decision.objects.count() == 4


def test_retention_deletes_per_environment_then_drops_whole_old_months(served):
    serving_policy_update(actor=served["officer"], environment="production", retention_days=365)
    now = timezone.now()
    rows = {"ancient": _row(served, now - timedelta(days=420)), "old_staging": _row(served, now - timedelta(days=200)),
            "old_production": _row(served, now - timedelta(days=200), environment="production"),
            "fresh": _row(served, now - timedelta(days=1))}
    decisions_store([json.dumps(r) for r in rows.values()])
    outcomes_record(actor=served["engineer"], outcomes=[{"decision_id": uuid.UUID(rows["old_staging"]["id"]),
                                                         "label": "no"}])
    ancient = now - timedelta(days=420)
    assert f"serving_decision_y{ancient:%Y}m{ancient:%m}" in _partitions()
    result = decisions_retention_purge(now=now)
    left = {str(i) for i in Decision.objects.values_list("id", flat=True)}
    assert left == {rows["old_production"]["id"], rows["fresh"]["id"]}
    assert not DecisionOutcome.objects.exists()
    assert f"serving_decision_y{ancient:%Y}m{ancient:%m}" not in _partitions()
    assert result["partitions_dropped"] and result["deleted"]["staging"] >= 1


def test_the_application_role_cannot_drop_recent_months_or_the_table(served):
    """The tests connect as the application's role (tests/conftest.py): it owns nothing."""
    decisions_store([json.dumps(_row(served, timezone.now()))])
    now = timezone.now()
    from django.db.utils import DatabaseError

    for sql in (f"DROP TABLE serving_decision_y{now:%Y}m{now:%m}", "DROP TABLE serving_decision",
                "TRUNCATE serving_decision", "ALTER TABLE serving_decision DETACH PARTITION "
                                             f"serving_decision_y{now:%Y}m{now:%m}"):
        with pytest.raises(DatabaseError, match="must be owner|permission denied"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql)
    with pytest.raises(DatabaseError, match="kept at least 183 days"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("SELECT serving_decision_partitions_drop_before(%s)", [(now + timedelta(days=60)).date()])
    assert Decision.objects.count() == 1
