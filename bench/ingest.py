"""Benchmark: loading dataset rows through PostgreSQL COPY (psycopg 3) against Django `bulk_create`.

Both paths store the same 1,000,000 seeded rows (subject id, a ~90-character text, label, two sensitive
attributes as JSON, weight) as the records of a dataset version, each inside one transaction, in one
run on one database: `bulk_create(batch_size=2000)` (what `_version_create` did before) and
`governance.datasets.bulk_load.records_insert` (what it does now: binary COPY on PostgreSQL). Each time
covers building the row values and the insertion, through the commit; the row count is checked after.
It creates (and drops afterwards) its own database, `<DATABASE_URL's name>_ingest_bench`.

Last line: RESULT ingest ratio=<bulk_create s / COPY s> rows_per_s=<COPY rows per second>

With `--upload-mb N` (issue 22) it measures the large-file path instead: a seeded CSV of N MB written to disk,
sent in 8 MB chunks through `large_uploads.dataset_upload_append` (to a file, as the web process does) and
loaded by the ingest job (`dataset_upload_ingest`: parsed row by row, binary COPY, one transaction), all in this
process; it prints the load's rows/s and this process's peak resident memory (VmHWM).
Last line: RESULT large_upload mb=<N> rows=<rows> rows_per_s=<load rows/s> peak_rss_mb=<VmHWM>

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/governance .venv/bin/python bench/ingest.py [--rows N]
     [--upload-mb N]
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
    parser.add_argument("--upload-mb", type=int, default=0)
    args = parser.parse_args()

    from bench.scratch_db import scratch_database

    with scratch_database("ingest_bench") as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("SECRET_KEY", "bench-only")
        os.environ["DJANGO_SETTINGS_MODULE"] = "governance.settings.test"
        _run_upload(args.upload_mb) if args.upload_mb else _run(args.rows)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run_upload(megabytes: int) -> None:
    import tempfile

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from governance.accounts.projects import project_default
    from governance.accounts.services import user_create
    from governance.datasets import large_uploads
    from governance.datasets.models import DatasetRecord, DatasetUpload
    from governance.jobs.models import Job
    from models_core.data.synthetic import write_large_csv

    call_command("migrate", verbosity=0)
    user = user_create(username="bench", password="bench-password-1", roles=[],
                       memberships=[(project_default(), "ml_engineer")])
    with tempfile.TemporaryDirectory() as folder:
        settings.DATASET_UPLOAD_ROOT = Path(folder) / "uploads"
        settings.JOB_DISPATCH = "inline"
        settings.DATASET_AUTO_ANALYSIS_MAX_ROWS = 0  # the load alone: no datasheet or PII scan after it
        path = Path(folder) / "large.csv"
        t0 = time.perf_counter()
        rows = write_large_csv(path, megabytes * 1024 * 1024)
        size = path.stat().st_size
        import models_core.encoder.bundle  # noqa: F401  (what a worker has loaded: torch, the core)

        baseline = _peak_rss_mb()
        print(f"{size:,} bytes, {rows:,} rows written in {time.perf_counter() - t0:.1f} s; "
              f"peak RSS before the upload {baseline:.0f} MB")
        upload = large_uploads.dataset_upload_start(
            actor=user, file_name="large.csv", size=size, name="bench-large", text_column="text",
            label_column="hired", subject_column="subject_id", sensitive_attributes=["gender", "age_band"])
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            offset = 0
            while offset < size:  # the last chunk's commit runs the ingest job in this thread (inline)
                length = min(8 * 1024 * 1024, size - offset)
                offset = large_uploads.dataset_upload_append(actor=user, upload_id=upload.pk, offset=offset,
                                                             stream=fh, length=length).received
        total_s = time.perf_counter() - t0
        from django.utils import timezone

        committed_at = timezone.now()  # the inline job has committed (its foreign-key checks run at commit)
        upload = DatasetUpload.objects.get(pk=upload.pk)
        assert upload.status == "complete", upload.error
        job = Job.objects.get(kind=large_uploads.JOB_KIND, subject_id=upload.pk)
        load_s = (committed_at - job.started_at).total_seconds()
        assert DatasetRecord.objects.filter(version=upload.version).count() == rows
        peak = _peak_rss_mb()
        print(f"chunks + load: {total_s:.1f} s; load job: {load_s:.1f} s ({rows / load_s:,.0f} rows/s, "
              f"{size / load_s / 2**20:.1f} MB/s); peak RSS {peak:.0f} MB")
        print(f"RESULT large_upload mb={megabytes} rows={rows} rows_per_s={rows / load_s:.0f} peak_rss_mb={peak:.0f} "
              f"baseline_rss_mb={baseline:.0f}")


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
