from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(settings, tmp_path):
    """Files a test writes outside the database go to its own folder: signed audit-log checkpoints (every
    export writes one) would otherwise outlive the rolled-back rows they sign and fail later verifications,
    the verifier reading every checkpoint file of AUDIT_CHECKPOINT_DIR. (tests/models_core overrides this.)"""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"


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
    from governance.roles import REVIEWER
    from tests.factories import make_user

    return make_user(REVIEWER)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()
