"""The retention purge: remove records held longer than their dataset's retention period (Art. 5(1)(e)).

A record's age is its dataset version's upload time (records carry no timestamp of their own). Run daily
by django-celery-beat (task governance.retention_purge, registered by migration compliance 0003).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from governance.auditlog.services import audit_log_append
from governance.audits.models import Audit, Prediction
from governance.compliance.models import RetentionRun
from governance.compliance.subject_requests import redact_explanations
from governance.datasets.models import DatasetRecord, DatasetVersion

TASK_NAME = "governance.retention_purge"


def versions_past_retention(*, now: datetime) -> list[DatasetVersion]:
    """Versions older than their dataset's retention period that still hold records."""
    candidates = (DatasetVersion.objects.select_related("dataset").filter(dataset__retention_days__isnull=False)
                  .order_by("dataset__name", "version"))
    return [v for v in candidates
            if v.created_at < now - timedelta(days=v.dataset.retention_days)
            and DatasetRecord.objects.filter(version=v).exists()]


@transaction.atomic
def retention_purge(*, actor=None, now: datetime | None = None) -> RetentionRun:
    """Delete the records (and the audit predictions about them, and their text in stored explanations) of
    every version past its retention period; log what was removed, as counts."""
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=timezone.now(),
                                      triggered_by=getattr(actor, "username", "") or "schedule")
    removed = []
    for version in versions_past_retention(now=now):
        records = DatasetRecord.objects.filter(version=version)
        redacted = redact_explanations(positions_by_audit=dict.fromkeys(
            Audit.objects.filter(dataset_version=version).values_list("pk", flat=True)))
        predictions = Prediction.objects.filter(record__in=records)
        n_predictions = predictions.count()
        predictions.delete()
        n_records = records.count()
        records.delete()
        version.row_count = 0
        version.save(update_fields=["row_count"])
        removed.append({"dataset": version.dataset.name, "dataset_version": version.pk, "version": version.version,
                        "uploaded_at": version.created_at.isoformat(),
                        "retention_days": version.dataset.retention_days, "records": n_records,
                        "predictions": n_predictions, "explanations_redacted": redacted})
    run.removed = removed
    run.records_removed = sum(r["records"] for r in removed)
    run.predictions_removed = sum(r["predictions"] for r in removed)
    run.finished_at = timezone.now()
    run.save(update_fields=["removed", "records_removed", "predictions_removed", "finished_at"])
    audit_log_append(actor=actor, action="retention.purged", obj=run,
                     payload={"as_of": now.isoformat(), "records_removed": run.records_removed,
                              "predictions_removed": run.predictions_removed, "removed": removed})
    return run
