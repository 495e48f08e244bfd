from __future__ import annotations

import pytest


@pytest.fixture
def inline_jobs(settings, django_capture_on_commit_callbacks):
    """`with inline_jobs(): ...` runs the jobs enqueued inside it in this thread as the block ends."""
    settings.JOB_DISPATCH = "inline"
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def engineer(db):
    from tests.factories import make_user

    return make_user()


@pytest.fixture
def reviewer(db):
    from governance.accounts.roles import REVIEWER
    from tests.factories import make_user

    return make_user(REVIEWER)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
