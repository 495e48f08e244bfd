"""The audit log, data subject requests and retention runs lists: pages, filters, ordering both ways, 400 on
bad filters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from governance.roles import AUDITOR, COMPLIANCE_OFFICER, ML_ENGINEER
from governance.compliance.models import RetentionRun, SubjectRequest
from governance.compliance.retention import retention_purge
from governance.compliance.services import audit_log_append, audit_log_checkpoint_write
from governance.compliance.subject_requests import subject_request_register
from tests.factories import make_user
from tests.governance.api_lists import assert_orders, assert_paginates, assert_refuses, ids, instant, listed

pytestmark = pytest.mark.django_db

LOG, CHECKPOINTS, SUBJECT_REQUESTS = "/api/audit-log/", "/api/audit-log/checkpoints/", "/api/compliance/requests/"
RETENTION_RUNS = "/api/compliance/retention-runs/"


@pytest.fixture
def officer(db):
    return make_user(COMPLIANCE_OFFICER, username="cora")


def test_the_audit_log_list_pages_filters_and_orders(api_client, engineer, officer):
    api_client.force_authenticate(make_user(AUDITOR))  # first: creating a user is logged too
    first = audit_log_append(actor=engineer, action="lists.tested", object_type="tests.thing", object_id="1")
    between = timezone.now()
    second = audit_log_append(actor=officer, action="lists.tested", object_type="tests.thing", object_id="2")
    third = audit_log_append(actor=officer, action="lists.checked", object_type="tests.other", object_id="1")
    seqs = [e.seq for e in (first, second, third)]
    assert_paginates(api_client, LOG, "seq")
    assert ids(api_client, LOG, "seq")[:3] == seqs[::-1]  # latest first
    assert ids(api_client, LOG, "seq", action="lists.tested") == [second.seq, first.seq]
    assert ids(api_client, LOG, "seq", object_type="tests.thing", object_id="1") == [first.seq]
    assert ids(api_client, LOG, "seq", actor="cora", object_type="tests.other") == [third.seq]
    assert ids(api_client, LOG, "seq", action="lists.tested", created_after=instant(between)) == [second.seq]
    assert ids(api_client, LOG, "seq", action="lists.tested", created_before=instant(between)) == [first.seq]
    assert_orders(api_client, LOG, "seq", key="seq")
    assert_orders(api_client, LOG, "created_at", key="seq")
    assert ids(api_client, LOG, "seq", ordering="seq")[-3:] == seqs
    assert_refuses(api_client, LOG, action="a" * 81, object_id="9" * 65, created_after="then", ordering="hash",
                   page_size="1.5")


@pytest.fixture
def subject_requests(officer):
    today = timezone.localdate()
    made = {key: subject_request_register(actor=officer, kind=kind, subject_id=subject, received_on=received)
            for key, kind, subject, received in (
                ("old_access", "access", "S000001", today - timedelta(days=20)),
                ("erasure", "erasure", "S000002", today - timedelta(days=10)),
                ("new_access", "access", "S000002", today))}
    SubjectRequest.objects.filter(pk=made["old_access"].pk).update(status="answered")
    # An erasure blanks the identifier on every request about the subject, leaving the hash.
    SubjectRequest.objects.filter(subject_id="S000002").update(subject_id="")
    return {"today": today, **{key: r.pk for key, r in made.items()}}


def test_the_subject_requests_list_pages_filters_and_orders(api_client, officer, subject_requests):
    r, today = subject_requests, subject_requests["today"]
    api_client.force_authenticate(make_user(AUDITOR))  # auditors read the requests too
    assert_paginates(api_client, SUBJECT_REQUESTS)
    assert ids(api_client, SUBJECT_REQUESTS) == [r["new_access"], r["erasure"], r["old_access"]]
    assert ids(api_client, SUBJECT_REQUESTS, kind="erasure") == [r["erasure"]]
    assert ids(api_client, SUBJECT_REQUESTS, status="open") == [r["new_access"], r["erasure"]]
    assert ids(api_client, SUBJECT_REQUESTS, subject=" S000002 ") == [r["new_access"], r["erasure"]]
    assert ids(api_client, SUBJECT_REQUESTS, subject="S000009") == []
    reference = SubjectRequest.objects.get(pk=r["erasure"]).reference
    assert ids(api_client, SUBJECT_REQUESTS, q=reference[-6:].lower()) == [r["erasure"]]
    assert ids(api_client, SUBJECT_REQUESTS, received_after=(today - timedelta(days=10)).isoformat()) \
        == [r["new_access"], r["erasure"]]
    assert ids(api_client, SUBJECT_REQUESTS, received_before=(today - timedelta(days=10)).isoformat()) \
        == [r["old_access"]]
    assert_orders(api_client, SUBJECT_REQUESTS, "received_on")
    assert_orders(api_client, SUBJECT_REQUESTS, "created_at")
    assert ids(api_client, SUBJECT_REQUESTS, ordering="received_on") == [r["old_access"], r["erasure"],
                                                                           r["new_access"]]
    assert_refuses(api_client, SUBJECT_REQUESTS, kind="rectification", status="closed", received_after="2026-02-30",
                   received_before="today", ordering="subject_id", subject="s" * 201)


def test_an_engineer_cannot_list_subject_requests_whatever_the_filters(api_client, subject_requests):
    api_client.force_authenticate(make_user(ML_ENGINEER))
    assert api_client.get(SUBJECT_REQUESTS, {"subject": "S000002"}).status_code == 403


def test_the_retention_runs_list_pages_filters_and_orders(api_client, officer):
    now = timezone.now()
    runs = [retention_purge(actor=officer), retention_purge(), retention_purge(actor=officer)]
    for days, removed, run in zip((3, 2, 1), (5, 0, 12), runs):
        RetentionRun.objects.filter(pk=run.pk).update(started_at=now - timedelta(days=days), records_removed=removed)
    api_client.force_authenticate(officer)
    by_cora, scheduled, latest = (run.pk for run in runs)
    assert_paginates(api_client, RETENTION_RUNS)
    assert ids(api_client, RETENTION_RUNS) == [latest, scheduled, by_cora]
    assert ids(api_client, RETENTION_RUNS, triggered_by="schedule") == [scheduled]
    assert ids(api_client, RETENTION_RUNS, triggered_by="cora") == [latest, by_cora]
    assert ids(api_client, RETENTION_RUNS, started_after=instant(now - timedelta(days=2, hours=1))) \
        == [latest, scheduled]
    assert ids(api_client, RETENTION_RUNS, started_before=instant(now - timedelta(days=2, hours=1))) == [by_cora]
    assert_orders(api_client, RETENTION_RUNS, "started_at")
    assert_orders(api_client, RETENTION_RUNS, "records_removed")
    assert ids(api_client, RETENTION_RUNS, ordering="-records_removed") == [latest, by_cora, scheduled]
    assert_refuses(api_client, RETENTION_RUNS, started_after=date.today().strftime("%d.%m.%Y"),
                   ordering="removed", triggered_by="t" * 151)


def test_the_checkpoints_list_pages_filters_and_orders(api_client, officer):
    before = timezone.now()
    signed = [audit_log_checkpoint_write(officer), audit_log_checkpoint_write(officer, reason="export")]
    between = timezone.now()
    signed.append(audit_log_checkpoint_write(make_user(COMPLIANCE_OFFICER, username="finn")))
    api_client.force_authenticate(officer)
    assert_paginates(api_client, CHECKPOINTS, "seq")
    body = listed(api_client, CHECKPOINTS)
    assert body["count"] == 3 and body["results"][0] == signed[-1]  # latest first, as signed
    assert ids(api_client, CHECKPOINTS, "seq", reason="export") == [signed[1]["seq"]]
    assert ids(api_client, CHECKPOINTS, "created_by", created_by="finn") == ["finn"]
    assert ids(api_client, CHECKPOINTS, "seq", created_after=instant(between)) == [signed[2]["seq"]]
    assert ids(api_client, CHECKPOINTS, "seq", created_before=instant(between),
               created_after=instant(before)) == [signed[1]["seq"], signed[0]["seq"]]
    assert_orders(api_client, CHECKPOINTS, "seq", key="seq")
    assert_orders(api_client, CHECKPOINTS, "created_at", key="seq")
    assert_refuses(api_client, CHECKPOINTS, reason="r" * 21, ordering="signature", created_before="noon")
