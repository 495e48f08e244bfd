"""The retention purge: remove records held longer than their dataset's retention period (Art. 5(1)(e)).

A record's age is its dataset version's upload time (records carry no timestamp of their own). Run daily
by django-celery-beat (task governance.retention_purge, registered by migration compliance 0003).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from governance.auditlog.services import audit_log_append
from governance.audits.models import Prediction
from governance.compliance.erasure import redaction_note, stores_clean, subjects_without_records, traces_of_records
from governance.compliance.identifiers import distinctive_terms, subject_identifiers
from governance.compliance.models import RetentionRun
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
    """Delete the records of every version past its retention period, and every trace of them: the same
    cleaning as an erasure (compliance/erasure.py; explained rows and counterfactual examples of the
    versions' audits blanked whole, their texts and the identifiers found in them redacted everywhere else,
    except the subject ids of people who still have records elsewhere); log what was removed, as counts."""
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=timezone.now(),
                                      triggered_by=getattr(actor, "username", "") or "schedule")
    versions = versions_past_retention(now=now)
    records = list(DatasetRecord.objects.select_for_update().filter(version__in=versions)
                   .only("pk", "version_id", "subject_id", "text", "attributes"))
    record_ids = {r.pk for r in records}
    predictions = dict(Prediction.objects.filter(record_id__in=record_ids).values("audit__dataset_version")
                       .annotate(n=Count("pk")).values_list("audit__dataset_version", "n"))
    found = subject_identifiers(subject_id="", texts=[r.text for r in records],
                                attributes=[r.attributes for r in records]) if records else []
    gone = subjects_without_records({r.subject_id for r in records}, leaving=record_ids)
    by_subject: dict[str, list[str]] = {}
    for r in records:
        by_subject.setdefault(r.subject_id, []).append(r.text)
    traces = traces_of_records(records, identifiers=[*found, *gone], terms=distinctive_terms(by_subject))
    cleaned = stores_clean(traces=traces, record_ids=record_ids,
                           rows_by_version=dict.fromkeys(v.pk for v in versions),
                           note=redaction_note(f"retention purge #{run.pk}"))
    counts = {r["dataset_version"]: r["records"] for r in cleaned["records"]}
    removed = [{"dataset": v.dataset.name, "dataset_version": v.pk, "version": v.version,
                "uploaded_at": v.created_at.isoformat(), "retention_days": v.dataset.retention_days,
                "records": counts.get(v.pk, 0), "predictions": predictions.get(v.pk, 0),
                "explanations_redacted": [r for r in cleaned["audit_results"] if r["result"] == "explanations"
                                          and r["audit"] in set(v.audits.values_list("pk", flat=True))]}
               for v in versions]
    run.removed = removed
    run.stores = cleaned["stores"]
    run.records_removed = sum(r["records"] for r in removed)
    run.predictions_removed = sum(r["predictions"] for r in removed)
    run.finished_at = timezone.now()
    run.save(update_fields=["removed", "stores", "records_removed", "predictions_removed", "finished_at"])
    audit_log_append(actor=actor, action="retention.purged", obj=run,
                     payload={"as_of": now.isoformat(), "records_removed": run.records_removed,
                              "predictions_removed": run.predictions_removed,
                              "dataset_versions": [r["dataset_version"] for r in removed],
                              "stores": {st["store"]: st["count"] for st in run.stores}})
    return run
