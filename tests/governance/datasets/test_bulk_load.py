"""Rows load through PostgreSQL COPY: every value arrives intact, in order, inside the upload's transaction."""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction

from governance.datasets.bulk_load import records_insert
from governance.datasets.models import DatasetRecord
from governance.datasets.services import dataset_upload
from governance.errors import ValidationFailed
from tests.factories import upload_hiring

pytestmark = pytest.mark.django_db

AWKWARD = ["tab\there", "line\nbreak", "back\\slash \\N", "quote \" and ' and ,", "ünïcødé — 名前 🙂", "\\."]


def _jsonl(texts: list[str]) -> bytes:
    return "".join(json.dumps({"id": f"S{i}", "text": t, "y": "yes" if i % 2 else "no", "g": ["a\tb", "c\\d"][i % 2]})
                   + "\n" for i, t in enumerate(texts)).encode()


def test_copy_is_the_path_on_postgresql_and_every_awkward_value_survives(engineer):
    assert connection.vendor == "postgresql"
    version = dataset_upload(actor=engineer, name="awkward", raw=_jsonl(AWKWARD), file_name="a.jsonl",
                             text_column="text", label_column="y", subject_column="id", sensitive_attributes=["g"])
    stored = list(DatasetRecord.objects.filter(version=version).order_by("row_index")
                  .values_list("row_index", "subject_id", "text", "label", "attributes", "weight"))
    assert stored == [(i, f"S{i}", t, "yes" if i % 2 else "no", {"g": ["a\tb", "c\\d"][i % 2]}, 1.0)
                      for i, t in enumerate(AWKWARD)]


def test_weights_and_attribute_combinations_are_stored_per_row(engineer):
    version = upload_hiring(engineer, n_rows=50)
    extra = [{"subject_id": f"X{i}", "text": f"t{i}", "label": "no", "attributes": {"gender": str(i % 3), "n": {"k": i}},
              "weight": 0.5 + i} for i in range(5)]
    with transaction.atomic():
        DatasetRecord.objects.filter(version=version).delete()
        records_insert(version=version, rows=extra)
    rows = list(DatasetRecord.objects.filter(version=version).order_by("row_index").values("attributes", "weight"))
    assert rows == [{"attributes": r["attributes"], "weight": r["weight"]} for r in extra]


def test_a_failure_after_the_copy_rolls_the_rows_back(engineer):
    before = DatasetRecord.objects.count()
    with pytest.raises(ValidationFailed):
        with transaction.atomic():
            upload_hiring(engineer, n_rows=30, name="rolled-back")
            raise ValidationFailed("later step failed")
    assert DatasetRecord.objects.count() == before
