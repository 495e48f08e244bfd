from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from governance.registry.models import Deployment, Model, ModelVersion


def model_list() -> QuerySet[Model]:
    return Model.objects.select_related("owner").annotate(version_count=Count("versions"),
                                                          latest_version=Max("versions__version"))


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("model", "dataset_version__dataset", "created_by")


def model_version_get(*, version_id: int) -> ModelVersion:
    return model_version_list().select_related("parent").get(pk=version_id)


def deployments_of(*, model: Model) -> QuerySet[Deployment]:
    return Deployment.objects.filter(model_version__model=model).select_related("model_version")


def current_deployments(*, model_version: ModelVersion) -> QuerySet[Deployment]:
    return Deployment.objects.filter(model_version=model_version, ended_at__isnull=True)


def deployments_at(*, at, environment: str | None = None, model_id: int | None = None) -> QuerySet[Deployment]:
    """What served at time `at`: started at or before it and not ended by then (ended_at is exclusive)."""
    qs = (Deployment.objects.filter(started_at__lte=at).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
          .select_related("model_version__model", "request"))
    if environment:
        qs = qs.filter(environment=environment)
    if model_id:
        qs = qs.filter(model_version__model_id=model_id)
    return qs.order_by("model_version__model__name", "environment")


def deployment_timeline(*, model: Model) -> list[dict]:
    """Per environment, the serving periods oldest first, with their share of the whole span (for bars)."""
    from django.utils import timezone

    now = timezone.now()
    rows = list(deployments_of(model=model).select_related("request").order_by("started_at"))
    if not rows:
        return []
    start = rows[0].started_at
    span = max((now - start).total_seconds(), 1.0)
    lanes = []
    for env in sorted({d.environment for d in rows}):
        periods = []
        for d in (r for r in rows if r.environment == env):
            end = d.ended_at or now
            periods.append({"deployment": d, "offset": 100 * (d.started_at - start).total_seconds() / span,
                            "width": max(0.5, 100 * (end - d.started_at).total_seconds() / span)})
        lanes.append({"environment": env, "periods": periods})
    return lanes


def model_search(*, filters) -> QuerySet[Model]:
    """Models matching a list page's filters: `q` in the name or the owner's username; `dataset`: a version
    of the model was trained on a version of that dataset."""
    from django.db.models import Exists, OuterRef

    qs = filters.apply(model_list(), search=("name__icontains", "owner__username__icontains"))
    if filters.dataset:
        qs = qs.filter(Exists(ModelVersion.objects.filter(model=OuterRef("pk"),
                                                          dataset_version__dataset_id=filters.dataset)))
    return qs.order_by("name")
