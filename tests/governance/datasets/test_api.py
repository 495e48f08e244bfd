from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.auditlog.models import AuditLogEntry
from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion
from tests.factories import hiring_bytes

pytestmark = pytest.mark.django_db

URL = "/api/datasets/"


def _post(client, raw: bytes, name="ds", file_name="data.csv", **fields):
    data = {"name": name, "file": SimpleUploadedFile(file_name, raw), "text_column": "text",
            "label_column": "hired", "subject_column": "subject_id", "sensitive_attributes": "gender,age_band",
            **fields}
    return client.post(URL, data, format="multipart")


def test_csv_upload_creates_version_with_digest_rows_and_log_entry(api_client, engineer):
    api_client.force_authenticate(engineer)
    raw = hiring_bytes(120)
    response = _post(api_client, raw, lawful_basis="consent", purposes="Hiring")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(raw).hexdigest()
    assert body["row_count"] == 120
    assert body["label_names"] == ["no", "yes"] and body["positive_label"] == "yes"
    version = DatasetVersion.objects.get(pk=body["id"])
    assert DatasetRecord.objects.filter(version=version).count() == 120
    first = DatasetRecord.objects.get(version=version, row_index=0)
    assert first.subject_id == "S000001" and set(first.attributes) == {"gender", "age_band"}
    assert AuditLogEntry.objects.filter(action="dataset_version.created", object_id=str(version.pk)).exists()


def test_jsonl_upload(api_client, engineer):
    api_client.force_authenticate(engineer)
    lines = [json.dumps({"subject_id": f"u{i}", "text": f"text {i}", "hired": "yes" if i % 2 else "no",
                         "gender": "female" if i % 3 else "male", "age_band": "30-44"}) for i in range(10)]
    response = _post(api_client, "\n".join(lines).encode(), file_name="data.jsonl")
    assert response.status_code == 201, response.content
    assert response.json()["file_format"] == "jsonl" and response.json()["row_count"] == 10


@pytest.mark.parametrize("raw, field, fragment", [
    (b"", "file", "empty"),
    (b"subject_id,text,hired,gender,age_band\n", "file", "no rows"),
    (b"subject_id,text,hired,gender,age_band\nS1,hello,yes,female\n", "file", "Line 2 has 4 fields"),
    (b"subject_id,body,hired,gender,age_band\nS1,hello,yes,female,18-29\n", "text_column", "'text' is not in"),
    (b"subject_id,text,hired,gender\nS1,hello,yes,female\nS2,bye,no,male\n", "sensitive_attributes", "age_band"),
    (b"subject_id,text,hired,gender,age_band\nS1,hello,yes,female,18-29\nS2,bye,yes,male,18-29\n", "label_column",
     "two distinct"),
    (b"\xff\xfe\x00bad", "file", "not UTF-8"),
    (b'{"subject_id": 1}\nnot json\n', "file", "not valid JSON"),
])
def test_bad_files_get_a_field_error_and_store_nothing(api_client, engineer, raw, field, fragment):
    api_client.force_authenticate(engineer)
    file_name = "data.jsonl" if raw.startswith(b"{") else "data.csv"
    response = _post(api_client, raw, file_name=file_name)
    assert response.status_code == 400
    assert fragment in " ".join(response.json()[field])
    assert not Dataset.objects.exists() and not DatasetRecord.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="dataset").exists()


def test_missing_mapping_field_is_a_400(api_client, engineer):
    api_client.force_authenticate(engineer)
    response = api_client.post(URL, {"name": "x", "file": SimpleUploadedFile("a.csv", b"a\n1\n")}, format="multipart")
    assert response.status_code == 400 and "text_column" in response.json()


def test_personal_data_needs_purposes(api_client, engineer):
    api_client.force_authenticate(engineer)
    response = _post(api_client, hiring_bytes(40), lawful_basis="consent")
    assert response.status_code == 400 and "purposes" in response.json()
    assert not Dataset.objects.exists()


def test_auditor_cannot_upload_but_can_list(api_client, db):
    from governance.roles import AUDITOR
    from tests.factories import make_user

    api_client.force_authenticate(make_user(AUDITOR))
    assert _post(api_client, hiring_bytes(40)).status_code == 403
    assert api_client.get(URL).status_code == 200


def test_anonymous_is_refused(api_client, db):
    assert api_client.get(URL).status_code in (401, 403)


def _good_line(i: int) -> str:
    return json.dumps({"subject_id": f"u{i}", "text": f"text {i}", "hired": "yes" if i % 2 else "no",
                       "gender": "female", "age_band": "30-44"})


@pytest.mark.parametrize("bad, fragment", [
    ("[" * 100_000 + "]" * 100_000, "Line 3 is 200000 characters long"),  # over the line cap
    ("[" * 40_000 + "]" * 40_000, "Line 3 nests arrays or objects too deeply"),  # RecursionError
    ('{"subject_id": "u9", "text": "t", "hired": ' + "9" * 5000 + "}", "Line 3 holds a number"),  # int digits
    ('{"subject_id": "u9", "text": "t", "hired": NaN}', "Line 3 holds a number that is not accepted: NaN"),
    ('{"subject_id": "u9", "text": "t", "hired": -Infinity}', "Line 3 holds a number"),
    ('{"subject_id": "u9", "text": "t", "hired": 1e999}', "Line 3 holds a number"),
    ('{"subject_id": "u9", "text": "t", "hired": "yes"', "Line 3 is not valid JSON"),
    ("[1, 2]", "Line 3 is not a JSON object"),
])
def test_every_json_lines_parse_error_is_a_400_naming_the_line(api_client, engineer, bad, fragment):
    api_client.force_authenticate(engineer)
    raw = "\n".join([_good_line(0), _good_line(1), bad, _good_line(3)]).encode()
    response = _post(api_client, raw, file_name="data.jsonl")
    assert response.status_code == 400, response.content
    assert fragment in " ".join(response.json()["file"])
    assert not Dataset.objects.exists() and not DatasetRecord.objects.exists()


def test_invalid_utf8_names_its_line(api_client, engineer):
    api_client.force_authenticate(engineer)
    raw = "\n".join([_good_line(0), _good_line(1)]).encode() + b'\n{"text": "caf\xe9"}\n'
    response = _post(api_client, raw, file_name="data.jsonl")
    assert response.status_code == 400 and "Line 3 is not UTF-8" in " ".join(response.json()["file"])


def test_the_line_cap_is_a_setting_and_applies_to_csv_too(api_client, engineer, settings):
    settings.DATASET_MAX_LINE_CHARS = 50
    api_client.force_authenticate(engineer)
    raw = b"subject_id,text,hired,gender,age_band\nS1,short,yes,female,18-29\nS2," + b"x" * 60 + b",no,male,18-29\n"
    response = _post(api_client, raw)
    assert response.status_code == 400
    assert "Line 3 is 77 characters long; at most 50" in " ".join(response.json()["file"])


def test_the_upload_page_shows_a_json_lines_error_at_the_file_field(engineer):
    from django.test import Client

    client = Client()
    client.force_login(engineer)
    raw = "\n".join([_good_line(0), '{"subject_id": "u1", "hired": ' + "9" * 5000 + "}"]).encode()
    response = client.post("/datasets/upload/", {
        "name": "deep", "file": SimpleUploadedFile("d.jsonl", raw), "text_column": "text", "label_column": "hired",
        "subject_column": "subject_id", "lawful_basis": "none"})
    assert response.status_code == 400
    assert "Line 2 holds a number" in " ".join(response.context["form"].errors.get("file", [])), response.context["form"].errors
    assert not Dataset.objects.exists()
