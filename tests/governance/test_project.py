"""Project-wide properties: the OpenAPI schema, production settings, the layers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_openapi_schema_lists_the_api(api_client, engineer):
    api_client.force_authenticate(engineer)
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/datasets/", "/api/model-versions/", "/api/audits/", "/api/deployment-requests/",
                 "/api/deployment-requests/{id}/approve/", "/api/audit-log/verify/"):
        assert path in paths


def _clean_env() -> dict:
    # The browser tests allow sync ORM calls beside Playwright's loop; a deployment never does.
    return {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}


def test_production_settings_pass_check_deploy():
    env = {**_clean_env(), "DJANGO_SETTINGS_MODULE": "governance.settings.production", "SECRET_KEY": "x" * 64 + "Yz9!",
           "AUDIT_SIGNING_KEY": "ab" * 32, "COMPLIANCE_SUBJECT_SALT": "cd" * 32,
           "ALLOWED_HOSTS": "governance.example.com", "DATABASE_URL": "sqlite:///:memory:"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_a_missing_secret_key():
    env = {**_clean_env(), "DJANGO_SETTINGS_MODULE": "governance.settings.production", "SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_the_audit_signing_key():
    """Issue 15: no machine may generate its own audit-log key in production."""
    for key in ("", "not-hex", "ab" * 31):
        env = {**_clean_env(), "DJANGO_SETTINGS_MODULE": "governance.settings.production", "SECRET_KEY": "x" * 64,
               "AUDIT_SIGNING_KEY": key}
        result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                                text=True)
        assert result.returncode != 0 and "AUDIT_SIGNING_KEY must be set in production" in result.stderr


def test_production_refuses_to_start_without_its_own_compliance_subject_salt():
    """Issue 17: subject hashes are keyed with COMPLIANCE_SUBJECT_SALT from the secret store, never SECRET_KEY."""
    secret = "x" * 64
    for salt in ("", "too-short", secret):
        env = {**_clean_env(), "DJANGO_SETTINGS_MODULE": "governance.settings.production", "SECRET_KEY": secret,
               "AUDIT_SIGNING_KEY": "ab" * 32, "COMPLIANCE_SUBJECT_SALT": salt}
        result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                                text=True)
        assert result.returncode != 0 and "COMPLIANCE_SUBJECT_SALT must be set in production" in result.stderr


def test_rotating_the_secret_key_leaves_subject_hashes_unchanged(settings):
    from governance.compliance.subjects import salt_fingerprint, subject_hash
    from governance.keys import text_digest

    before = subject_hash("S-000123"), salt_fingerprint(), text_digest("a reason")
    settings.SECRET_KEY = "rotated-" + "z" * 60
    assert (subject_hash("S-000123"), salt_fingerprint(), text_digest("a reason")) == before
    settings.COMPLIANCE_SUBJECT_SALT = "another-salt-" + "q" * 40
    assert subject_hash("S-000123") != before[0]  # the salt, and only the salt, keys it


def test_without_a_configured_salt_development_generates_one_file_and_keeps_it(settings, tmp_path):
    from governance.compliance.subjects import subject_hash

    settings.COMPLIANCE_SUBJECT_SALT = ""
    settings.COMPLIANCE_SUBJECT_SALT_FILE = tmp_path / "keys" / "compliance-subject-salt"
    first = subject_hash("S1")
    stored = settings.COMPLIANCE_SUBJECT_SALT_FILE.read_text()
    assert len(stored) == 64 and (settings.COMPLIANCE_SUBJECT_SALT_FILE.stat().st_mode & 0o777) == 0o600
    settings.SECRET_KEY = "rotated-" + "z" * 60
    assert subject_hash("S1") == first and settings.COMPLIANCE_SUBJECT_SALT_FILE.read_text() == stored
    settings.COMPLIANCE_SUBJECT_SALT_FILE = None
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        subject_hash("S1")


def test_models_core_does_not_import_django():
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout
