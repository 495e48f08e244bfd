from __future__ import annotations

import io
import os

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


# --- The application runs as its least-privilege database role (issue 15) -----------------------------------
# pytest-django creates and migrates the test database as the owner (DATABASE_URL's user, `postgres` in
# `make test`); then `manage.py db_roles` creates the application role `<test db>_app` and every connection the
# tests and the e2e workers open (their DATABASE_URL comes from this connection's settings) logs in as it.
# Tests that must act as the owner (migrations, the owner's attacks) say so: `owner_sql`, `as_owner`.
# Flushing after a transactional test is the owner's too (TRUNCATE, which the app role may not, with the
# log's triggers off for that one statement: session_replication_role needs a superuser, which tests have).
DB_OWNER: dict = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    import secrets

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    role, password = f"{connection.settings_dict['NAME']}_app"[:63], secrets.token_hex(16)
    with django_db_blocker.unblock():
        os.environ["GOVERNANCE_TEST_APP_ROLE_PASSWORD"] = password
        call_command("db_roles", app_role=role, password_env="GOVERNANCE_TEST_APP_ROLE_PASSWORD", stdout=io.StringIO())
        connection.close()
    DB_OWNER.update({k: connection.settings_dict[k] for k in ("USER", "PASSWORD", "HOST", "PORT", "NAME")})
    for target in {id(d): d for d in (connection.settings_dict, settings.DATABASES["default"])}.values():
        target.update(USER=role, PASSWORD=password)
    _flush_as_owner()
    yield
    with django_db_blocker.unblock():
        connection.close()
    for target in {id(d): d for d in (connection.settings_dict, settings.DATABASES["default"])}.values():
        target.update(USER=DB_OWNER["USER"], PASSWORD=DB_OWNER["PASSWORD"])


def owner_connect(*, autocommit: bool = False):
    """A new psycopg connection to the test database as the owner of its tables."""
    import psycopg

    return psycopg.connect(host=DB_OWNER["HOST"] or None, port=DB_OWNER["PORT"] or None, dbname=DB_OWNER["NAME"],
                           user=DB_OWNER["USER"], password=DB_OWNER["PASSWORD"] or None, autocommit=autocommit)


def app_role_connect(*, autocommit: bool = False):
    """A new psycopg connection to the test database as the application's role (what the tests run as)."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or None, dbname=db["NAME"], user=db["USER"],
                           password=db["PASSWORD"] or None, autocommit=autocommit)


def _flush_as_owner() -> None:
    from django.db.backends.postgresql.operations import DatabaseOperations

    def execute_sql_flush(self, sql_list):
        with owner_connect() as owner:  # commits on leaving
            owner.execute("SET LOCAL session_replication_role = replica")
            for sql in sql_list:
                owner.execute(sql)

    DatabaseOperations.execute_sql_flush = execute_sql_flush


def owner_execute(sql: str, params=(), *, triggers: bool = True):
    """Run one statement as the tables' owner in its own committed transaction (triggers=False: with the log's
    triggers off, as a superuser can); returns its rows. Sees committed rows only: use a transactional test."""
    with owner_connect() as owner:
        if not triggers:
            owner.execute("SET LOCAL session_replication_role = replica")
        cursor = owner.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def owner_sql(transactional_db):
    """owner_execute, in a transactional test."""
    return owner_execute


@pytest.fixture
def as_owner(transactional_db):
    """Django's connection logs in as the owner for this test (migration tests)."""
    from django.db import connection

    saved = {k: connection.settings_dict[k] for k in ("USER", "PASSWORD")}
    connection.close()
    connection.settings_dict.update(USER=DB_OWNER["USER"], PASSWORD=DB_OWNER["PASSWORD"])
    yield
    connection.close()
    connection.settings_dict.update(saved)
