"""Benchmark: loading dataset rows through PostgreSQL COPY (psycopg 3) against Django `bulk_create`.

Both paths store the same 1,000,000 seeded rows (subject id, a ~90-character text, label, two sensitive
attributes as JSON, weight) as the records of a dataset version, each inside one transaction, in one
run on one database: `bulk_create(batch_size=2000)` (what `_version_create` did before) and
`governance.datasets.bulk_load.records_insert` (what it does now: binary COPY on PostgreSQL). Each time
covers building the row values and the insertion, through the commit; the row count is checked after.
It creates (and drops afterwards) its own database, `<DATABASE_URL's name>_ingest_bench`.

Last line: RESULT ingest ratio=<bulk_create s / COPY s> rows_per_s=<COPY rows per second>

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/governance .venv/bin/python bench/ingest.py [--rows N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    words = ["python", "sql", "team", "lead", "years", "experience", "degree", "project", "cloud", "data",
             "managed", "built", "shipped", "customers", "research", "statistics", "design", "mentor"]
    return [{"subject_id": f"S{i:07d}", "text": " ".join(rng.choice(words) for _ in range(12)),
             "label": rng.choice(("yes", "no")),
             "attributes": {"gender": rng.choice(("female", "male")),
                            "age_band": rng.choice(("18-30", "31-50", "51+"))},
             "weight": 1.0} for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    from bench.scratch_db import scratch_database

    with scratch_database("ingest_bench") as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("SECRET_KEY", "bench-only")
        os.environ["DJANGO_SETTINGS_MODULE"] = "governance.settings.test"
        _run(args.rows)


def _run(n: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from governance.accounts.projects import project_default
    from governance.accounts.services import user_create
    from governance.datasets.bulk_load import records_insert
    from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion

    call_command("migrate", verbosity=0)
    user = user_create(username="bench", password="bench-password-1", roles=[])
    dataset = Dataset.objects.create(project=project_default(), name="bench", owner=user)

    def version(v: int) -> DatasetVersion:
        return DatasetVersion.objects.create(
            dataset=dataset, version=v, sha256="0" * 64, row_count=n, file_name="bench.csv", file_format="csv",
            text_column="text", label_column="label", subject_column="subject_id",
            sensitive_attributes=["gender", "age_band"], label_names=["no", "yes"], positive_label="yes",
            created_by=user)

    rows = _rows(n)
    print(f"{n:,} rows, PostgreSQL {connection.pg_version}, psycopg {__import__('psycopg').__version__}")

    v1 = version(1)
    t0 = time.perf_counter()
    with transaction.atomic():
        DatasetRecord.objects.bulk_create(
            (DatasetRecord(version=v1, row_index=i, **row) for i, row in enumerate(rows)), batch_size=2000)
    bulk_s = time.perf_counter() - t0
    assert DatasetRecord.objects.filter(version=v1).count() == n
    print(f"bulk_create(batch_size=2000): {bulk_s:.2f} s ({n / bulk_s:,.0f} rows/s)")

    v2 = version(2)
    t0 = time.perf_counter()
    with transaction.atomic():
        records_insert(version=v2, rows=rows)
    copy_s = time.perf_counter() - t0
    assert DatasetRecord.objects.filter(version=v2).count() == n
    first = DatasetRecord.objects.filter(version=v2, row_index=n - 1).values("subject_id", "attributes").get()
    assert first == {"subject_id": rows[-1]["subject_id"], "attributes": rows[-1]["attributes"]}, first
    print(f"COPY (binary, psycopg 3):     {copy_s:.2f} s ({n / copy_s:,.0f} rows/s)")
    print(f"RESULT ingest ratio={bulk_s / copy_s:.2f} rows_per_s={n / copy_s:.0f}")


if __name__ == "__main__":
    main()
