"""The audits and audit predictions lists: pages, filters, ordering both ways, 400 on bad filters. No training
or inference: complete audits are stored as the worker stores them (tests/governance/approvals/evidence.py),
queued ones come from the audit request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.roles import ML_ENGINEER
from governance.audits.models import Audit, AuditStatus, Prediction
from governance.audits.services import audit_request
from tests.factories import make_user, upload_hiring
from tests.governance.api_lists import (assert_orders, assert_paginates, assert_refuses, ids, instant, listed)
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

AUDITS = "/api/audits/"


@pytest.fixture
def audits(api_client, engineer):
    """Model a: v1 audited (complete, 3 days ago) and v2 audited (failed, 2 days ago); model b: v1 audited
    on other data (complete, a day ago) and requested again now (queued) by another engineer."""
    now = timezone.now()
    a1 = ready_version(engineer)
    a2 = next_version(a1)
    b1 = ready_version(engineer)
    holdout = upload_hiring(engineer, n_rows=30, name="holdout-set")
    rows = {"a1": completed_audit(a1), "a2": completed_audit(a2), "b1": completed_audit(b1)}
    Audit.objects.filter(pk=rows["b1"].pk).update(dataset_version=holdout)
    Audit.objects.filter(pk=rows["a2"].pk).update(status=AuditStatus.FAILED, error="out of memory")
    rows["queued"] = audit_request(actor=make_user(ML_ENGINEER, username="olga"), model_version=b1,
                                   dataset_version=b1.dataset_version,
                                   overlap_justification="re-run on its own training rows for the list")
    for days, key in ((3, "a1"), (2, "a2"), (1, "b1"), (0, "queued")):
        Audit.objects.filter(pk=rows[key].pk).update(created_at=now - timedelta(days=days))
    api_client.force_authenticate(engineer)
    return {"now": now, "a1": a1, "a2": a2, "b1": b1, "holdout": holdout, **{f"audit_{k}": v for k, v in rows.items()}}


def test_the_audits_list_pages(api_client, audits):
    assert_paginates(api_client, AUDITS)


def test_each_audit_filter_narrows_the_list(api_client, audits):
    a1, a2, b1, now = audits["audit_a1"], audits["audit_a2"], audits["audit_b1"], audits["now"]
    queued = audits["audit_queued"]
    assert ids(api_client, AUDITS) == [queued.pk, b1.pk, a2.pk, a1.pk]  # newest first
    assert ids(api_client, AUDITS, status="complete") == [b1.pk, a1.pk]
    assert ids(api_client, AUDITS, status="failed") == [a2.pk]
    assert ids(api_client, AUDITS, model=audits["a1"].model_id) == [a2.pk, a1.pk]
    assert ids(api_client, AUDITS, model_version=audits["a2"].pk) == [a2.pk]
    assert ids(api_client, AUDITS, dataset=audits["holdout"].dataset_id) == [b1.pk]
    assert ids(api_client, AUDITS, dataset_version=audits["b1"].dataset_version_id) == [queued.pk]
    assert ids(api_client, AUDITS, requested_by="olga") == [queued.pk]
    assert ids(api_client, AUDITS, q="olg") == [queued.pk]  # the requester
    assert ids(api_client, AUDITS, q="HOLDOUT") == [b1.pk]  # the dataset's name
    assert ids(api_client, AUDITS, q=f"#{a2.pk}") == [a2.pk]  # the audit number
    assert ids(api_client, AUDITS, q=audits["a1"].model.name) == [a2.pk, a1.pk]
    assert ids(api_client, AUDITS, created_after=instant(now - timedelta(days=1, hours=1))) == [queued.pk, b1.pk]
    assert ids(api_client, AUDITS, created_before=instant(now - timedelta(days=1, hours=1)),
               status="complete") == [a1.pk]


def test_the_audits_list_orders_both_ways(api_client, audits):
    assert_orders(api_client, AUDITS, "created_at")
    assert_orders(api_client, AUDITS, "status")
    assert_orders(api_client, AUDITS, "id")
    queued = audits["audit_queued"].pk
    assert ids(api_client, AUDITS, ordering="finished_at")[-1] == queued  # not finished: last both ways
    assert ids(api_client, AUDITS, ordering="-finished_at")[-1] == queued


def test_bad_audit_filters_are_400_naming_the_field(api_client, audits):
    assert_refuses(api_client, AUDITS, status="bogus", model="x", dataset="1e3", model_version="-4",
                   dataset_version="two", requested_by="u" * 151, created_after="last week",
                   ordering="model_name", q="q" * 201, page_size="-1")


def test_the_predictions_list_pages_filters_and_orders(api_client, audits):
    audit = audits["audit_a1"]
    Prediction.objects.bulk_create(
        Prediction(audit=audit, subject_id=f"S{i % 4:02d}", predicted_label="yes" if i % 3 else "no",
                   probabilities=[0.5, 0.5]) for i in range(12))
    Prediction.objects.create(audit=audits["audit_b1"], subject_id="S00", predicted_label="yes",
                              probabilities=[0.1, 0.9])
    url = f"{AUDITS}{audit.pk}/predictions/"
    assert_paginates(api_client, url)
    assert listed(api_client, url)["count"] == 12
    # A subject's decisions: the id in the POST body of search/, never in the URL (a GET with it is a 400).
    search = f"{url}search/"
    found = api_client.post(search, {"subject_id": "S01"}, format="json")
    assert found.status_code == 200 and [r["subject_id"] for r in found.json()["results"]] == ["S01"] * 3
    assert ids(api_client, url, "predicted_label", predicted_label="no") == ["no"] * 4
    both = api_client.post(search, {"subject_id": "S00", "predicted_label": "no"}, format="json").json()
    assert both["count"] == 1  # of i = 0, 4, 8 only 0 is "no"
    paged = api_client.post(f"{search}?page_size=2", {"subject_id": "S01"}, format="json").json()
    assert paged["count"] == 3 and len(paged["results"]) == 2 and paged["next"]
    refused = api_client.get(url, {"subject_id": "S01"})
    assert refused.status_code == 400 and "search/" in refused.json()["subject_id"][0]
    bad = api_client.post(search, {"subject_id": "s" * 201}, format="json")
    assert bad.status_code == 400 and "subject_id" in bad.json()
    assert_orders(api_client, url, "id")
    assert_orders(api_client, url, "subject_id")
    assert_orders(api_client, url, "predicted_label")
    assert_refuses(api_client, url, ordering="probabilities", subject_id="s" * 201)
