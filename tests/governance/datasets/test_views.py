from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.datasets.models import Dataset
from tests.factories import PASSWORD, hiring_bytes

pytestmark = pytest.mark.django_db


def _form(raw, **extra):
    return {"name": "web", "file": SimpleUploadedFile("d.csv", raw), "text_column": "text", "label_column": "hired",
            "subject_column": "subject_id", "sensitive_attributes": "gender, age_band", "lawful_basis": "none",
            **extra}


def test_upload_form_redirects_to_the_new_version(client, engineer):
    client.login(username=engineer.username, password=PASSWORD)
    response = client.post("/datasets/upload/", _form(hiring_bytes(50)))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"S000001" in page.content


def test_upload_form_shows_the_error_at_the_field(client, engineer):
    client.login(username=engineer.username, password=PASSWORD)
    response = client.post("/datasets/upload/", _form(hiring_bytes(50), text_column="body"))
    assert response.status_code == 400
    assert b"Column &#x27;body&#x27; is not in the file" in response.content
    assert not Dataset.objects.exists()
