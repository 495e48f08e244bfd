"""PII scan of an uploaded dataset version (a background job); the key of pseudonymisation into a new version
(datasets.services.dataset_version_pseudonymise).

The scan report is models_core.data.pii's: counts per kind and masked examples, never a raw value. The
pseudonymised version replaces each finding with a keyed token (HMAC under a server-side key), so the
same value gives the same token across rows and nobody without the key can recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.db import transaction

from governance.auditlog.chain import canonical_json
from governance.auditlog.services import audit_log_append
from governance.datasets.models import DatasetRecord, DatasetVersion, PiiScan
from governance.errors import InvalidState
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.keys import derived_key, text_digest

JOB_KIND = "pii_scan"
TASK_NAME = "governance.pii_scan"


def pseudonymisation_key(version: DatasetVersion | None = None) -> bytes:
    """The key of models_core.pii.pseudonymise_texts (separate from the subject salt; the label keeps the
    tokens made before PII scans moved to the datasets app). With a `version`, the key of that version's
    pseudonymisation: the same name (e-mail, phone, ...) gets the same token throughout the version, and
    another token in a pseudonymisation of another version, so tokens cannot link a person across releases."""
    key = derived_key(b"governance.compliance pii pseudonymisation key")
    if version is None:
        return key
    return hmac.new(key, f"dataset-version:{version.pk}".encode(), hashlib.sha256).digest()


def pii_scan_request(*, actor, version: DatasetVersion) -> Job:
    """Queue the PII scan of a version; the worker runs it after the surrounding transaction commits."""
    job = jobs.job_create(kind=JOB_KIND, subject=version, created_by=actor)
    enqueue(TASK_NAME, job.pk)
    return job


@transaction.atomic
def pii_scan_start(*, actor, version: DatasetVersion) -> Job:
    """Scan a version that has no scan yet (one derived in the app, or one uploaded before scans existed)."""
    DatasetVersion.objects.select_for_update(no_key=True).get(pk=version.pk)
    if PiiScan.objects.filter(version=version).exists():
        raise InvalidState(f"{version} has been scanned already.")
    running = pii_scan_job(version=version)
    if running is not None and running.is_active:
        raise InvalidState(f"The PII scan of {version} is already queued or running.")
    job = pii_scan_request(actor=actor, version=version)
    audit_log_append(actor=actor, action="pii_scan.requested", obj=version, payload={"job": job.pk})
    return job


def pii_scan_get(*, version: DatasetVersion) -> PiiScan | None:
    return PiiScan.objects.filter(version=version).first()


def pii_scan_job(*, version: DatasetVersion) -> Job | None:
    return (Job.objects.filter(kind=JOB_KIND, subject_type=version._meta.label_lower, subject_id=version.pk)
            .order_by("-created_at").first())


def pii_scan_run(*, job_id: int) -> None:
    """Scan one version's text column (called by the worker). A repeat of a finished job changes nothing."""
    jobs.job_run(job_id=job_id, name="PII scan", load=lambda job: DatasetVersion.objects.get(pk=job.subject_id),
                 done=lambda version: PiiScan.objects.filter(version=version).exists(),
                 compute=_pii_scan_compute, store=_pii_scan_store, failed=_pii_scan_failed)


def _pii_scan_compute(version: DatasetVersion, job: Job) -> dict:
    from models_core.pii import scan_texts

    jobs.job_progress(job=job, stage="loading rows", percent=1, force=True)
    rows = list(DatasetRecord.objects.filter(version=version).order_by("row_index")
                .values_list("row_index", "text"))
    report = scan_texts([text for _, text in rows], progress=lambda p: jobs.job_progress(
        job=job, stage="scanning", percent=2 + 0.96 * p.get("percent", 0.0)))
    # Positions in the scanned list -> the rows' own indices (they differ once rows were erased).
    report["row_indices"] = [rows[i][0] for i in report["row_indices"]]
    report["column"] = version.text_column
    return report


@transaction.atomic
def _pii_scan_store(version: DatasetVersion, job: Job, report: dict) -> None:
    # NO KEY UPDATE, as the datasheet's store: FOR UPDATE would block the foreign-key checks (KEY SHARE) of a
    # transaction referencing the version while holding the audit-log lock (an audit request), which this one
    # then waits for in audit_log_append: a deadlock, seen in the erasure e2e test.
    DatasetVersion.objects.select_for_update(no_key=True).get(pk=version.pk)
    if PiiScan.objects.filter(version=version).exists():
        jobs.job_complete(job=job)
        return
    body = canonical_json(report)
    scan = PiiScan.objects.create(version=version, data=json.loads(body),
                                  sha256=hashlib.sha256(body.encode()).hexdigest())
    audit_log_append(actor=job.created_by, action="pii_scan.completed", obj=version,
                     payload={"scan_sha256": scan.sha256, "rows": report["n_texts"],
                              "rows_affected": report["rows_affected"], "findings_total": report["findings_total"],
                              "by_kind": {k: v["count"] for k, v in report["by_kind"].items()}, "job": job.pk})
    jobs.job_complete(job=job)


@transaction.atomic
def _pii_scan_failed(version: DatasetVersion, job_id: int, error: str) -> None:
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=Job.objects.get(pk=job_id).created_by, action="pii_scan.failed", obj=version,
                     payload={"error": text_digest(error), "job": job_id})
