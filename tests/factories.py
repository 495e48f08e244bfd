"""Builders for test data, through the services (never by writing rows behind their back)."""

from __future__ import annotations

import itertools

from django.contrib.auth.models import User

from governance import roles
from governance.accounts.models import Project
from governance.accounts.projects import project_default
from governance.accounts.services import user_create
from governance.datasets.services import dataset_upload
from models_core.data.synthetic import SyntheticSpec, hiring_csv

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"
# Roles a factory user holds in a project (the default one unless a test names another); the others
# (compliance officer, auditor, admin) are organisation-wide, as the projects migration leaves them.
MEMBER_ROLES = (roles.ML_ENGINEER, roles.REVIEWER)


def make_user(role: str = roles.ML_ENGINEER, username: str | None = None, *, project: Project | None = None) -> User:
    """A user holding `role`: within `project` (default: the default project) for an engineer or a reviewer,
    or when a project is named; organisation-wide otherwise."""
    username = username or f"{role}-{next(_counter)}"
    if role in MEMBER_ROLES or (project is not None and role in roles.PROJECT_ROLES):
        return user_create(username=username, password=PASSWORD, roles=[],
                           memberships=[(project or project_default(), role)])
    return user_create(username=username, password=PASSWORD, roles=[role])


def make_project(name: str) -> Project:
    from governance.accounts.projects import project_create

    return project_create(actor=None, name=name)


def hiring_bytes(n_rows: int = 240, seed: int = 7) -> bytes:
    return hiring_csv(SyntheticSpec(n_rows=n_rows, seed=seed)).encode()


def upload_hiring(actor: User, *, n_rows: int = 240, seed: int = 7, name: str | None = None, **metadata):
    return dataset_upload(actor=actor, name=name or f"hiring-{next(_counter)}", raw=hiring_bytes(n_rows, seed),
                          file_name="hiring.csv", text_column="text", label_column="hired",
                          subject_column="subject_id", sensitive_attributes=["gender", "age_band"], **metadata)
