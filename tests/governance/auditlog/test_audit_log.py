from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from governance.auditlog.models import AuditLogEntry
from governance.auditlog.selectors import audit_log_verify
from governance.auditlog.services import audit_log_append
from tests.conftest import owner_execute

# Committed rows: the owner's tampering runs on its own connection (tests/conftest.py owner_sql).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chain(engineer):
    for i in range(5):
        audit_log_append(actor=engineer, action="test.event", object_type="thing", object_id=str(i),
                         payload={"i": i, "text": "ünïcode"})
    return list(AuditLogEntry.objects.order_by("seq"))


def _raw(sql: str, params=()):
    """Tamper as a database superuser would: as the owner, with triggers (the append-only guard) switched off."""
    owner_execute(sql, params, triggers=False)


def test_an_untouched_chain_verifies(chain):
    verdict = audit_log_verify()
    assert verdict.ok and verdict.checked == len(chain)
    assert verdict.head_hash == chain[-1].hash


def test_the_trigger_refuses_update_delete_and_truncate_even_to_the_owner(chain, owner_sql):
    import psycopg

    for sql in ("UPDATE compliance_auditlogentry SET action = 'x'", "DELETE FROM compliance_auditlogentry",
                "TRUNCATE compliance_auditlogentry", "TRUNCATE compliance_auditcheckpoint",
                "TRUNCATE compliance_chainhead"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner_sql(sql)
    assert AuditLogEntry.objects.count() == len(chain)


def test_the_application_role_may_not_update_or_delete(chain):
    for sql in ("UPDATE compliance_auditlogentry SET action = 'x'", "DELETE FROM compliance_auditlogentry"):
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)


def test_an_edited_entry_is_named(chain):
    _raw("UPDATE compliance_auditlogentry SET payload = %s WHERE seq = %s", ('{"i": 99}', chain[2].seq))
    verdict = audit_log_verify()
    assert not verdict.ok and any(f"#{chain[2].seq}" in p and "edited" in p for p in verdict.problems)


def test_a_deleted_entry_is_detected(chain):
    _raw("DELETE FROM compliance_auditlogentry WHERE seq = %s", (chain[2].seq,))
    verdict = audit_log_verify()
    assert not verdict.ok and any(f"#{chain[3].seq}" in p for p in verdict.problems)


def test_truncation_at_the_end_is_detected(chain):
    _raw("DELETE FROM compliance_auditlogentry WHERE seq = %s", (chain[-1].seq,))
    verdict = audit_log_verify()
    assert not verdict.ok and any("removed from the end" in p for p in verdict.problems)
