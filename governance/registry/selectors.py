from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from governance.registry.models import Deployment, Model, ModelVersion, PretrainedEncoder


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


def pretrained_encoder_list() -> QuerySet[PretrainedEncoder]:
    return (PretrainedEncoder.objects.select_related("uploaded_by").annotate(used_by=Count("model_versions"))
            .order_by("name"))


COMPUTE_SUMS = ("wall_s", "cpu_s", "flops", "tokens", "energy_wh", "model_evaluations")


def _compute_part(records: list[dict]) -> dict:
    """The sum of stored compute records; `not_recorded` names the figures some records lack (explanations
    record only wall time and model evaluations), so a sum is never mistaken for complete."""
    part: dict = {"records": len(records), "energy_assumptions": sorted({r["energy_assumption"] for r in records
                                                                          if r.get("energy_assumption")})}
    for key in COMPUTE_SUMS:
        values = [r[key] for r in records if isinstance(r.get(key), (int, float))]
        part[key] = (int(sum(values)) if key in ("flops", "tokens", "model_evaluations")
                     else round(float(sum(values)), 6)) if values else None
        if records and len(values) < len(records) and key != "model_evaluations":
            part.setdefault("not_recorded", []).append(key)
    return part


def compute_summary(*, model: Model | None = None, model_version: ModelVersion | None = None) -> dict:
    """Compute used by a model (all its versions) or one version: training (each version's record),
    inference (each audit's "compute" result) and explanations (the "compute" inside each audit's
    "explanations" result), summed. Two queries whatever the number of versions and audits; only the
    compute part of an explanations result leaves the database."""
    from django.db.models import Case, F, JSONField, When
    from django.db.models.fields.json import KeyTransform

    from governance.audits.models import AuditResult

    versions = ModelVersion.objects.filter(model=model) if model is not None else ModelVersion.objects.filter(
        pk=model_version.pk)
    training = [c for c in versions.values_list("compute", flat=True) if c]
    results = (AuditResult.objects.filter(audit__model_version__in=versions.values("pk"),
                                          kind__in=("compute", "explanations"))
               .annotate(part=Case(When(kind="compute", then=F("data")),
                                   default=KeyTransform("compute", "data"), output_field=JSONField()))
               .values_list("kind", "part"))
    inference, explanations = [], []
    for kind, part in results:
        if isinstance(part, dict) and part:
            (inference if kind == "compute" else explanations).append(part)
    parts = {"training": _compute_part(training), "inference": _compute_part(inference),
             "explanations": _compute_part(explanations)}
    parts["total"] = _compute_part(training + inference + explanations)
    return parts
