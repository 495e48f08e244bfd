"""A ≥ 200 MB CSV generated here goes through the real web process (gunicorn) in chunks, with one connection
dropped mid-chunk and resumed, and is loaded by the real worker process; the peak resident memory (VmHWM) of
each process stays below 500 MB, and the version holds every row with the file's SHA-256.

The figures (rows/s of the load, peak memory) are printed as a RESULT line; bench/ingest.py --upload measures
the same path for the README of bench/.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models_core.data.synthetic import write_large_csv
from tests.e2e.conftest import ROOT, _worker_env
from tests.e2e.worker_processes import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

TARGET_BYTES = int(os.environ.get("LARGE_UPLOAD_TEST_BYTES", 200 * 1024 * 1024))
PEAK_LIMIT_MB = 500
CHUNK = 8 * 1024 * 1024
def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def servers(settings, tmp_path):
    import redis

    settings.JOB_DISPATCH = "celery"
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    env = {"DATASET_UPLOAD_ROOT": str(tmp_path / "uploads"), "CELERY_TASK_TIME_LIMIT_S": "3000",
           "CELERY_TASK_SOFT_TIME_LIMIT_S": "2900", "CELERY_VISIBILITY_TIMEOUT_S": "3600"}
    worker = WorkerProcess(name=f"ingest-{os.getpid()}", queues="gpu,default", concurrency=1, log_dir=tmp_path,
                           artifact_root=settings.ARTIFACT_ROOT, extra_env=env)
    port = _free_port()
    web_log = open(tmp_path / "web.log", "w")
    web = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "governance.wsgi", "-b", f"127.0.0.1:{port}",
                            "-w", "1", "--timeout", "600"], cwd=ROOT, stdout=web_log, stderr=subprocess.STDOUT,
                           env={**_worker_env("default", settings.ARTIFACT_ROOT), **env})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield {"port": port, "web": web, "worker": worker}
    web.terminate()
    web.wait(timeout=30)
    web_log.close()
    worker.close()


def _request(port: int, token: str, method: str, path: str, body=None, content_type="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
        if isinstance(body, dict):
            body = json.dumps(body).encode()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data or b"{}")


def _dropped_chunk(port: int, token: str, upload_id: int, offset: int, payload: bytes, cut: int) -> None:
    """Send a chunk's headers and only `cut` bytes of it, then close the connection (a dropped link)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /api/dataset-uploads/{upload_id}/chunks/?offset={offset} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n").encode()
    sock.sendall(head + payload[:cut])
    sock.shutdown(socket.SHUT_WR)
    time.sleep(1.0)
    sock.close()


def test_a_200_mb_csv_streams_through_web_and_worker_under_500_mb_each(servers, tmp_path):
    from rest_framework.authtoken.models import Token

    from governance.datasets.models import DatasetRecord, DatasetUpload
    from governance.jobs.models import Job
    from tests.factories import make_user

    path = tmp_path / "large.csv"
    rows = write_large_csv(path, TARGET_BYTES)
    size = path.stat().st_size
    assert size >= TARGET_BYTES
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    engineer = make_user()
    token = Token.objects.create(user=engineer).key
    port = servers["port"]
    worker_pids = [servers["worker"].pid, *children(servers["worker"].pid)]
    baseline = {"web": max(peak_rss_mb(p) for p in [servers["web"].pid, *children(servers["web"].pid)]),
                "worker": max(peak_rss_mb(p) for p in worker_pids)}
    status, body = _request(port, token, "POST", "/api/dataset-uploads/", {
        "name": "large", "file_name": "large.csv", "size": size, "text_column": "text", "label_column": "hired",
        "subject_column": "subject_id", "sensitive_attributes": "gender,age_band"})
    assert status == 201, body
    upload_id, offset, dropped = body["id"], 0, False
    sent_at = time.perf_counter()
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            payload = fh.read(CHUNK)
            if not dropped and offset >= size // 3:  # the link drops a third of the way in
                _dropped_chunk(port, token, upload_id, offset, payload, cut=len(payload) // 3)
                dropped = True
                status, body = _request(port, token, "GET", f"/api/dataset-uploads/{upload_id}/")
                assert status == 200 and body["offset"] >= offset  # what arrived is kept: resume from there
                offset = body["offset"]
                continue
            status, body = _request(port, token, "POST", f"/api/dataset-uploads/{upload_id}/chunks/?offset={offset}",
                                    payload, content_type="application/octet-stream")
            assert status in (200, 409), body
            offset = body["offset"]
    sent_s = time.perf_counter() - sent_at
    deadline = time.time() + 1800
    while time.time() < deadline:
        upload = DatasetUpload.objects.get(pk=upload_id)
        if upload.status in ("complete", "failed"):
            break
        time.sleep(0.5)
    from django.utils import timezone

    committed_at = timezone.now()  # the load is visible: committed, deferred foreign-key checks included
    assert upload.status == "complete", (upload.error, servers["worker"].log()[-3000:])
    job = Job.objects.get(kind="dataset_ingest", subject_id=upload_id)
    load_s = (committed_at - job.started_at).total_seconds()
    version = upload.version
    assert version.row_count == rows and version.sha256 == sha.hexdigest()
    assert DatasetRecord.objects.filter(version=version).count() == rows
    from django.conf import settings

    if rows > settings.DATASET_AUTO_ANALYSIS_MAX_ROWS:  # no datasheet would fit: none is queued automatically
        assert not Job.objects.filter(kind="datasheet", subject_id=version.pk).exists()
    web_peak = max(peak_rss_mb(p) for p in [servers["web"].pid, *children(servers["web"].pid)])
    worker_pid = servers["worker"].pid
    worker_peak = max(peak_rss_mb(p) for p in [worker_pid, *children(worker_pid)])
    print(f"\nRESULT large_upload bytes={size} rows={rows} upload_s={sent_s:.1f} load_s={load_s:.1f} "
          f"rows_per_s={rows / load_s:.0f} web_peak_mb={web_peak:.0f} worker_peak_mb={worker_peak:.0f} "
          f"(before the upload: web {baseline['web']:.0f}, worker {baseline['worker']:.0f})")
    assert web_peak < PEAK_LIMIT_MB and worker_peak < PEAK_LIMIT_MB
