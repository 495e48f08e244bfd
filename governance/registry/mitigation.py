"""Writes of the registry for post-processing mitigation: a child version that decides with group thresholds.

`model_version_mitigate` creates the child (parent = the original, lineage note naming the constraint and
the attribute) and its job; the worker (`model_version_mitigation_run`) scores a validation split with
the parent's weights, fits fairlearn's ThresholdOptimizer (models_core.mitigate) and
writes a new artifact: the parent's weights, tokenizer and config unchanged, and metadata.json carrying
the thresholds, so the child's digest differs from the parent's and covers the thresholds. Audits of the
child apply them (models_core.audit, called by governance.audits.services) with the recorded seed.

Validation rows: when the data is the parent's training dataset, the held-out validation split the
trainer used (same fraction and seed: rows the weights were not fitted on); any other dataset is unseen
by the weights, so all of its rows are used.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.predicates import object_require_role, object_require_visible
from governance.auditlog.services import audit_log_append
from governance.datasets.models import DatasetVersion
from governance.errors import ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.registry.artifact_store import artifact_local_dir, artifact_publish
from governance.registry.choices import VersionStatus
from governance.registry.models import Model, ModelVersion
from governance.keys import text_digest
from governance.roles import ML_ENGINEER

MITIGATE_TASK = "governance.mitigate_model_version"
MITIGATION_JOB_KIND = "mitigation"
CONSTRAINTS = ("demographic_parity", "equalized_odds")
# The trainer's default held-out share (models_core.training.config.TrainConfig.val_fraction).
TRAINING_VAL_FRACTION = 0.2
THRESHOLD_SEED = 0


def _next_version(model: Model) -> int:
    last = model.versions.select_for_update().order_by("-version").first()
    return (last.version + 1) if last else 1


@transaction.atomic
def model_version_mitigate(*, actor, model_version: ModelVersion, dataset_version: DatasetVersion,
                           constraint: str, attribute: str) -> ModelVersion:
    """Request a threshold-mitigated child of `model_version`, fitted on `dataset_version` (both of projects
    where the actor is an ML engineer)."""
    object_require_role(actor, model_version, ML_ENGINEER, what="model version")
    object_require_visible(actor, dataset_version, what="dataset version")
    parent = ModelVersion.objects.select_for_update().select_related("model").get(pk=model_version.pk)
    if parent.status != VersionStatus.READY:
        raise ValidationFailed(f"{parent} is {parent.status}; only a ready version can be mitigated.",
                               field="model_version")
    if len(parent.label_names) != 2:
        raise ValidationFailed(f"{parent} has {len(parent.label_names)} classes; threshold mitigation needs a "
                               "binary classifier.", field="model_version")
    if (parent.training_config or {}).get("mitigation"):
        raise ValidationFailed(f"{parent} already decides with group thresholds; mitigate its parent instead.",
                               field="model_version")
    if constraint not in CONSTRAINTS:
        raise ValidationFailed(f"'{constraint}' is not a constraint; choose one of {', '.join(CONSTRAINTS)}.",
                               field="constraint")
    if attribute not in dataset_version.sensitive_attributes:
        declared = ", ".join(dataset_version.sensitive_attributes) or "none"
        raise ValidationFailed(f"{dataset_version} has no sensitive attribute '{attribute}' (declared: {declared}).",
                               field="attribute")
    unknown = set(dataset_version.label_names) - set(parent.label_names)
    if unknown:
        raise ValidationFailed(f"The dataset has labels the model does not know: {', '.join(sorted(unknown))}.",
                               field="dataset_version")
    positive = dataset_version.positive_label or parent.label_names[1]
    if positive not in parent.label_names:
        raise ValidationFailed(f"The dataset's positive label '{positive}' is not a class of {parent}.",
                               field="dataset_version")
    mitigation = {"method": "threshold", "constraint": constraint, "attribute": attribute,
                  "dataset_version": dataset_version.pk, "dataset_sha256": dataset_version.sha256,
                  "positive_label": positive, "seed": THRESHOLD_SEED}
    child = ModelVersion.objects.create(
        model=parent.model, version=_next_version(parent.model), dataset_version=parent.dataset_version,
        parent=parent, lineage_note=f"threshold mitigation: {constraint} on {attribute}",
        training_config={**parent.training_config, "mitigation": mitigation},
        label_names=list(parent.label_names), created_by=actor, dp=_child_privacy(parent.dp, dataset_version))
    job = jobs.job_create(kind=MITIGATION_JOB_KIND, subject=child, created_by=actor)
    audit_log_append(actor=actor, action="model_version.mitigation_requested", obj=child,
                     payload={"parent": parent.pk, "parent_artifact_digest": parent.artifact_digest,
                              "version": child.version, **mitigation, "job": job.pk})
    enqueue(MITIGATE_TASK, job.pk)
    return child


def _child_privacy(parent_dp: dict | None, data: DatasetVersion) -> dict | None:
    """The child keeps the parent's weights, so the parent's DP record holds for them (post-processing);
    the thresholds are fitted without DP, on rows that the record's guarantee does not cover."""
    if not parent_dp or not parent_dp.get("record_format"):
        return parent_dp
    thresholds = (f"the group thresholds of this mitigated version, fitted without DP on {data} (the held-out "
                  f"validation split when it is the training dataset)")
    return {**parent_dp, "does_not_cover": [*parent_dp["does_not_cover"], thresholds]}


def _validation_rows(*, parent: ModelVersion, data: DatasetVersion, labels: list[int]) -> tuple[list[int], str]:
    import numpy as np

    from models_core.training.trainer import stratified_split

    trained_on = parent.dataset_version
    if trained_on is not None and trained_on.dataset_id == data.dataset_id:
        seed = int(parent.training_config.get("seed", 0))
        _, val_idx = stratified_split(np.asarray(labels), TRAINING_VAL_FRACTION, seed)
        return [int(i) for i in val_idx], (f"held-out validation split of the training data "
                                           f"(fraction {TRAINING_VAL_FRACTION}, seed {seed})")
    return list(range(len(labels))), "all rows (a dataset the weights were not trained on)"


def model_version_mitigation_run(*, job_id: int) -> None:
    """Fit and store the thresholds of one mitigation job (called by the worker); safe to repeat."""
    jobs.job_run(job_id=job_id, name="mitigation",
                 load=lambda job: ModelVersion.objects.select_related("parent", "model").get(pk=job.subject_id),
                 done=lambda child: child.status == VersionStatus.READY,
                 compute=_mitigation_compute, store=_mitigation_store, failed=_mitigation_failed)


def _mitigation_compute(child: ModelVersion, job: Job) -> dict:
    """Fit the thresholds (models_core.mitigate) and save the child's artifact; returns what `_mitigation_store`
    records."""
    from governance.datasets.models import DatasetRecord
    from models_core.encoder.artifacts import load_artifact, save_artifact
    from models_core.mitigate import compute_threshold_mitigation

    ModelVersion.objects.filter(pk=child.pk).update(status=VersionStatus.TRAINING, error="")
    parent, spec = child.parent, dict(child.training_config["mitigation"])
    data = DatasetVersion.objects.get(pk=spec["dataset_version"])
    jobs.job_progress(job=job, stage="loading model", percent=2, force=True)
    bundle, parent_metadata = load_artifact(artifact_local_dir(artifact_path=parent.artifact_path),
                                            expected_digest=parent.artifact_digest)
    rows = list(DatasetRecord.objects.filter(version=data).order_by("row_index")
                .values_list("text", "label", "attributes"))
    index = {name: i for i, name in enumerate(parent.label_names)}
    positive = index[spec["positive_label"]]
    all_labels = [index[r[1]] for r in rows]
    chosen, split = _validation_rows(parent=parent, data=data, labels=all_labels)
    texts = [rows[i][0] for i in chosen]
    y = [int(all_labels[i] == positive) for i in chosen]
    groups = [str(rows[i][2].get(spec["attribute"], "")) for i in chosen]
    computed = compute_threshold_mitigation(
        bundle, texts, y, groups, positive=positive, constraint=spec["constraint"], seed=spec["seed"],
        progress=lambda p: jobs.job_progress(job=job, stage=p["stage"], percent=p["percent"]))
    thresholds = computed.thresholds
    mitigation = {**spec, "thresholds": thresholds, "validation_rows": split,
                  "parent_artifact_digest": parent.artifact_digest}
    jobs.job_progress(job=job, stage="saving artifact", percent=95, force=True)
    directory = Path(settings.ARTIFACT_ROOT) / f"model-{child.model_id}" / f"v{child.version}"
    metadata = {**parent_metadata, "model": child.model.name, "version": child.version,
                "parent_version": parent.version, "mitigation": mitigation}
    digest = save_artifact(bundle, directory, metadata=metadata)
    artifact_publish(directory=directory)
    return {"metrics": computed.metrics, "compute": computed.compute, "split": split, "thresholds": thresholds,
            "directory": directory, "digest": digest}


@transaction.atomic
def _mitigation_store(child: ModelVersion, job: Job, fitted: dict) -> None:
    parent, spec = child.parent, dict(child.training_config["mitigation"])
    metrics, digest, thresholds = fitted["metrics"], fitted["digest"], fitted["thresholds"]
    ModelVersion.objects.filter(pk=child.pk).update(
        status=VersionStatus.READY, metrics=metrics, compute=fitted["compute"], history=[],
        training_config={**child.training_config, "mitigation": {**spec, "validation_rows": fitted["split"]}},
        artifact_path=str(fitted["directory"]), artifact_digest=digest, trained_at=timezone.now())
    audit_log_append(actor=job.created_by, action="model_version.mitigated", obj=child,
                     payload={"artifact_digest": digest, "parent_artifact_digest": parent.artifact_digest,
                              "constraint": spec["constraint"], "attribute": spec["attribute"],
                              "thresholds": thresholds["groups"], "metrics": metrics, "job": job.pk})
    jobs.job_complete(job=job)


@transaction.atomic
def model_version_mitigation_job_failed(*, job_id: int, error: str) -> None:
    """Record on the child that its mitigation job failed for good outside the run (the task gave up); once."""
    version = ModelVersion.objects.select_for_update().get(pk=Job.objects.get(pk=job_id).subject_id)
    if version.status not in (VersionStatus.READY, VersionStatus.FAILED):
        _mitigation_failed(version=version, job_id=job_id, error=error)


@transaction.atomic
def _mitigation_failed(version: ModelVersion, job_id: int, error: str) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.FAILED, error=error[:4000])
    jobs.job_fail(job_id=job_id, error=error)
    audit_log_append(actor=Job.objects.get(pk=job_id).created_by, action="model_version.mitigation_failed",
                     obj=version, payload={"error": text_digest(error), "job": job_id})
