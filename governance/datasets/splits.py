"""Splits of a dataset version into train / validation / holdout child versions, and the reads around them
(the matching part to train or audit on, the rows two versions share).

A split is by subject (one person's rows all land in one part), stratified by label and the version's
sensitive attributes, seeded (models_core.data.splits). Each part is a governed child version (parent = the
source, its own digest, datasheet and audit-log entry); the DatasetSplit row ties them together.
"""

from __future__ import annotations

import hashlib

from django.db import connection, transaction

from governance.accounts.predicates import object_require_role
from governance.auditlog.services import audit_log_append
from governance.datasets.models import DatasetRecord, DatasetSplit, DatasetVersion
from governance.errors import ValidationFailed
from governance.roles import ML_ENGINEER

DEFAULT_SHARES = {"train": 0.7, "validation": 0.15, "holdout": 0.15}
MAX_SEED = 2**32 - 1


def _strata_key(attributes: dict, sensitive: list[str]) -> str:
    return " × ".join(str(attributes.get(a, "") or "(missing)") for a in sensitive) or "(all rows)"


@transaction.atomic
def dataset_version_split(*, actor, version: DatasetVersion, shares: dict[str, float] | None = None,
                          seed: int = 0) -> DatasetSplit:
    """Split `version` into child versions, one per part with a positive share; all or nothing."""
    from governance.datasets.services import dataset_version_derive
    from models_core.data.splits import check_shares, split_by_subject, split_summary
    from models_core.errors import InputError

    object_require_role(actor, version, ML_ENGINEER, what="dataset version")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValidationFailed(f"The seed must be a whole number from 0 to {MAX_SEED}.", field="seed")
    try:
        shares = check_shares(dict(shares or DEFAULT_SHARES))
    except InputError as exc:
        raise ValidationFailed(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", field="shares") from exc
    # Serialise splits of one version (NO KEY UPDATE: foreign-key checks of other transactions go on).
    version = DatasetVersion.objects.select_for_update(no_key=True).select_related("dataset").get(pk=version.pk)
    records = list(DatasetRecord.objects.filter(version=version).order_by("row_index")
                   .values_list("subject_id", "text", "label", "attributes", "weight"))
    sensitive = list(version.sensitive_attributes)
    subjects = [r[0] for r in records]
    labels = [r[2] for r in records]
    strata = [_strata_key(r[3], sensitive) for r in records]
    assignment = split_by_subject(subjects, labels, strata, shares, seed)
    summary = split_summary(assignment, labels, strata)
    empty = [name for name in shares if name not in summary]
    if empty:
        raise ValidationFailed(f"{version} has too few subjects ({len(set(subjects))}) for these shares: "
                               f"{', '.join(empty)} would be empty.", field="shares")
    digest = hashlib.sha256("\n".join(assignment).encode()).hexdigest()
    split = DatasetSplit.objects.create(source=version, seed=seed, shares=shares, stratified_by=["label", *sensitive],
                                        summary=summary, sha256=digest, created_by=actor)
    percent = ", ".join(f"{name} {shares[name]:.0%}" for name in shares)
    parts = {}
    for name in shares:
        rows = [{"subject_id": s, "text": t, "label": y, "attributes": a, "weight": w}
                for (s, t, y, a, w), part in zip(records, assignment) if part == name]
        child = dataset_version_derive(
            actor=actor, source=version, rows=rows,
            note=f"{name.capitalize()} part of a split of v{version.version} ({percent}; seed {seed}; by subject, "
                 f"stratified by label{' and ' + ', '.join(sensitive) if sensitive else ''}).")
        DatasetVersion.objects.filter(pk=child.pk).update(split=split, split_role=name)
        parts[name] = child.pk
    audit_log_append(actor=actor, action="dataset_version.split", obj=version,
                     payload={"split": split.pk, "source_sha256": version.sha256, "seed": seed, "shares": shares,
                              "by": "subject", "stratified_by": ["label", *sensitive], "assignment_sha256": digest,
                              "parts": parts, "rows": {k: v["rows"] for k, v in summary.items()}})
    return split


def split_part(*, version: DatasetVersion | None, role: str) -> DatasetVersion | None:
    """The part `role` of the split `version` belongs to (a sibling, or itself), else None."""
    if version is None or version.split_id is None:
        return None
    return DatasetVersion.objects.filter(split_id=version.split_id, split_role=role).first()


def split_parts(*, version: DatasetVersion) -> list[DatasetSplit]:
    """The splits made of `version`, newest first, with their parts."""
    return list(DatasetSplit.objects.filter(source=version).prefetch_related("parts"))


def rows_in_common(*, version: DatasetVersion, other: DatasetVersion) -> int:
    """How many rows of `version` are also rows of `other` (same subject id and the same text).

    The subject-id index finds the candidates; on a large version this is one indexed semi-join."""
    if version.pk == other.pk:
        return version.row_count
    table = connection.ops.quote_name(DatasetRecord._meta.db_table)
    with connection.cursor() as cursor:
        # the table name is the model's own (quoted), the values are parameters
        cursor.execute(f"SELECT count(*) FROM {table} a WHERE a.version_id = %s AND EXISTS (SELECT 1 FROM {table} b "  # nosec B608
                       f"WHERE b.version_id = %s AND b.subject_id = a.subject_id AND b.text = a.text)",
                       [version.pk, other.pk])
        return int(cursor.fetchone()[0])
