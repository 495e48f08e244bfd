"""Chunked, resumable dataset uploads (API and page) loaded by the ingest job: offsets, refusals, all or nothing.
(The 200 MB file with the web and worker processes' peak memory: tests/e2e/test_large_upload.py.)"""

from __future__ import annotations

import hashlib

import pytest

from governance.auditlog.models import AuditLogEntry
from governance.datasets.large_uploads import upload_file
from governance.datasets.models import Dataset, DatasetRecord, DatasetUpload, DatasetVersion
from governance.jobs.models import Job
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = pytest.mark.django_db(transaction=False)
START = "/api/dataset-uploads/"


@pytest.fixture(autouse=True)
def _upload_root(settings, tmp_path):
    settings.DATASET_UPLOAD_ROOT = tmp_path / "uploads"


def _start(client, raw: bytes, **fields):
    body = {"name": "big-notes", "file_name": "notes.csv", "size": len(raw), "text_column": "text",
            "label_column": "hired", "subject_column": "subject_id", "sensitive_attributes": "gender,age_band",
            "lawful_basis": "consent", "purposes": "Hiring", **fields}
    return client.post(START, body, format="json")


def _chunk(client, upload_id: int, offset: int, data: bytes):
    return client.generic("POST", f"{START}{upload_id}/chunks/?offset={offset}", data,
                          content_type="application/octet-stream")


def test_chunks_resume_from_the_stored_offset_and_the_job_loads_the_version(api_client, engineer, inline_jobs):
    raw = hiring_bytes(300)
    api_client.force_authenticate(engineer)
    started = _start(api_client, raw)
    assert started.status_code == 201, started.content
    upload_id = started.json()["id"]
    assert started.json()["offset"] == 0
    first = _chunk(api_client, upload_id, 0, raw[:10_000])
    assert first.status_code == 200 and first.json()["offset"] == 10_000
    # a client that lost the answer sends the same chunk again: 409 with where to resume
    again = _chunk(api_client, upload_id, 0, raw[:10_000])
    assert again.status_code == 409 and again.json()["offset"] == 10_000
    assert _chunk(api_client, upload_id, 10_000, raw[10_000:] + b"extra").status_code == 400  # past the size
    assert api_client.get(f"{START}{upload_id}/").json()["offset"] == 10_000
    with inline_jobs():
        done = _chunk(api_client, upload_id, 10_000, raw[10_000:])
    assert done.status_code == 200
    upload = DatasetUpload.objects.get(pk=upload_id)
    assert upload.status == "complete", upload.error
    version = upload.version
    assert version.sha256 == hashlib.sha256(raw).hexdigest() and version.row_count == 300
    assert version.label_names == ["no", "yes"] and version.positive_label == "yes"
    assert DatasetRecord.objects.filter(version=version).count() == 300
    assert version.dataset.lawful_basis == "consent" and version.dataset.project_id == upload.project_id
    assert Job.objects.get(kind="dataset_ingest", subject_id=upload.pk).status == "complete"
    assert Job.objects.filter(kind="datasheet", subject_id=version.pk).exists()
    actions = set(AuditLogEntry.objects.values_list("action", flat=True))
    assert {"dataset_upload.started", "dataset_upload.received", "dataset.created",
            "dataset_version.created"} <= actions
    assert not upload_file(upload).exists()  # the bytes are in the database now, not left on disk
    body = api_client.get(f"{START}{upload_id}/").json()
    assert body["version"] == version.pk and body["job"]["status"] == "complete"
    assert _chunk(api_client, upload_id, 300, b"x").status_code in (400, 409)  # closed


def test_a_bad_row_near_the_end_fails_the_upload_and_leaves_no_version(api_client, engineer, inline_jobs):
    raw = hiring_bytes(200) + b"S999999,,female,18-30,yes\n"  # an empty text on the last row
    api_client.force_authenticate(engineer)
    upload_id = _start(api_client, raw).json()["id"]
    with inline_jobs():
        assert _chunk(api_client, upload_id, 0, raw).status_code == 200
    upload = DatasetUpload.objects.get(pk=upload_id)
    assert upload.status == "failed" and "empty text" in upload.error
    assert not Dataset.objects.filter(name="big-notes").exists() and not DatasetVersion.objects.exists()
    assert not DatasetRecord.objects.exists()
    assert AuditLogEntry.objects.filter(action="dataset_upload.failed").exists()
    assert not upload_file(upload).exists()


def test_refusals_at_the_field_and_other_users_uploads_are_not_found(api_client, engineer, settings):
    api_client.force_authenticate(engineer)
    settings.DATASET_LARGE_UPLOAD_MAX_BYTES = 1000
    assert "size" in _start(api_client, b"x" * 1001).json()
    settings.DATASET_LARGE_UPLOAD_MAX_BYTES = 10**9
    assert "text_column" in _start(api_client, b"x", text_column="hired").json() or \
        "sensitive_attributes" in _start(api_client, b"x", text_column="hired").json()
    upload_id = _start(api_client, b"abc").json()["id"]
    settings.DATASET_UPLOAD_CHUNK_MAX_BYTES = 2
    assert "chunk" in _chunk(api_client, upload_id, 0, b"abc").json()
    assert api_client.post(f"{START}{upload_id}/chunks/?offset=0", {"a": 1}, format="json").status_code == 400
    assert _chunk(api_client, upload_id, -1, b"a").status_code == 400
    other = make_user()
    api_client.force_authenticate(other)
    assert api_client.get(f"{START}{upload_id}/").status_code == 404
    assert _chunk(api_client, upload_id, 0, b"a").status_code == 404
    assert DatasetUpload.objects.get(pk=upload_id).received == 0


def test_upload_page_offers_chunking_and_shows_the_upload(client, engineer, api_client):
    client.login(username=engineer.username, password=PASSWORD)
    page = client.get("/datasets/upload/").content.decode()
    assert 'data-start-url="/api/dataset-uploads/"' in page and "chunked_upload.js" in page
    api_client.force_authenticate(engineer)
    upload_id = _start(api_client, b"abc").json()["id"]
    status = client.get(f"/datasets/uploads/{upload_id}/")
    assert status.status_code == 200 and b"Receiving" in status.content
    other = make_user()
    client.login(username=other.username, password=PASSWORD)
    assert client.get(f"/datasets/uploads/{upload_id}/").status_code == 404
