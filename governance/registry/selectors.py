from __future__ import annotations

from django.db.models import Count, Max, QuerySet

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
