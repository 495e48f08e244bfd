"""Writes of the datasets domain."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.auditlog.chain import canonical_json
from governance.auditlog.services import audit_log_append
from governance.datasets import selectors
from governance.datasets.bulk_load import records_insert
from governance.datasets.choices import PERSONAL_DATA_FIELDS, LawfulBasis
from governance.datasets.models import Dataset, DatasetDrift, DatasetRecord, Datasheet, DatasetVersion, PiiScan
from governance.datasets.parsing import ColumnMapping, parse_file, validate_rows
from governance.datasets.pii_scans import pii_scan_request, pseudonymisation_key
from governance.datasets.signals import dataset_metadata_changed
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.accounts.models import Project
from governance.accounts.predicates import object_require_role, object_require_visible
from governance.accounts.projects import project_for_create
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job, JobStatus
from governance.keys import text_digest

METADATA_FIELDS = PERSONAL_DATA_FIELDS


def _check_metadata(metadata: dict) -> None:
    unknown = set(metadata) - set(METADATA_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    basis = metadata.get("lawful_basis", LawfulBasis.NONE)
    if basis not in LawfulBasis.values:
        raise ValidationFailed(f"'{basis}' is not a lawful basis.", field="lawful_basis")
    if basis != LawfulBasis.NONE and not str(metadata.get("purposes", "")).strip():
        raise ValidationFailed("Personal data needs its purposes stated (GDPR Art. 30(1)(b)).", field="purposes")


@transaction.atomic
def dataset_upload(*, actor, name: str, raw: bytes, file_name: str, text_column: str, label_column: str,
                   subject_column: str, sensitive_attributes: list[str], file_format: str | None = None,
                   dataset: Dataset | None = None, note: str = "", project: Project | int | None = None,
                   **metadata) -> DatasetVersion:
    """Create a dataset in `project` (default: the actor's only project where they are an ML engineer), or a
    new version of `dataset` (in its own project, where the actor must be an ML engineer), all or nothing."""
    if len(raw) > settings.DATASET_UPLOAD_MAX_BYTES:
        raise ValidationFailed(f"The file is larger than {settings.DATASET_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                               field="file")
    if dataset is not None:
        object_require_role(actor, dataset, ML_ENGINEER, what="dataset")
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
    parsed = parse_file(raw, file_name=file_name, file_format=file_format)
    label_names, positive = validate_rows(parsed, mapping)
    if dataset is None:
        dataset = Dataset.objects.create(project=project, name=name, owner=actor, **metadata)
        audit_log_append(actor=actor, action="dataset.created", obj=dataset,
                         payload={"name": name, "project": project.slug,
                                  **{k: metadata[k] for k in sorted(metadata)}})
    version = _version_create(actor=actor, dataset=dataset, mapping=mapping, sha256=parsed.sha256,
                              file_name=file_name, file_format=parsed.file_format, label_names=label_names,
                              positive=positive, note=note, parent=None,
                              rows=[{"subject_id": r[mapping.subject].strip(), "text": r[mapping.text],
                                     "label": r[mapping.label].strip(),
                                     "attributes": {s: r[s].strip() for s in mapping.sensitive}, "weight": 1.0}
                                    for r in parsed.rows])
    pii_scan_request(actor=actor, version=version)  # a PII scan job on every upload
    return version


def _version_create(*, actor, dataset: Dataset, mapping: ColumnMapping, sha256: str, file_name: str,
                    file_format: str, label_names: list[str], positive: str, note: str,
                    parent: DatasetVersion | None, rows: list[dict]) -> DatasetVersion:
    # NO KEY UPDATE still serialises version numbering, without blocking the deferred foreign-key checks of
    # transactions that reference the last version (a training request holding the audit-log lock).
    last = dataset.versions.select_for_update(no_key=True).order_by("-version").first()
    version = DatasetVersion.objects.create(
        dataset=dataset, version=(last.version + 1) if last else 1, parent=parent, note=note, sha256=sha256,
        row_count=len(rows), file_name=file_name, file_format=file_format, text_column=mapping.text,
        label_column=mapping.label, subject_column=mapping.subject, sensitive_attributes=list(mapping.sensitive),
        label_names=label_names, positive_label=positive, created_by=actor)
    records_insert(version=version, rows=rows)  # COPY on PostgreSQL (governance/datasets/bulk_load.py)
    audit_log_append(actor=actor, action="dataset_version.created", obj=version,
                     payload={"dataset": dataset.name, "version": version.version, "sha256": sha256,
                              "rows": len(rows), "parent": parent.pk if parent else None,
                              "columns": {"text": mapping.text, "label": mapping.label, "subject": mapping.subject,
                                          "sensitive": list(mapping.sensitive)}})
    _datasheet_request(actor=actor, version=version)
    return version


@transaction.atomic
def dataset_metadata_update(*, actor, dataset: Dataset, **metadata) -> Dataset:
    if actor is not None:
        object_require_role(actor, dataset, COMPLIANCE_OFFICER, what="dataset")
    merged = {f: getattr(dataset, f) for f in METADATA_FIELDS} | metadata
    _check_metadata(merged)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    changed = any(getattr(dataset, f) != v for f, v in metadata.items())
    for field, value in metadata.items():
        setattr(dataset, field, value)
    cleared = changed and dataset.metadata_confirmed_by_id is not None
    if changed:  # the confirmation was of the old values: the gates stop counting them until re-confirmed
        dataset.metadata_confirmed_by, dataset.metadata_confirmed_at, dataset.metadata_confirmed_sha256 = None, None, ""
    dataset.save()
    audit_log_append(actor=actor, action="dataset.metadata_updated", obj=dataset,
                     payload={**{k: metadata[k] for k in sorted(metadata)}, "confirmation_cleared": cleared})
    if changed:
        dataset_metadata_changed.send(sender=Dataset, dataset=dataset, actor=actor)
    return dataset


@transaction.atomic
def dataset_metadata_confirm(*, actor, dataset: Dataset) -> Dataset:
    """A compliance officer confirms the personal-data metadata as declared (the lawful basis and the DPIA
    reference the deployment gates read); bound to the values' digest. The dataset's owner, who declared it,
    cannot confirm it even holding the role."""
    object_require_role(actor, dataset, COMPLIANCE_OFFICER, what="dataset")
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.owner_id == actor.pk:
        raise NotAllowed("You declared this dataset's metadata; another compliance officer must confirm it.")
    digest = selectors.dataset_metadata_digest(dataset=dataset)
    if dataset.metadata_confirmed_sha256 == digest and dataset.metadata_confirmed_by_id is not None:
        raise InvalidState("The metadata is already confirmed as it stands.")
    dataset.metadata_confirmed_by, dataset.metadata_confirmed_at = actor, timezone.now()
    dataset.metadata_confirmed_sha256 = digest
    dataset.save(update_fields=["metadata_confirmed_by", "metadata_confirmed_at", "metadata_confirmed_sha256"])
    audit_log_append(actor=actor, action="dataset.metadata_confirmed", obj=dataset,
                     payload={"sha256": digest, "lawful_basis": dataset.lawful_basis,
                              "dpia_reference": dataset.dpia_reference})
    dataset_metadata_changed.send(sender=Dataset, dataset=dataset, actor=actor)
    return dataset


# ------------------------------------------------------------------------------------------- datasheets
DATASHEET_TASK = "governance.build_datasheet"
DATASHEET_CONFIG = {"n_boot": 1000, "seed": 0, "min_group_size": 30}
MAX_SEED = 2**32 - 1


def _datasheet_request(*, actor, version: DatasetVersion) -> Job:
    """Queue the datasheet of a new version; the worker computes it after the upload commits."""
    job = jobs.job_create(kind=selectors.DATASHEET_JOB_KIND, subject=version, created_by=actor)
    enqueue(DATASHEET_TASK, job.pk)
    return job


def datasheet_build(*, job_id: int) -> None:
    """Compute and store one version's datasheet (called by the worker). A repeat changes nothing."""
    jobs.job_run(job_id=job_id, name="datasheet", load=lambda job: DatasetVersion.objects.get(pk=job.subject_id),
                 done=lambda version: Datasheet.objects.filter(version=version).exists(),
                 compute=_datasheet_compute, store=_datasheet_store, failed=_datasheet_failed)


def _datasheet_compute(version: DatasetVersion, job: Job) -> dict:
    from models_core.data.datasheet import build_datasheet

    jobs.job_progress(job=job, stage="loading rows", percent=1, force=True)
    rows, weights, sensitive = selectors.datasheet_inputs(version=version)
    data = build_datasheet(
        rows, version.text_column, version.label_column, sensitive,
        weights=weights if any(w != 1.0 for w in weights) else None,
        positive_label=selectors.datasheet_positive_label(version=version), **DATASHEET_CONFIG,
        progress=lambda p: jobs.job_progress(
            job=job, stage=p.get("stage", "datasheet").removeprefix("datasheet_").replace("_", " "),
            percent=p.get("percent", 0.0)))
    if sensitive == [selectors.ALL_ROWS]:
        data["missing"].pop(selectors.ALL_ROWS, None)
        data["vocabulary"]["attributes"] = {}
    return data


@transaction.atomic
def _datasheet_store(version: DatasetVersion, job: Job, data: dict) -> None:
    # NO KEY UPDATE serialises two stores for one version without blocking the foreign-key checks (KEY SHARE)
    # of transactions that reference the version, e.g. a training request that holds the audit-log lock.
    DatasetVersion.objects.select_for_update(no_key=True).get(pk=version.pk)
    if Datasheet.objects.filter(version=version).exists():
        jobs.job_complete(job=job)
        return
    # Round-trip through canonical JSON so the digest matches what is stored and read back.
    body = canonical_json(data)
    sheet = Datasheet.objects.create(version=version, data=json.loads(body),
                                     sha256=hashlib.sha256(body.encode()).hexdigest())
    audit_log_append(actor=job.created_by, action="datasheet.built", obj=version,
                     payload={"datasheet_sha256": sheet.sha256, "dataset_sha256": version.sha256,
                              "weighted": data["config"]["weighted"], "rows": data["n_rows"], "job": job.pk})
    jobs.job_complete(job=job)


@transaction.atomic
def _datasheet_failed(version: DatasetVersion, job_id: int, error: str) -> None:
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=Job.objects.get(pk=job_id).created_by, action="datasheet.failed", obj=version,
                     payload={"error": text_digest(error), "job": job_id})


def _check_correctable(version: DatasetVersion) -> None:
    if not version.sensitive_attributes:
        raise ValidationFailed(f"{version} declares no sensitive attribute, so there is no group to balance.")
    if DatasetRecord.objects.filter(version=version).exclude(weight=1.0).exists():
        raise ValidationFailed(f"{version} already carries row weights; correct the version it was derived from "
                               f"instead.")


def _rows_digest(rows: list[dict]) -> str:
    """SHA-256 of a derived version's rows (canonical JSON lines), standing in for a file digest."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(canonical_json([row["subject_id"], row["text"], row["label"], row["attributes"],
                                      row["weight"]]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


@transaction.atomic
def dataset_version_derive(*, actor, source: DatasetVersion, note: str, rows: list[dict]) -> DatasetVersion:
    """A new version of `source`'s dataset (parent = `source`, same columns and labels) holding `rows`, its
    digest taken over the rows; used by the corrections here and by compliance (erasure, pseudonymisation)."""
    mapping = ColumnMapping(text=source.text_column, label=source.label_column, subject=source.subject_column,
                            sensitive=tuple(source.sensitive_attributes))
    return _version_create(actor=actor, dataset=source.dataset, mapping=mapping, sha256=_rows_digest(rows),
                           file_name=source.file_name, file_format=source.file_format,
                           label_names=list(source.label_names), positive=source.positive_label, note=note,
                           parent=source, rows=rows)


@transaction.atomic
def dataset_version_pseudonymise(*, actor, version: DatasetVersion) -> DatasetVersion:
    """A new version (parent = `version`) whose texts have every finding replaced by its keyed token."""
    from models_core.pii import pseudonymise_texts

    if actor is not None:
        object_require_role(actor, version, ML_ENGINEER, COMPLIANCE_OFFICER, what="dataset version")
    scan = PiiScan.objects.filter(version=version).first()
    if scan is None:
        raise InvalidState(f"The PII scan of {version} has not finished yet; pseudonymise after it has.")
    if scan.data.get("findings_total", 0) == 0:
        raise InvalidState(f"The PII scan found no personal data in {version}'s texts; nothing to pseudonymise.")
    records = list(DatasetRecord.objects.filter(version=version).order_by("row_index")
                   .values_list("subject_id", "text", "label", "attributes", "weight"))
    texts, report = pseudonymise_texts([r[1] for r in records], pseudonymisation_key(version))
    rows = [{"subject_id": s, "text": text, "label": label, "attributes": a, "weight": w}
            for (s, _, label, a, w), text in zip(records, texts)]
    replaced = sum(report["replacements"].values())
    new = dataset_version_derive(actor=actor, source=version, rows=rows,
                                 note=f"Pseudonymised v{version.version}: {replaced} PII value(s) in "
                                      f"{report['rows_changed']} row(s) replaced by keyed tokens.")
    audit_log_append(actor=actor, action="dataset_version.pseudonymised", obj=new,
                     payload={"source": version.pk, "source_sha256": version.sha256, "sha256": new.sha256,
                              "rows_changed": report["rows_changed"], "replacements": report["replacements"],
                              "key_fingerprint": report["key_fingerprint"], "collisions": report["collisions"]})
    pii_scan_request(actor=actor, version=new)
    return new


def _record_of(version: DatasetVersion, row: dict, weight: float) -> dict:
    return {"subject_id": row[version.subject_column], "text": row[version.text_column],
            "label": row[version.label_column],
            "attributes": {a: row[a] for a in version.sensitive_attributes}, "weight": weight}


@transaction.atomic
def dataset_version_reweigh(*, actor, version: DatasetVersion) -> DatasetVersion:
    """A new version with the same rows, weighted per (group, label) so that the label is independent of
    every sensitive group (Kamiran & Calders reweighing); training on it uses the weights."""
    from models_core.data.reweighing import reweighing_weights

    object_require_role(actor, version, ML_ENGINEER, what="dataset version")
    _check_correctable(version)
    rows, _ = selectors.datasheet_rows(version=version)
    weights = reweighing_weights(rows, version.label_column, list(version.sensitive_attributes))
    groups = " × ".join(version.sensitive_attributes)
    new = dataset_version_derive(
        actor=actor, source=version, rows=[_record_of(version, r, w) for r, w in zip(rows, weights)],
        note=f"Reweighed v{version.version}: weight P(group)·P(label)/P(group, label) per {groups} × label.")
    cells = sorted({(" × ".join(str(r[a]) for a in version.sensitive_attributes), r[version.label_column], w)
                    for r, w in zip(rows, weights)})
    audit_log_append(actor=actor, action="dataset_version.reweighed", obj=new,
                     payload={"source": version.pk, "source_sha256": version.sha256, "sha256": new.sha256,
                              "method": "reweighing (Kamiran & Calders 2012)",
                              "weights": [{"group": g, "label": y, "weight": w} for g, y, w in cells]})
    return new


@transaction.atomic
def dataset_version_resample(*, actor, version: DatasetVersion, seed: int = 0) -> DatasetVersion:
    """A new version whose rows are a stratified resample of `version`: each group keeps its size and its
    labels follow the overall label distribution (Kamiran & Calders uniform resampling)."""
    from models_core.data.reweighing import stratified_resample

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"The seed must be a whole number from 0 to {MAX_SEED}.", field="seed")
    object_require_role(actor, version, ML_ENGINEER, what="dataset version")
    _check_correctable(version)
    rows, _ = selectors.datasheet_rows(version=version)
    resampled = stratified_resample(rows, version.label_column, list(version.sensitive_attributes), seed=seed)
    groups = " × ".join(version.sensitive_attributes)
    new = dataset_version_derive(
        actor=actor, source=version, rows=[_record_of(version, r, 1.0) for r in resampled],
        note=f"Stratified resample of v{version.version} (seed {seed}): each {groups} group keeps its size, "
             f"its labels drawn to the overall label distribution.")
    audit_log_append(actor=actor, action="dataset_version.resampled", obj=new,
                     payload={"source": version.pk, "source_sha256": version.sha256, "sha256": new.sha256,
                              "method": "stratified resampling (Kamiran & Calders 2012)", "seed": seed,
                              "rows": len(resampled)})
    return new


# ---------------------------------------------------------------------------------------------- drift
DRIFT_TASK = "governance.compute_dataset_drift"


@transaction.atomic
def dataset_drift_request(*, actor, version: DatasetVersion,
                          against: DatasetVersion) -> tuple[DatasetDrift, Job | None]:
    """The stored drift of `version` against `against`, queueing its computation the first time (or again
    after a failure). Returns the drift row and its job (None when the result is already stored)."""
    if actor is not None:
        object_require_visible(actor, version, what="dataset version")
        object_require_visible(actor, against, what="dataset version")
    selectors.dataset_drift_check(version=version, against=against)
    drift, _ = DatasetDrift.objects.get_or_create(version=version, against=against)
    drift = DatasetDrift.objects.select_for_update(no_key=True).get(pk=drift.pk)
    if drift.data is not None:
        return drift, None
    job = selectors.drift_job(drift=drift)
    if job is None or job.status == JobStatus.FAILED:
        job = jobs.job_create(kind=selectors.DRIFT_JOB_KIND, subject=drift, created_by=actor)
        enqueue(DRIFT_TASK, job.pk)
    return drift, job


def dataset_drift_compute(*, job_id: int) -> None:
    """Compute and store one pair's drift (called by the worker). A repeat changes nothing."""
    jobs.job_run(job_id=job_id, name="drift",
                 load=lambda job: DatasetDrift.objects.select_related("version", "against").get(pk=job.subject_id),
                 done=lambda drift: drift.data is not None, compute=_drift_compute, store=_dataset_drift_store)


def _drift_compute(drift: DatasetDrift, job: Job) -> dict:
    jobs.job_progress(job=job, stage="loading rows", percent=1, force=True)
    return selectors.dataset_drift_between(
        version=drift.version, against=drift.against,
        progress=lambda p: jobs.job_progress(
            job=job, stage=p.get("stage", "drift").removeprefix("drift_").replace("_", " "),
            percent=p.get("percent", 0.0)))["drift"]


@transaction.atomic
def _dataset_drift_store(drift: DatasetDrift, job: Job, data: dict) -> None:
    locked = DatasetDrift.objects.select_for_update(no_key=True).get(pk=drift.pk)
    if locked.data is None:
        body = canonical_json(data)
        locked.data, locked.sha256 = json.loads(body), hashlib.sha256(body.encode()).hexdigest()
        locked.computed_at = timezone.now()
        locked.save(update_fields=["data", "sha256", "computed_at"])
        audit_log_append(actor=job.created_by, action="dataset_drift.computed", obj=locked,
                         payload={"version": drift.version_id, "against": drift.against_id,
                                  "version_sha256": drift.version.sha256, "against_sha256": drift.against.sha256,
                                  "drift_sha256": locked.sha256, "job": job.pk})
    jobs.job_complete(job=job)
