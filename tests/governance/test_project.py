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
           "AUDIT_SIGNING_KEY": "ab" * 32,
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


def test_models_core_does_not_import_django():
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout
