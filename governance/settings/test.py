"""Test settings: the real PostgreSQL and Redis; fast password hashing."""

from .base import *  # noqa: F401,F403
from .base import DATABASES, REST_FRAMEWORK

import os
import tempfile
from pathlib import Path

SECRET_KEY = os.environ.get("SECRET_KEY") or "test-only-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if os.environ.get("DATABASE_URL") is None:
    import dj_database_url

    DATABASES["default"] = dj_database_url.parse("postgres://postgres@127.0.0.1:5432/governance")
JOB_DISPATCH = os.environ.get("JOB_DISPATCH", "celery")
# APIClient sends JSON unless told otherwise (the API's bodies are JSON; uploads say format="multipart").
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": [], "TEST_REQUEST_DEFAULT_FORMAT": "json"}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Artifacts of a test run go to a fresh temporary folder (the e2e worker is handed the same path).
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT") or tempfile.mkdtemp(prefix="governance-test-artifacts-"))
