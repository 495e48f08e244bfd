"""Large dataset files: received in chunks to a file on disk (resumable from the last byte stored), then read row
by row and COPY-loaded into a new version by a worker job, with progress; never held in memory.

1. `dataset_upload_start` checks the upload's form (dataset or name and project, columns, personal-data metadata,
   size within DATASET_UPLOAD_MAX_BYTES) and creates the DatasetUpload with an empty file under
   DATASET_UPLOAD_ROOT.
2. `dataset_upload_append` writes one chunk at `offset`, which must be the bytes received so far (a resumed
   client asks for it first); a chunk cut short by a dropped connection keeps what arrived. The last byte
   queues the ingest job.
3. `dataset_upload_ingest` (the worker) streams the file through `StreamedRows` into `bulk_load.records_insert`
   (binary COPY) in one transaction: the version appears whole or not at all. Progress goes to the job row
   over a second connection, since the loading transaction is still open.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection, transaction

from governance.accounts.models import Project
from governance.accounts.predicates import object_require_role
from governance.accounts.projects import project_for_create
from governance.auditlog.services import audit_log_append
from governance.datasets.models import Dataset, DatasetUpload, DatasetVersion, UploadStatus
from governance.datasets.parsing import ColumnMapping, detect_format, label_order
from governance.errors import InvalidState, ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.keys import text_digest
from governance.roles import ML_ENGINEER

JOB_KIND = "dataset_ingest"
TASK_NAME = "governance.ingest_dataset_upload"
READ_BYTES = 1 << 20


def upload_file(upload: DatasetUpload) -> Path:
    return Path(settings.DATASET_UPLOAD_ROOT) / f"{upload.token}.part"


class OffsetMismatch(InvalidState):
    """The chunk does not start where the stored bytes end: the client resumes from `offset`."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@transaction.atomic
def dataset_upload_start(*, actor, file_name: str, size: int, text_column: str, label_column: str,
                         subject_column: str, sensitive_attributes: list[str], name: str = "",
                         dataset: Dataset | None = None, project: Project | int | None = None,
                         file_format: str | None = None, note: str = "", **metadata) -> DatasetUpload:
    from governance.datasets.services import _check_metadata

    limit = settings.DATASET_LARGE_UPLOAD_MAX_BYTES
    if not 0 < int(size) <= limit:
        raise ValidationFailed(f"The file must hold 1 to {limit} bytes ({limit // 2**20} MB, "
                               "DATASET_LARGE_UPLOAD_MAX_BYTES).", field="size")
    file_name = (file_name or "").strip()[:255]
    if not file_name:
        raise ValidationFailed("Name the file.", field="file_name")
    if dataset is not None:
        object_require_role(actor, dataset, ML_ENGINEER, what="dataset")
        project = dataset.project
    else:
        project = project_for_create(actor=actor, project=project, role=ML_ENGINEER)
        name = (name or "").strip()
        if not name:
            raise ValidationFailed("A dataset needs a name.", field="name")
        if Dataset.objects.filter(project=project, name=name).exists():
            raise ValidationFailed(f"A dataset named '{name}' exists; upload a new version of it instead.",
                                   field="name")
        _check_metadata(metadata)
    mapping = ColumnMapping(text=text_column.strip(), label=label_column.strip(), subject=subject_column.strip(),
                            sensitive=tuple(s.strip() for s in sensitive_attributes if s.strip()))
    if not all((mapping.text, mapping.label, mapping.subject)):
        raise ValidationFailed("Name the text, label and subject columns.", field="text_column")
    if len(set(mapping.required())) != len(mapping.required()):
        raise ValidationFailed("A column is mapped to more than one role.", field="sensitive_attributes")
    upload = DatasetUpload.objects.create(
        token=secrets.token_hex(16), project=project, dataset=dataset, file_name=file_name,
        file_format=detect_format(file_name, file_format), size=int(size), created_by=actor,
        request={"name": name, "note": note, "text_column": mapping.text, "label_column": mapping.label,
                 "subject_column": mapping.subject, "sensitive_attributes": list(mapping.sensitive),
                 "metadata": metadata})
    path = upload_file(upload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    audit_log_append(actor=actor, action="dataset_upload.started", obj=upload,
                     payload={"file_name": file_name, "size": upload.size, "project": project.slug,
                              "dataset": dataset.pk if dataset else None, "name": name})
    return upload


def dataset_upload_append(*, actor, upload_id: int, offset: int, stream: IO[bytes], length: int) -> DatasetUpload:
    """Store one chunk of the actor's upload at `offset` (see the module docstring)."""
    if not 0 < length <= settings.DATASET_UPLOAD_CHUNK_MAX_BYTES:
        raise ValidationFailed(f"A chunk holds 1 to {settings.DATASET_UPLOAD_CHUNK_MAX_BYTES} bytes "
                               "(DATASET_UPLOAD_CHUNK_MAX_BYTES), with its Content-Length.", field="chunk")
    with transaction.atomic():
        # One chunk at a time per upload: a second writer waits here, then finds the offset moved (409).
        upload = DatasetUpload.objects.select_for_update().get(pk=upload_id, created_by=actor)
        if upload.status != UploadStatus.RECEIVING:
            raise InvalidState(f"The upload is {upload.get_status_display().lower()}; it takes no more bytes.")
        if offset != upload.received:
            raise OffsetMismatch(f"The upload holds {upload.received} bytes; send from offset {upload.received}.",
                                 upload.received)
        if offset + length > upload.size:
            raise ValidationFailed(f"The chunk runs past the declared size ({upload.size} bytes).", field="chunk")
        written = 0
        with upload_file(upload).open("r+b") as sink:
            sink.seek(offset)
            sink.truncate()
            while written < length:
                try:
                    piece = stream.read(min(READ_BYTES, length - written))
                except OSError:  # the connection dropped mid-chunk: keep what arrived, the client resumes
                    piece = b""
                if not piece:
                    break
                sink.write(piece)
                written += len(piece)
            sink.flush()
        upload.received = offset + written
        fields = ["received"]
        if upload.received == upload.size:
            upload.status = UploadStatus.RECEIVED
            fields.append("status")
            job = jobs.job_create(kind=JOB_KIND, subject=upload, created_by=actor)
            audit_log_append(actor=actor, action="dataset_upload.received", obj=upload,
                             payload={"file_name": upload.file_name, "size": upload.size, "job": job.pk})
            enqueue(TASK_NAME, job.pk)
        upload.save(update_fields=fields)
    return upload


def dataset_upload_ingest(*, job_id: int) -> None:
    """Parse and load one received upload (called by the worker). A repeat changes nothing."""
    jobs.job_run(job_id=job_id, name="dataset ingest",
                 load=lambda job: DatasetUpload.objects.select_related("dataset", "project").get(pk=job.subject_id),
                 done=lambda upload: upload.status == UploadStatus.COMPLETE, compute=_ingest, store=None,
                 failed=_ingest_failed)


class _SideProgress:
    """Job progress written over a second, autocommitting connection, so that it shows while the loading
    transaction is open (the job row is not touched by that transaction until it completes the job)."""

    def __init__(self, job: Job, total: int) -> None:
        from tqdm import tqdm

        self.job, self.total, self.last = job, max(total, 1), 0.0
        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"ingest upload job {job.pk}")
        self.side = None
        if connection.vendor == "postgresql":
            self.side = connection.get_new_connection(connection.get_connection_params())
            self.side.autocommit = True

    def update(self, done: int, rows: int, force: bool = False) -> None:
        self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if self.side is None or (not force and now - self.last < 1.0):
            return
        self.last = now
        percent = min(99.0, 2 + 96 * done / self.total)
        # the table name is the model's own, the values are parameters
        self.side.execute(f"UPDATE {Job._meta.db_table} SET stage = %s, percent = %s, heartbeat_at = now() "  # nosec B608
                          f"WHERE id = %s", (f"loading rows ({rows:,})", percent, self.job.pk))

    def close(self) -> None:
        self.bar.close()
        if self.side is not None:
            self.side.close()


def _ingest(upload: DatasetUpload, job: Job) -> None:
    from governance.datasets.bulk_load import records_insert
    from governance.datasets.pii_scans import pii_scan_request
    from governance.datasets.services import _datasheet_request
    from governance.datasets.stream_parsing import StreamedRows

    jobs.job_progress(job=job, stage="reading file", percent=1, force=True)
    form = upload.request
    mapping = ColumnMapping(text=form["text_column"], label=form["label_column"], subject=form["subject_column"],
                            sensitive=tuple(form["sensitive_attributes"]))
    progress = _SideProgress(job, upload.size)
    try:
        with transaction.atomic():
            locked = DatasetUpload.objects.select_for_update().get(pk=upload.pk)
            if locked.status == UploadStatus.COMPLETE:
                return
            actor = upload.created_by
            dataset = upload.dataset
            created = dataset is None
            if created:
                if Dataset.objects.filter(project=upload.project, name=form["name"]).exists():
                    raise ValidationFailed(f"A dataset named '{form['name']}' was created meanwhile.", field="name")
                dataset = Dataset.objects.create(project=upload.project, name=form["name"], owner=actor,
                                                 **form["metadata"])
            last = dataset.versions.select_for_update(no_key=True).order_by("-version").first()
            version = DatasetVersion.objects.create(
                dataset=dataset, version=(last.version + 1) if last else 1, note=form.get("note", ""), sha256="",
                row_count=0, file_name=upload.file_name, file_format=upload.file_format, text_column=mapping.text,
                label_column=mapping.label, subject_column=mapping.subject, sensitive_attributes=list(mapping.sensitive),
                label_names=[], positive_label="", created_by=actor)
            reader = StreamedRows(upload_file(upload), upload.file_format, mapping)

            def rows():
                for record in reader:
                    if reader.rows % 5000 == 0:
                        progress.update(reader.bytes_read, reader.rows)
                    yield record

            records_insert(version=version, rows=rows())
            progress.update(reader.bytes_read, reader.rows, force=True)
            label_names, positive = label_order(set(reader.label_counts))
            DatasetVersion.objects.filter(pk=version.pk).update(
                sha256=reader.sha256, row_count=reader.rows, label_names=label_names, positive_label=positive)
            version.refresh_from_db()
            if created:
                audit_log_append(actor=actor, action="dataset.created", obj=dataset,
                                 payload={"name": dataset.name, "project": upload.project.slug,
                                          **{k: form["metadata"][k] for k in sorted(form["metadata"])}})
            analysed = version.row_count <= settings.DATASET_AUTO_ANALYSIS_MAX_ROWS
            audit_log_append(actor=actor, action="dataset_version.created", obj=version,
                             payload={"dataset": dataset.name, "version": version.version, "sha256": version.sha256,
                                      "rows": version.row_count, "parent": None, "upload": upload.pk,
                                      "columns": {"text": mapping.text, "label": mapping.label,
                                                  "subject": mapping.subject, "sensitive": list(mapping.sensitive)},
                                      "automatic_analysis": analysed})
            if analysed:  # above the limit a datasheet or a scan would read every row into memory at once
                _datasheet_request(actor=actor, version=version)
                pii_scan_request(actor=actor, version=version)
            locked.status, locked.version, locked.error = UploadStatus.COMPLETE, version, ""
            locked.save(update_fields=["status", "version", "error"])
            jobs.job_complete(job=job)
            transaction.on_commit(lambda: upload_file(upload).unlink(missing_ok=True))
    finally:
        progress.close()


@transaction.atomic
def _ingest_failed(upload: DatasetUpload, job_id: int, error: str) -> None:
    DatasetUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.FAILED, error=error[:4000])
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=upload.created_by, action="dataset_upload.failed", obj=upload,
                     payload={"error": text_digest(error), "job": job_id})
    transaction.on_commit(lambda: upload_file(upload).unlink(missing_ok=True))


def dataset_upload_get(*, user, upload_id: int) -> DatasetUpload:
    """The user's own upload (DoesNotExist otherwise: another user's upload is not found)."""
    return DatasetUpload.objects.select_related("version").get(pk=upload_id, created_by=user)


def dataset_upload_job(*, upload: DatasetUpload) -> Job | None:
    return Job.objects.filter(kind=JOB_KIND, subject_type="datasets.datasetupload",
                              subject_id=upload.pk).order_by("-pk").first()

