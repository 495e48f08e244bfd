"""Test settings: the real PostgreSQL and Redis; fast password hashing."""

from .base import *  # noqa: F401,F403
from .base import DATABASES, REST_FRAMEWORK

import os
import tempfile
from pathlib import Path

SECRET_KEY = os.environ.get("SECRET_KEY") or "test-only-key"
# A fixed dev value, the same for the e2e workers this process starts (not SECRET_KEY: governance/keys.py).
COMPLIANCE_SUBJECT_SALT = os.environ.get("COMPLIANCE_SUBJECT_SALT") or "test-only-compliance-subject-salt-0123456789"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if os.environ.get("DATABASE_URL") is None:
    import dj_database_url

    DATABASES["default"] = dj_database_url.parse("postgres://postgres@127.0.0.1:5432/governance")
JOB_DISPATCH = os.environ.get("JOB_DISPATCH", "celery")
# APIClient sends JSON unless told otherwise (the API's bodies are JSON; uploads say format="multipart").
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": [], "TEST_REQUEST_DEFAULT_FORMAT": "json"}
# Every test logs in from 127.0.0.1 into one process's cache: the per-address log-in rate is tested on its own.
LOGIN_RATE_PER_ADDRESS = "10000/min"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Artifacts of a test run go to a fresh temporary folder (the e2e worker is handed the same path).
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT") or tempfile.mkdtemp(prefix="governance-test-artifacts-"))
# So do signed checkpoints (tests/conftest.py gives each test its own; a process started without one, such as
# a worker or a management command, never writes into var/, where the demo's log would meet them).
AUDIT_CHECKPOINT_DIR = Path(os.environ.get("AUDIT_CHECKPOINT_DIR")
                            or tempfile.mkdtemp(prefix="governance-test-checkpoints-"))
# django-axes counts failed log-ins in the default cache, here per-process local memory: right for one test
# process (production shares Redis, where the check is silent).
SILENCED_SYSTEM_CHECKS = ["axes.W001"]
