from __future__ import annotations

import hashlib
from typing import Any, Mapping

from django.db.models import Count, Max, QuerySet

from governance.accounts.predicates import object_has_role, project_scoped
from governance.auditlog.chain import canonical_json
from governance.datasets.choices import PERSONAL_DATA_FIELDS

from governance.datasets.models import Dataset, DatasetDrift, DatasetRecord, Datasheet, DatasetVersion
from governance.errors import ValidationFailed
from governance.jobs.models import Job
from governance.list_filters import ListFilters, narrowed, ordered, searched
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER

DATASHEET_JOB_KIND = "datasheet"
DRIFT_JOB_KIND = "drift"
# Stand-in attribute for a version that declares no sensitive attribute: its datasheet still has the quality
# checks and the overall label rate (one group, all rows), and drift still compares columns and texts.
ALL_ROWS = "(all rows)"


DATASET_FILTERS = {"project": "project_id", "owner": "owner__username", "lawful_basis": "lawful_basis",
                   "special_categories": "special_categories", "created_after": "created_at__gte",
                   "created_before": "created_at__lt"}
DATASET_SEARCH = ("name__icontains", "description__icontains", "owner__username__icontains")
DATASET_ORDERING = {"id": "pk", "name": "name", "created_at": "created_at", "latest_version": "latest_version"}
VERSION_FILTERS = {"project": "dataset__project_id", "dataset": "dataset_id", "file_format": "file_format", "sha256": "sha256",
                   "created_after": "created_at__gte", "created_before": "created_at__lt"}
VERSION_SEARCH = ("dataset__name__icontains", "note__icontains", "file_name__icontains")
VERSION_ORDERING = {"id": "pk", "created_at": "created_at", "version": "version", "row_count": "row_count",
                    "dataset": "dataset__name"}
RECORD_FILTERS = {"label": "label", "subject_id": "subject_id"}
RECORD_ORDERING = {"id": "pk", "row_index": "row_index", "label": "label", "subject_id": "subject_id"}


def dataset_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Dataset]:
    """The datasets of the projects `user` sees (None: all), with their version count and latest version
    number. `filters`: q (name, description or owner contains), project (id), owner (username), lawful_basis,
    special_categories, created_after/before, ordering (a key of DATASET_ORDERING, default name)."""
    filters = filters or {}
    qs = (project_scoped(Dataset.objects.select_related("owner", "project"), user=user)
          .annotate(version_count=Count("versions"), latest_version=Max("versions__version")))
    qs = narrowed(searched(qs, filters.get("q", ""), fields=DATASET_SEARCH), filters, DATASET_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=DATASET_ORDERING, default="name")


def dataset_version_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[DatasetVersion]:
    """The dataset versions of the projects `user` sees (None: all), newest first. `filters`: q (dataset name,
    note or file name contains), project, dataset, file_format, sha256, created_after/before, ordering (a key
    of VERSION_ORDERING)."""
    filters = filters or {}
    qs = project_scoped(DatasetVersion.objects.select_related("dataset", "created_by"), user=user,
                        via="dataset__project")
    qs = narrowed(searched(qs, filters.get("q", ""), fields=VERSION_SEARCH), filters, VERSION_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=VERSION_ORDERING, default="-created_at")


def dataset_record_list(*, version: DatasetVersion,
                        filters: Mapping[str, Any] | None = None) -> QuerySet[DatasetRecord]:
    """The records of one version in row order; `version` as the reader sees it (dataset_version_get, which
    scopes it to their projects). `filters`: q (text contains), label, subject_id, ordering (a key of
    RECORD_ORDERING)."""
    filters = filters or {}
    qs = searched(DatasetRecord.objects.filter(version=version), filters.get("q", ""),
                  fields=("text__icontains",))
    return ordered(narrowed(qs, filters, RECORD_FILTERS), filters.get("ordering", ""), fields=RECORD_ORDERING,
                   default="row_index")


def dataset_version_get(*, version_id: int, user) -> DatasetVersion:
    """The version, if `user` sees its project (None: the system); DatasetVersion.DoesNotExist otherwise."""
    qs = DatasetVersion.objects.select_related("dataset", "dataset__project", "created_by", "parent")
    return project_scoped(qs, user=user, via="dataset__project").get(pk=version_id)


def dataset_texts_readable_raw(*, user, version: DatasetVersion) -> bool:
    """ML engineers (who upload and train on the data) and compliance officers (who answer for it) of the
    version's project, or across the organisation, read the texts as stored; every other reader sees them with
    the personal data the PII scan finds masked."""
    return object_has_role(user, version, ML_ENGINEER, COMPLIANCE_OFFICER)


def dataset_get(*, dataset_id: int, user) -> Dataset:
    """The dataset, if `user` sees its project (None: the system); Dataset.DoesNotExist otherwise."""
    qs = Dataset.objects.select_related("owner", "project", "metadata_confirmed_by")
    return project_scoped(qs, user=user).get(pk=dataset_id)


def dataset_metadata_digest(*, dataset: Dataset) -> str:
    """The SHA-256 of the dataset's personal-data metadata as it stands (what a confirmation binds)."""
    values = {f: getattr(dataset, f) for f in PERSONAL_DATA_FIELDS}
    return hashlib.sha256(canonical_json(values).encode()).hexdigest()


def dataset_metadata_confirmation(*, dataset: Dataset) -> dict | None:
    """Who confirmed the metadata and when, or None: never confirmed, cleared by an edit, or the values
    changed behind the services' back (their digest no longer matches the confirmed one)."""
    if dataset.metadata_confirmed_by_id is None or not dataset.metadata_confirmed_sha256:
        return None
    if dataset.metadata_confirmed_sha256 != dataset_metadata_digest(dataset=dataset):
        return None
    return {"by": dataset.metadata_confirmed_by.username, "at": dataset.metadata_confirmed_at,
            "sha256": dataset.metadata_confirmed_sha256}


def dataset_versions_of(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    """A dataset's versions, newest first, with who created each."""
    return dataset.versions.select_related("created_by").order_by("-version")


def dataset_version_models(*, version: DatasetVersion) -> QuerySet:
    """The model versions trained on this dataset version, newest first (read through the reverse relation:
    the registry sits above datasets, so nothing is imported from it)."""
    return version.model_versions.select_related("model").order_by("-created_at")


def records_of(*, version: DatasetVersion) -> QuerySet[DatasetRecord]:
    return DatasetRecord.objects.filter(version=version).order_by("row_index")


def training_rows(*, version: DatasetVersion) -> tuple[list[str], list[int], list[float]]:
    """(texts, label indices, weights) of a version, in row order."""
    index = {name: i for i, name in enumerate(version.label_names)}
    rows = records_of(version=version).values_list("text", "label", "weight")
    texts, labels, weights = [], [], []
    for text, label, weight in rows.iterator(chunk_size=5000):
        texts.append(text)
        labels.append(index[label])
        weights.append(weight)
    return texts, labels, weights


def datasheet_get(version: DatasetVersion) -> Datasheet | None:
    """The stored datasheet of `version`, or None while its job has not finished (or failed). Its example
    texts (the duplicate groups' previews) are masked for display: the PII scan runs on them again here, so
    a datasheet computed before a recognizer existed (names, places) shows no more than a new one. The
    row's `data` is a display copy; the stored datasheet and its digest are untouched (never save it)."""
    sheet = Datasheet.objects.filter(version=version).first()
    if sheet is not None:
        sheet.data = datasheet_masked(sheet.data)
    return sheet


def datasheet_masked(data: dict) -> dict:
    from models_core.pii import redact_text

    duplicates = (data or {}).get("duplicates")
    if not isinstance(duplicates, dict):
        return data
    masked = {}
    for kind, table in duplicates.items():
        if isinstance(table, dict) and isinstance(table.get("largest"), list):
            table = {**table, "largest": [{**ex, "preview": redact_text(ex["preview"])}
                                          if isinstance(ex, dict) and isinstance(ex.get("preview"), str) else ex
                                          for ex in table["largest"]]}
        masked[kind] = table
    return {**data, "duplicates": masked}


def datasheet_job(*, version: DatasetVersion) -> Job | None:
    """The latest datasheet job of `version` (other jobs, e.g. a PII scan, share the same subject)."""
    return (Job.objects.filter(kind=DATASHEET_JOB_KIND, subject_type=DatasetVersion._meta.label_lower,
                               subject_id=version.pk).order_by("-created_at").first())


def datasheet_positive_label(*, version: DatasetVersion) -> str:
    """The label whose rate the datasheet reports: the positive one, or for more than two labels the last."""
    return version.positive_label or version.label_names[-1]


def datasheet_rows(*, version: DatasetVersion) -> tuple[list[dict], list[float]]:
    """A version's rows as flat dicts keyed by its own column names (what models_core.data.datasheet reads), and
    their weights, in row order."""
    sensitive = list(version.sensitive_attributes)
    rows, weights = [], []
    records = records_of(version=version).values_list("subject_id", "text", "label", "attributes", "weight")
    for subject, text, label, attributes, weight in records.iterator(chunk_size=5000):
        row = {version.subject_column: subject, version.text_column: text, version.label_column: label}
        row.update((a, attributes.get(a, "")) for a in sensitive)
        rows.append(row)
        weights.append(weight)
    return rows, weights


def _with_all_rows(rows: list[dict], sensitive: list[str]) -> list[str]:
    if sensitive:
        return sensitive
    for row in rows:
        row[ALL_ROWS] = "all"
    return [ALL_ROWS]


def datasheet_inputs(*, version: DatasetVersion) -> tuple[list[dict], list[float], list[str]]:
    """(rows, weights, sensitive attributes) for models_core.data.datasheet.build_datasheet."""
    rows, weights = datasheet_rows(version=version)
    return rows, weights, _with_all_rows(rows, list(version.sensitive_attributes))


def _columns(version: DatasetVersion) -> dict[str, str]:
    return {"text column": version.text_column, "label column": version.label_column,
            "sensitive attributes": ", ".join(sorted(version.sensitive_attributes)) or "none"}


def dataset_drift_check(*, version: DatasetVersion, against: DatasetVersion) -> None:
    """Refuse a pair that cannot be compared: the same version twice, or different columns."""
    if version.pk == against.pk:
        raise ValidationFailed("Pick two different versions to compare.", field="against")
    ca, cb = _columns(against), _columns(version)
    differ = [f"{key} '{ca[key]}' vs '{cb[key]}'" for key in ca if ca[key] != cb[key]]
    if differ:
        raise ValidationFailed(f"The versions have different columns: {'; '.join(differ)}.", field="against")


def dataset_drift_get(*, version: DatasetVersion, against: DatasetVersion) -> DatasetDrift | None:
    """The stored drift of the pair (its `data` is null while the worker computes it), or None."""
    return DatasetDrift.objects.filter(version=version, against=against).first()


def drift_job(*, drift: DatasetDrift) -> Job | None:
    return (Job.objects.filter(kind=DRIFT_JOB_KIND, subject_type=DatasetDrift._meta.label_lower,
                               subject_id=drift.pk).order_by("-created_at").first())


def dataset_drift_between(*, version: DatasetVersion, against: DatasetVersion, progress=None) -> dict:
    """How `version` differs from `against` (the reference, e.g. the data a model was trained on):
    models_core.data.drift.dataset_drift's result with the two version ids as "a" (against) and "b".
    The worker's computation; pages and the API read the stored DatasetDrift."""
    from models_core.data.drift import dataset_drift

    dataset_drift_check(version=version, against=against)
    rows_a, _ = datasheet_rows(version=against)
    rows_b, _ = datasheet_rows(version=version)
    sensitive = list(version.sensitive_attributes)
    placeholder = not sensitive
    sensitive = _with_all_rows(rows_a, sensitive)
    _with_all_rows(rows_b, list(version.sensitive_attributes))
    drift = dataset_drift(rows_a, rows_b, version.text_column, version.label_column, sensitive, progress=progress)
    if placeholder:
        drift["columns"].pop(ALL_ROWS, None)
        drift["missing"].pop(ALL_ROWS, None)
        drift["groups"] = {}
    return {"a": against.pk, "b": version.pk, "drift": drift}


def datasheet_summary(version: DatasetVersion) -> dict | None:
    """The datasheet's findings in a few keys, for documents that cite it (Annex IV's data section, Art. 10):
    per single attribute the reference group and each group's share and label rate with intervals, groups
    too small or one-sided, columns with missing values, duplicate counts. None while there is no datasheet."""
    sheet = datasheet_get(version)
    if sheet is None:
        return None
    data = sheet.data
    attributes = {}
    for name, s in data["slices"].items():
        if s["kind"] != "attribute" or name == ALL_ROWS:
            continue
        attributes[name] = {
            "reference_group": s["reference_group"], "max_abs_positive_rate_gap": s["max_abs_positive_rate_gap"],
            "groups": {g: {"rows": d["rows"], "share": d["share"], "positive_rate": d["positive_rate"],
                           "positive_rate_gap": d["positive_rate_gap"]} for g, d in s["groups"].items()}}
    intersections = {name: s["max_abs_positive_rate_gap"] for name, s in data["slices"].items()
                     if s["kind"] == "intersection"}
    return {
        "datasheet_sha256": sheet.sha256, "rows": data["n_rows"], "weighted": data["config"]["weighted"],
        "positive_label": data["labels"]["positive_label"], "ci": data["config"]["ci"],
        "label_distribution": {label: d["weighted_share"] for label, d in data["labels"]["distribution"].items()},
        "attributes": attributes, "intersections_max_abs_positive_rate_gap": intersections,
        "small_groups": data["small_groups"],
        "missing_values": {col: m["rows"] for col, m in data["missing"].items() if m["rows"]},
        "duplicates": {kind: {"duplicate_rows": d["duplicate_rows"],
                              "conflicting_label_groups": d["conflicting_label_groups"]}
                       for kind, d in data["duplicates"].items()},
        "group_revealing_terms": {attr: {g: [t["term"] for t in terms[:5]] for g, terms in groups.items()}
                                  for attr, groups in data["vocabulary"]["attributes"].items()},
    }


def dataset_search(*, user, filters: ListFilters) -> QuerySet[Dataset]:
    """Datasets `user` sees matching a list page's filters: `q` in the name, description or owner's username."""
    return dataset_list(user=user, filters=filters.as_dict())
