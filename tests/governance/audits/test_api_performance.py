"""GET /api/audits/ reads plain rows (audits.selectors.audit_rows) and renders them as AuditOutput renders audits:
the same output, pages and counts, a fixed number of queries whatever the page holds. No training: complete audits are
stored as the worker stores them (tests/governance/approvals/evidence.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from governance.roles import ML_ENGINEER
from governance.audits import selectors
from governance.audits.api import AuditOutput, audit_rows_output
from governance.audits.models import Audit, AuditStatus
from governance.audits.services import audit_request
from tests.factories import make_user
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

AUDITS = "/api/audits/"


@pytest.fixture
def audits(engineer):
    """Complete, failed and queued audits (no start or finish time), of two models, by two requesters."""
    a1 = ready_version(engineer)
    a2 = next_version(a1)
    rows = [completed_audit(a1), completed_audit(a2, finished_days_ago=3)]
    Audit.objects.filter(pk=rows[1].pk).update(status=AuditStatus.FAILED, error="out of memory")
    rows.append(audit_request(actor=make_user(ML_ENGINEER, username="olga"), model_version=a1,
                              dataset_version=a1.dataset_version,
                              overlap_justification="re-run on its own training rows for the list"))
    return rows


def test_the_list_renders_each_audit_as_its_output_serializer_does(api_client, engineer, audits):
    api_client.force_authenticate(engineer)
    listed = api_client.get(AUDITS).json()["results"]
    expected = AuditOutput(selectors.audit_list(user=None), many=True).data
    assert listed == [dict(row) for row in expected]
    assert [list(row) for row in listed] == [list(row) for row in expected]  # the keys in the same order
    assert {row["status"] for row in listed} == {"complete", "failed", "queued"}
    assert any(row["started_at"] is None and row["finished_at"] is None for row in listed)
    failed = selectors.audit_list(user=None, filters={"status": "failed"})
    assert audit_rows_output(selectors.audit_rows(failed)) == [dict(row) for row in AuditOutput(failed, many=True).data]


def test_pages_count_the_audits_and_hold_their_rows(api_client, engineer, audits):
    api_client.force_authenticate(engineer)
    first = api_client.get(AUDITS, {"page_size": 2}).json()
    second = api_client.get(AUDITS, {"page_size": 2, "page": 2}).json()
    assert first["count"] == second["count"] == 3 and first["next"] and second["previous"]
    assert [row["id"] for row in first["results"] + second["results"]] == [a.pk for a in selectors.audit_list(user=None)]
    assert api_client.get(AUDITS, {"q": "olga"}).json()["count"] == 1
    assert api_client.get(AUDITS, {"page": 3, "page_size": 2}).status_code == 404


def test_the_list_reads_a_fixed_number_of_queries_whatever_the_page_holds(api_client, engineer, audits):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=engineer).key}")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api_client.get(AUDITS).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for _ in range(5):
        completed_audit(ready_version(engineer))
    # the token with its user, the user's roles (groups, then project memberships), the count, the page
    assert queries() == few <= 5
