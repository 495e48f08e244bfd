"""The embedded default (SQLite, `make demo`) serves every page and API GET without a server error: the suite
itself runs on PostgreSQL, so a PostgreSQL-only query would otherwise reach the demo unseen."""

from __future__ import annotations

import os
import subprocess  # nosec B404
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_page_and_api_list_answers_on_the_demo_s_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "governance.settings.demo", "JOB_DISPATCH": "inline",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "TQDM_DISABLE": "1",
                # Its files stay in the test's folder: checkpoints it signs in var/ would not match the demo's log.
                "AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "ARTIFACT_ROOT": str(tmp_path / "artifacts")})
    result = subprocess.run([sys.executable, "-m", "tests.governance.demo_smoke"], cwd=ROOT, env=env,  # nosec B603
                            capture_output=True, text=True, timeout=600)
    last = (result.stdout.strip().splitlines() or [""])[-1]
    assert result.returncode == 0 and last.startswith("SMOKE ok"), result.stdout[-4000:] + result.stderr[-4000:]
