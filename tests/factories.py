"""Builders for test data, through the services (never by writing rows behind their back)."""

from __future__ import annotations

import itertools

from django.contrib.auth.models import User

from governance import roles
from governance.accounts.services import user_create
from governance.datasets.services import dataset_upload
from models_core.synthetic import SyntheticSpec, hiring_csv

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_user(role: str = roles.ML_ENGINEER, username: str | None = None) -> User:
    return user_create(username=username or f"{role}-{next(_counter)}", password=PASSWORD, roles=[role])


def hiring_bytes(n_rows: int = 240, seed: int = 7) -> bytes:
    return hiring_csv(SyntheticSpec(n_rows=n_rows, seed=seed)).encode()


def upload_hiring(actor: User, *, n_rows: int = 240, seed: int = 7, name: str | None = None, **metadata):
    return dataset_upload(actor=actor, name=name or f"hiring-{next(_counter)}", raw=hiring_bytes(n_rows, seed),
                          file_name="hiring.csv", text_column="text", label_column="hired",
                          subject_column="subject_id", sensitive_attributes=["gender", "age_band"], **metadata)
