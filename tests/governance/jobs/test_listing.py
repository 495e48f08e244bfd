"""Webhook deliveries run as jobs (kind registered unlisted): they stay off the home page's job lists and
off the jobs API for everyone but administrators, so an outage of a receiver does not push audit and
training failures off the "recent failures" list or show receiver errors to every reader."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance import roles
from governance.jobs.models import JobStatus
from governance.jobs.services import job_create
from governance.jobs.selectors import job_list, job_list_active, job_list_recent_failed
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _jobs():
    user = make_user()
    audit_job = job_create(kind="audit", subject=user, created_by=user)
    webhook_job = job_create(kind="webhook", subject=user, created_by=user)
    return user, audit_job, webhook_job


def test_webhook_jobs_stay_off_the_home_lists_and_the_readers_job_list():
    _, audit_job, webhook_job = _jobs()
    assert [j.pk for j in job_list_active(user=None)] == [audit_job.pk]
    type(webhook_job).objects.filter(pk__in=[audit_job.pk, webhook_job.pk]).update(status=JobStatus.FAILED)
    assert [j.pk for j in job_list_recent_failed(user=None)] == [audit_job.pk]
    assert [j.pk for j in job_list(user=None)] == [audit_job.pk]
    assert {j.pk for j in job_list(user=None, include_unlisted=True)} == {audit_job.pk, webhook_job.pk}


def test_the_jobs_api_shows_webhook_jobs_to_administrators_only(api_client):
    _, audit_job, webhook_job = _jobs()
    reader = make_user(roles.AUDITOR)
    api_client.force_authenticate(reader)
    ids = [row["id"] for row in api_client.get(reverse("api-jobs")).json()["results"]]
    assert ids == [audit_job.pk]
    api_client.force_authenticate(make_user(roles.ADMIN))
    ids = {row["id"] for row in api_client.get(reverse("api-jobs")).json()["results"]}
    assert ids == {audit_job.pk, webhook_job.pk}
