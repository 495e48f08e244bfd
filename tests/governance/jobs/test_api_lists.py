"""The jobs list: pages, filters (the existing ones and the created range), ordering both ways, 400 on bad
filters. Job states are set on the rows as the workers leave them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.jobs.models import Job, JobStatus
from governance.jobs.services import job_create
from tests.factories import make_user
from tests.governance.api_lists import (assert_orders, assert_paginates, assert_refuses, ids, instant)

pytestmark = pytest.mark.django_db

JOBS = "/api/jobs/"


@pytest.fixture
def jobs(api_client, engineer):
    now = timezone.now()
    other = make_user()
    rows = {}
    for key, kind, subject, status, attempts, days in (
            ("done", "datasheet", engineer, JobStatus.COMPLETE, 1, 3),
            ("failed", "audit", other, JobStatus.FAILED, 3, 2),
            ("queued", "datasheet", other, JobStatus.QUEUED, 0, 1),
            ("running", "training", other, JobStatus.RUNNING, 2, 0)):
        job = job_create(kind=kind, subject=subject, created_by=engineer)
        started = None if status == JobStatus.QUEUED else now - timedelta(days=days, minutes=-1)
        finished = now - timedelta(days=days, minutes=-5) if status in (JobStatus.COMPLETE, JobStatus.FAILED) else None
        Job.objects.filter(pk=job.pk).update(status=status, attempts=attempts, created_at=now - timedelta(days=days),
                                             started_at=started, finished_at=finished)
        rows[key] = job.pk
    api_client.force_authenticate(engineer)
    return {"now": now, "other": other, **rows}


def test_the_jobs_list_pages_filters_and_orders(api_client, jobs):
    j, now = jobs, jobs["now"]
    assert_paginates(api_client, JOBS)
    assert ids(api_client, JOBS) == [j["running"], j["queued"], j["failed"], j["done"]]  # newest first
    assert ids(api_client, JOBS, kind="datasheet") == [j["queued"], j["done"]]
    assert ids(api_client, JOBS, status="failed") == [j["failed"]]
    assert ids(api_client, JOBS, subject_type="auth.user", subject_id=jobs["other"].pk) \
        == [j["running"], j["queued"], j["failed"]]
    assert ids(api_client, JOBS, min_attempts=2) == [j["running"], j["failed"]]
    assert ids(api_client, JOBS, created_after=instant(now - timedelta(days=1, hours=1))) == [j["running"], j["queued"]]
    assert ids(api_client, JOBS, created_before=instant(now - timedelta(days=2, hours=1))) == [j["done"]]
    assert_orders(api_client, JOBS, "created_at")
    assert_orders(api_client, JOBS, "attempts")
    assert ids(api_client, JOBS, ordering="started_at")[-1] == j["queued"]  # never started: last both ways
    assert ids(api_client, JOBS, ordering="-started_at")[-1] == j["queued"]
    assert ids(api_client, JOBS, ordering="finished_at")[:2] == [j["done"], j["failed"]]
    assert ids(api_client, JOBS, ordering="-finished_at")[:2] == [j["failed"], j["done"]]


def test_bad_job_filters_are_400_naming_the_field(api_client, jobs):
    assert_refuses(api_client, JOBS, status="lost", subject_id="abc", min_attempts="-1", kind="k" * 41,
                   created_after="2026-01-01T25:00", ordering="stage", page_size="0")
