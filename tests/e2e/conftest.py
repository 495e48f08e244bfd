"""A real `celery -A workers worker` process on Redis, pointed at the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _worker_env(queues: str, artifact_root: Path) -> dict:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    # The application's role and its password (tests/conftest.py django_db_setup), as in production.
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "governance.settings.test", "DATABASE_URL": url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "ARTIFACT_ROOT": str(artifact_root),
            "JOB_DISPATCH": "celery", "PYTHONUNBUFFERED": "1",
            # The test's own checkpoint folder: a worker reading another run's checkpoints would refuse to sign.
            "AUDIT_CHECKPOINT_DIR": str(settings.AUDIT_CHECKPOINT_DIR),
            # The tests' webhook receivers listen on loopback, which webhooks reach only when allow-listed.
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}


@pytest.fixture
def celery_worker_process(transactional_db, settings, tmp_path):
    """Start a worker consuming both queues; yield it; stop it (warm shutdown, then kill)."""
    import redis

    settings.JOB_DISPATCH = "celery"
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "workers", "worker", "-Q", "gpu,default", "-c", "1",
         "--prefetch-multiplier", "1", "-l", "INFO", "-n", f"e2e-{os.getpid()}@%h", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=_worker_env("gpu,default", settings.ARTIFACT_ROOT), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline and "ready." not in (tmp_path / "worker.log").read_text():
        if proc.poll() is not None:
            raise RuntimeError("worker exited:\n" + (tmp_path / "worker.log").read_text())
        time.sleep(0.5)
    proc.log_path = tmp_path / "worker.log"
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, *, timeout: float, what: str, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    tail = proc.log_path.read_text()[-3000:] if proc is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")
