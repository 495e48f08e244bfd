"""Reads of the GDPR and AI Act records: subject requests, erasure decisions, retention runs, the profile, and
the rows the compliance pages list (datasets' metadata, model versions for Annex IV)."""

from __future__ import annotations

from typing import Any, Mapping

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask

from governance.accounts.predicates import project_scoped
from governance.compliance.models import (ErasureImpact, ModelDecision, ModelDocumentation, OrganisationProfile,
                                          RetentionRun, SubjectRequest, SubjectRequestStatus)
from governance.compliance.subjects import subject_hash
from governance.datasets.models import Dataset
from governance.list_filters import narrowed, ordered, searched
from governance.registry.models import Model, ModelVersion

SUBJECT_REQUEST_FILTERS = {"kind": "kind", "status": "status", "received_after": "received_on__gte",
                           "received_before": "received_on__lt"}
SUBJECT_REQUEST_ORDERING = {"id": "pk", "created_at": "created_at", "received_on": "received_on",
                            "closed_at": "closed_at"}
RETENTION_RUN_FILTERS = {"triggered_by": "triggered_by", "started_after": "started_at__gte",
                         "started_before": "started_at__lt"}
RETENTION_RUN_ORDERING = {"id": "pk", "started_at": "started_at", "records_removed": "records_removed"}


def subject_request_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[SubjectRequest]:
    """Data subject requests, newest first, with their erasure impacts. `filters`: q (reference contains),
    subject (the requests about this subject, found by its hash: also those whose identifier an erasure
    blanked), kind, status, received_after/before, ordering (a key of SUBJECT_REQUEST_ORDERING)."""
    filters = filters or {}
    qs = searched(SubjectRequest.objects.prefetch_related("impacts__model_version__model"), filters.get("q", ""),
                  fields=("reference__icontains",))
    if filters.get("subject"):
        qs = qs.filter(subject_hash=subject_hash(filters["subject"]))
    return ordered(narrowed(qs, filters, SUBJECT_REQUEST_FILTERS), filters.get("ordering", ""),
                   fields=SUBJECT_REQUEST_ORDERING, default="-created_at")


def subject_requests_open(*, limit: int = 10) -> QuerySet[SubjectRequest]:
    """Open requests, the soonest due first."""
    return SubjectRequest.objects.filter(status=SubjectRequestStatus.OPEN).order_by("due_on")[:limit]


def erasure_impacts_pending() -> QuerySet[ErasureImpact]:
    """Model versions an erasure flagged and nobody decided on yet."""
    return (ErasureImpact.objects.filter(decision=ModelDecision.PENDING)
            .select_related("request", "model_version__model"))


def erasure_impact_list(*, request: SubjectRequest) -> QuerySet[ErasureImpact]:
    """The model versions one erasure flagged, with what was retrained for them."""
    return request.impacts.select_related("model_version__model", "retrained_model_version__model",
                                          "retrained_dataset_version__dataset")


def retention_run_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[RetentionRun]:
    """Retention purges, latest first. `filters`: triggered_by, started_after/before, ordering (a key of
    RETENTION_RUN_ORDERING)."""
    filters = filters or {}
    return ordered(narrowed(RetentionRun.objects.all(), filters, RETENTION_RUN_FILTERS), filters.get("ordering", ""),
                   fields=RETENTION_RUN_ORDERING, default="-started_at")


def retention_schedule(*, task: str) -> PeriodicTask | None:
    """The beat entry that runs the purge (`task`: retention.TASK_NAME) daily, when it exists (migration
    compliance 0003 registers it)."""
    return PeriodicTask.objects.filter(task=task).select_related("crontab").first()


def organisation_profile() -> OrganisationProfile:
    return OrganisationProfile.objects.filter(id=1).first() or OrganisationProfile(id=1)


def annex_iv_versions(*, user) -> QuerySet[ModelVersion]:
    """The model versions of the projects `user` sees, by model, newest first: each has Annex IV
    documentation to export."""
    return project_scoped(ModelVersion.objects.select_related("model"), user=user,
                          via="model__project").order_by("model__name", "-version")


def annex_iv_version(*, user) -> QuerySet[ModelVersion]:
    """The model versions of the projects `user` sees, with what their Annex IV documentation reads (get one
    by pk)."""
    return project_scoped(ModelVersion.objects.select_related("model", "dataset_version__dataset", "parent"),
                          user=user, via="model__project")


def model_documentation_get(*, model: Model) -> ModelDocumentation:
    """The model's written documentation, or an unsaved empty one."""
    return ModelDocumentation.objects.filter(model=model).first() or ModelDocumentation(model=model)


def dataset_metadata_list(*, user) -> QuerySet[Dataset]:
    """The datasets of the projects `user` sees, with their personal-data metadata, by name."""
    return project_scoped(Dataset.objects.select_related("owner", "project"), user=user).order_by("name")


def subject_mentions(*, subject_id: str) -> dict:
    """The subject's identifiers (from their own records) and the other records that mention them."""
    from governance.compliance.identifiers import records_traces
    from governance.compliance.subjects import subject_records

    records = list(subject_records(subject_id=subject_id))
    traces = records_traces(subject_id=subject_id, records=records)
    return {"identifiers": list(traces.identifiers), "mentions": all_mentions(traces=traces, subject_id=subject_id)}


def all_mentions(*, traces, subject_id: str) -> list[dict]:
    """Other people's dataset records that mention the subject, then the free text people wrote about
    deployments and requests that does (each entry names its store)."""
    from governance.approvals.erasure import approvals_mentions
    from governance.compliance.erasure import compliance_mentions
    from governance.datasets.erasure import record_mentions

    return ([{"store": "dataset records", **m} for m in record_mentions(traces=traces, exclude_subject=subject_id)]
            + approvals_mentions(traces=traces) + compliance_mentions(traces=traces))
