"""Writes of the datasets domain."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from governance.compliance.services import audit_log_append
from governance.datasets.choices import LawfulBasis
from governance.datasets.models import Dataset, DatasetRecord, DatasetVersion
from governance.datasets.parsing import ColumnMapping, parse_file, validate_rows
from governance.errors import ValidationFailed

METADATA_FIELDS = ("description", "lawful_basis", "purposes", "data_subject_categories",
                   "personal_data_categories", "special_categories", "recipients", "third_country_transfers",
                   "transfer_safeguards", "retention_days", "source", "dpia_reference")


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
                   dataset: Dataset | None = None, note: str = "", **metadata) -> DatasetVersion:
    """Create a dataset (or a new version of `dataset`) from an uploaded file, all or nothing."""
    if len(raw) > settings.DATASET_UPLOAD_MAX_BYTES:
        raise ValidationFailed(f"The file is larger than {settings.DATASET_UPLOAD_MAX_BYTES // (1024 * 1024)} MB.",
                               field="file")
    if dataset is None:
        name = (name or "").strip()
        if not name:
            raise ValidationFailed("A dataset needs a name.", field="name")
        if Dataset.objects.filter(name=name).exists():
            raise ValidationFailed(f"A dataset named '{name}' exists; upload a new version of it instead.",
                                   field="name")
        _check_metadata(metadata)
    mapping = ColumnMapping(text=text_column.strip(), label=label_column.strip(), subject=subject_column.strip(),
                            sensitive=tuple(s.strip() for s in sensitive_attributes if s.strip()))
    parsed = parse_file(raw, file_name=file_name, file_format=file_format)
    label_names, positive = validate_rows(parsed, mapping)
    if dataset is None:
        dataset = Dataset.objects.create(name=name, owner=actor, **metadata)
        audit_log_append(actor=actor, action="dataset.created", obj=dataset,
                         payload={"name": name, **{k: metadata[k] for k in sorted(metadata)}})
    return _version_create(actor=actor, dataset=dataset, mapping=mapping, sha256=parsed.sha256,
                           file_name=file_name, file_format=parsed.file_format, label_names=label_names,
                           positive=positive, note=note, parent=None,
                           rows=[{"subject_id": r[mapping.subject].strip(), "text": r[mapping.text],
                                  "label": r[mapping.label].strip(),
                                  "attributes": {s: r[s].strip() for s in mapping.sensitive}, "weight": 1.0}
                                 for r in parsed.rows])


def _version_create(*, actor, dataset: Dataset, mapping: ColumnMapping, sha256: str, file_name: str,
                    file_format: str, label_names: list[str], positive: str, note: str,
                    parent: DatasetVersion | None, rows: list[dict]) -> DatasetVersion:
    last = dataset.versions.select_for_update().order_by("-version").first()
    version = DatasetVersion.objects.create(
        dataset=dataset, version=(last.version + 1) if last else 1, parent=parent, note=note, sha256=sha256,
        row_count=len(rows), file_name=file_name, file_format=file_format, text_column=mapping.text,
        label_column=mapping.label, subject_column=mapping.subject, sensitive_attributes=list(mapping.sensitive),
        label_names=label_names, positive_label=positive, created_by=actor)
    DatasetRecord.objects.bulk_create(
        (DatasetRecord(version=version, row_index=i, **row) for i, row in enumerate(rows)), batch_size=2000)
    audit_log_append(actor=actor, action="dataset_version.created", obj=version,
                     payload={"dataset": dataset.name, "version": version.version, "sha256": sha256,
                              "rows": len(rows), "parent": parent.pk if parent else None,
                              "columns": {"text": mapping.text, "label": mapping.label, "subject": mapping.subject,
                                          "sensitive": list(mapping.sensitive)}})
    return version


@transaction.atomic
def dataset_metadata_update(*, actor, dataset: Dataset, **metadata) -> Dataset:
    merged = {f: getattr(dataset, f) for f in METADATA_FIELDS} | metadata
    _check_metadata(merged)
    for field, value in metadata.items():
        setattr(dataset, field, value)
    dataset.save()
    audit_log_append(actor=actor, action="dataset.metadata_updated", obj=dataset,
                     payload={k: metadata[k] for k in sorted(metadata)})
    return dataset
