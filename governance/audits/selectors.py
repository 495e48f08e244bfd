from __future__ import annotations

from django.db.models import QuerySet

from governance.audits.models import Audit


def audit_list() -> QuerySet[Audit]:
    return Audit.objects.select_related("model_version__model", "dataset_version__dataset", "requested_by")


def audit_get(*, audit_id: int) -> Audit:
    return audit_list().get(pk=audit_id)


def audit_results(*, audit: Audit) -> dict:
    return {r.kind: r.data for r in audit.results.all()}
