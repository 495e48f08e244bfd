from __future__ import annotations

from typing import Any, Mapping

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from governance import hooks
from governance.accounts.predicates import project_scoped
from governance.roles import ML_ENGINEER
from governance.permissions import user_has_role
from governance.jobs.selectors import job_for
from governance.list_filters import ListFilters, narrowed, ordered, searched
from governance.datasets.models import DatasetRecord, DatasetVersion
from governance.registry.models import Deployment, Model, ModelVersion, PretrainedEncoder

MODEL_FILTERS = {"project": "project_id", "owner": "owner__username", "created_after": "created_at__gte", "created_before": "created_at__lt"}
MODEL_SEARCH = ("name__icontains", "owner__username__icontains")
MODEL_ORDERING = {"id": "pk", "name": "name", "created_at": "created_at", "latest_version": "latest_version"}
VERSION_FILTERS = {"project": "model__project_id", "model": "model_id", "status": "status", "dataset_version": "dataset_version_id",
                   "dataset": "dataset_version__dataset_id", "pretrained_encoder": "pretrained_encoder_id",
                   "created_after": "created_at__gte", "created_before": "created_at__lt"}
VERSION_ORDERING = {"id": "pk", "created_at": "created_at", "trained_at": "trained_at", "version": "version",
                    "model": "model__name", "status": "status"}
DEPLOYMENT_FILTERS = {"environment": "environment", "kind": "kind", "model": "model_version__model_id",
                      "model_version": "model_version_id", "active": "ended_at__isnull",
                      "started_after": "started_at__gte", "started_before": "started_at__lt"}
DEPLOYMENT_STATUSES = {"serving": {"ended_at__isnull": True, "suspended_at__isnull": True},
                       "suspended": {"ended_at__isnull": True, "suspended_at__isnull": False},
                       "ended": {"ended_at__isnull": False}}
DEPLOYMENT_ORDERING = {"id": "pk", "started_at": "started_at", "ended_at": "ended_at", "environment": "environment"}
ENCODER_FILTERS = {"digest": "digest", "created_after": "created_at__gte", "created_before": "created_at__lt"}
ENCODER_ORDERING = {"id": "pk", "name": "name", "created_at": "created_at", "used_by": "used_by"}


def model_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Model]:
    """The models of the projects `user` sees (None: all), with their version count and latest version
    number. `filters`: q (name or owner contains), project, dataset (a version of the model was trained on a
    version of that dataset), owner (username), created_after/before, ordering (a key of MODEL_ORDERING)."""
    filters = filters or {}
    qs = project_scoped(Model.objects.select_related("owner", "project"), user=user).annotate(version_count=Count("versions"),
                                                        latest_version=Max("versions__version"))
    qs = narrowed(searched(qs, filters.get("q", ""), fields=MODEL_SEARCH), filters, MODEL_FILTERS)
    if filters.get("dataset"):
        qs = qs.filter(Exists(ModelVersion.objects.filter(model=OuterRef("pk"),
                                                          dataset_version__dataset_id=filters["dataset"])))
    return ordered(qs, filters.get("ordering", ""), fields=MODEL_ORDERING, default="name")


def model_version_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[ModelVersion]:
    """The model versions of the projects `user` sees (None: all), newest first. `filters`: project, model,
    status, dataset_version, dataset (trained on a version of it), pretrained_encoder, created_after/before,
    ordering (a key of VERSION_ORDERING)."""
    filters = filters or {}
    qs = project_scoped(ModelVersion.objects.select_related("model", "dataset_version__dataset", "created_by"),
                        user=user, via="model__project")
    qs = narrowed(qs, filters, VERSION_FILTERS)
    return ordered(qs, filters.get("ordering", ""), fields=VERSION_ORDERING, default="-created_at")


def deployment_list(*, user, filters: Mapping[str, Any] | None = None) -> QuerySet[Deployment]:
    """The deployments of the projects `user` sees (None: all), latest start first. `filters`: environment,
    kind, model, model_version, active (not ended), status (serving, suspended, ended), started_after/before,
    ordering (a key of DEPLOYMENT_ORDERING)."""
    filters = filters or {}
    qs = project_scoped(Deployment.objects.select_related("model_version__model"), user=user,
                        via="model_version__model__project")
    qs = narrowed(qs, filters, DEPLOYMENT_FILTERS)
    status = filters.get("status")
    if status:  # now: serving (not ended, not suspended), suspended (its request lost its approval), ended
        qs = qs.filter(**DEPLOYMENT_STATUSES[status])
    return ordered(qs, filters.get("ordering", ""), fields=DEPLOYMENT_ORDERING, default="-started_at")


def dataset_version_weighted(*, dataset_version: DatasetVersion) -> bool:
    """Whether any record carries a sample weight other than 1 (reweighing, say): training uses the weights."""
    return DatasetRecord.objects.filter(version=dataset_version).exclude(weight=1.0).exists()


def model_version_get(*, version_id: int, user) -> ModelVersion:
    """The version, if `user` sees its project (None: the system); ModelVersion.DoesNotExist otherwise."""
    return model_version_list(user=user).select_related("parent", "model__project").get(pk=version_id)


def model_get(*, model_id: int, user) -> Model:
    """The model, if `user` sees its project (None: the system); Model.DoesNotExist otherwise."""
    return project_scoped(Model.objects.select_related("owner", "project"), user=user).get(pk=model_id)


def model_page(*, model_id: int, user) -> dict:
    """A model's page (raises Model.DoesNotExist, also when `user` does not see its project): its versions
    newest first, deployments and compute used, and what upper apps add through
    governance.hooks.model_page_sections (serving: `monitoring`)."""
    model = model_get(model_id=model_id, user=user)
    return {"model": model, "versions": model_version_list(user=None).filter(model=model).order_by("-version"),
            "deployments": deployments_of(model=model), "compute": compute_summary(model=model),
            **hooks.model_page_sections.merged(model=model, user=user)}


def model_version_page(*, version_id: int, user) -> dict:
    """A model version's page (raises ModelVersion.DoesNotExist, also when `user` does not see its project):
    the version, its deployments, its training job, compute used, and what upper apps add through
    governance.hooks.model_version_page_sections (audits: `audits`, the version's audits)."""
    version = model_version_list(user=user).select_related("parent", "pretrained_encoder").get(pk=version_id)
    return {"version": version, "audits": [], **hooks.model_version_page_sections.merged(model_version=version),
            "deployments": version.deployments.all(), "job": job_for(version),
            "compute": compute_summary(model_version=version)}


def model_timeline_page(*, model: Model) -> dict:
    """A model's deployment timeline: one lane per environment, and the deployments with their requests."""
    return {"model": model, "lanes": deployment_timeline(model=model),
            "deployments": deployments_of(model=model).select_related("request")}


def deployments_of(*, model: Model) -> QuerySet[Deployment]:
    return Deployment.objects.filter(model_version__model=model).select_related("model_version")


def current_deployments(*, model_version: ModelVersion) -> QuerySet[Deployment]:
    return Deployment.objects.filter(model_version=model_version, ended_at__isnull=True)


def deployments_at(*, at, user, environment: str | None = None,
                   model_id: int | None = None) -> QuerySet[Deployment]:
    """What served at time `at` in the projects `user` sees (None: all): started at or before it and not ended
    by then (ended_at is exclusive)."""
    qs = (project_scoped(Deployment.objects.all(), user=user, via="model_version__model__project").filter(started_at__lte=at).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
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
            period = {"deployment": d, "offset": 100 * (d.started_at - start).total_seconds() / span,
                      "width": max(0.5, 100 * (end - d.started_at).total_seconds() / span),
                      "suspended_offset": None, "suspended_width": None}
            if d.suspended_at is not None:  # drawn over the period from the suspension to its end (or now)
                period["suspended_offset"] = 100 * (d.suspended_at - start).total_seconds() / span
                period["suspended_width"] = max(0.5, 100 * (end - d.suspended_at).total_seconds() / span)
            periods.append(period)
        lanes.append({"environment": env, "periods": periods})
    return lanes


def model_search(*, user, filters: ListFilters) -> QuerySet[Model]:
    """Models `user` sees matching a list page's filters: `q` in the name or the owner's username; `dataset`:
    a version of the model was trained on a version of that dataset."""
    return model_list(user=user, filters=filters.as_dict())


def pretrained_encoder_can_register(*, user) -> bool:
    """Who may register an external encoder on the page (its form and its POST): ML engineers, as the API's
    EngineerWrites permission."""
    return user.is_authenticated and user_has_role(user, ML_ENGINEER)


def pretrained_encoder_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[PretrainedEncoder]:
    """Registered encoders with the number of versions trained from each. `filters`: q (name or description
    contains), digest, created_after/before, ordering (a key of ENCODER_ORDERING, default name)."""
    filters = filters or {}
    qs = PretrainedEncoder.objects.select_related("uploaded_by").annotate(used_by=Count("model_versions"))
    qs = searched(qs, filters.get("q", ""), fields=("name__icontains", "description__icontains"))
    return ordered(narrowed(qs, filters, ENCODER_FILTERS), filters.get("ordering", ""), fields=ENCODER_ORDERING,
                   default="name")


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
    "explanations" result), summed. The audits' records come through governance.hooks.model_compute_records
    (audits sits above the registry): two queries whatever the number of versions and audits."""
    versions = ModelVersion.objects.filter(model=model) if model is not None else ModelVersion.objects.filter(
        pk=model_version.pk)
    training = [c for c in versions.values_list("compute", flat=True) if c]
    inference, explanations = [], []
    for records in hooks.model_compute_records.collect(versions=versions):  # audits' (above the registry)
        inference += records.get("inference", [])
        explanations += records.get("explanations", [])
    parts = {"training": _compute_part(training), "inference": _compute_part(inference),
             "explanations": _compute_part(explanations)}
    parts["total"] = _compute_part(training + inference + explanations)
    return parts


def training_suggested_dataset(*, user, dataset_version_id) -> int | str | None:
    """The dataset version to suggest for training from `dataset_version_id`: the train part of its newest split
    when it was split (or of the split it belongs to), else itself."""
    from django.core.exceptions import ObjectDoesNotExist

    from governance.datasets.models import DatasetSplit
    from governance.datasets.selectors import dataset_version_list
    from governance.datasets.splits import split_part

    try:
        version = dataset_version_list(user=user).get(pk=int(dataset_version_id))
    except (ValueError, TypeError, ObjectDoesNotExist):
        return dataset_version_id
    part = split_part(version=version, role="train")
    if part is None:
        newest = DatasetSplit.objects.filter(source=version).first()
        part = newest.parts.filter(split_role="train").first() if newest else None
    return part.pk if part else version.pk
