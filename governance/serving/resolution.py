"""Which version may answer for a model in an environment, now: the one approved and deployed there.

Read at every request (two indexed queries), so a suspension, a retirement or a new deployment takes effect
on the next request; the model cache (runtime.py) only holds the weights. Anything but a serving deployment
on an approved request of a ready version is a refusal with the reason (409).
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.errors import InvalidState
from governance.registry.choices import VersionStatus
from governance.registry.models import Deployment

APPROVED = "approved"  # DeploymentRequest.status that authorises serving (approvals sits below: read, not imported)


class ServingRefused(InvalidState):
    """The model cannot answer in this environment now (409, with the reason)."""


@dataclass(frozen=True)
class ServingTarget:
    deployment_id: int
    model_id: int
    model_name: str
    project_id: int
    environment: str
    model_version_id: int
    version: int
    artifact_digest: str
    artifact_path: str
    label_names: tuple[str, ...]


def serving_target(*, model_id: int, environment: str) -> ServingTarget:
    current = (Deployment.objects.select_related("model_version__model", "request")
               .filter(model_version__model_id=model_id, environment=environment, ended_at__isnull=True)
               .order_by("-started_at").first())
    if current is None:
        raise ServingRefused(_not_deployed_reason(model_id=model_id, environment=environment))
    version = current.model_version
    if current.suspended_at is not None:
        raise ServingRefused(f"{version} is suspended in {environment} since {current.suspended_at:%Y-%m-%d %H:%M:%S} "
                             f"UTC: {current.suspended_reason or 'its deployment request lost its approval'}.")
    if current.request is None or current.request.status != APPROVED:
        status = current.request.status if current.request else "no deployment request"
        raise ServingRefused(f"{version} is not approved for {environment} ({status}).")
    if version.status != VersionStatus.READY or not version.artifact_path or not version.artifact_digest:
        raise ServingRefused(f"{version} has no ready artifact to serve.")
    return ServingTarget(deployment_id=current.pk, model_id=version.model_id, model_name=version.model.name,
                         project_id=version.model.project_id, environment=environment,
                         model_version_id=version.pk, version=version.version,
                         artifact_digest=version.artifact_digest, artifact_path=version.artifact_path,
                         label_names=tuple(version.label_names or ()))


def _not_deployed_reason(*, model_id: int, environment: str) -> str:
    last = (Deployment.objects.select_related("model_version").filter(model_version__model_id=model_id,
                                                                       environment=environment)
            .order_by("-started_at").first())
    if last is None:
        return f"No version of this model has ever been approved and deployed in {environment}."
    if last.ended_reason.startswith("retired"):
        return (f"{last.model_version} was retired from {environment} on {last.ended_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({last.ended_reason}); no version serves there.")
    return f"No version of this model is deployed in {environment} now (the last one ended: {last.ended_reason})."


def serving_targets_current(*, model_ids: set[int]) -> dict[tuple[int, str], int]:
    """(model id, environment) -> model version id of every deployment serving now (the poller's view)."""
    rows = (Deployment.objects.filter(model_version__model_id__in=model_ids, ended_at__isnull=True,
                                      suspended_at__isnull=True)
            .values_list("model_version__model_id", "environment", "model_version_id"))
    return {(m, e): v for m, e, v in rows}
