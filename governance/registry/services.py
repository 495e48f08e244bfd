"""Writes of the model registry: training requests, the training run itself, registered encoders
(deployments: registry/deployments.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.models import Project
from governance.accounts.predicates import object_require_visible
from governance.accounts.projects import project_for_create
from governance.auditlog.services import audit_log_append
from governance.datasets.models import DatasetVersion
from governance.errors import ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.dispatch import enqueue
from governance.jobs.models import Job
from governance.registry.artifact_store import artifact_local_dir, artifact_publish
from governance.registry.choices import EncoderChoice, ModelKind, PoolingChoice, VersionStatus
from governance.roles import ML_ENGINEER
from governance.registry.models import Model, ModelVersion, PretrainedEncoder
from governance.registry.selectors import dataset_version_weighted
# Deployments live in their own module; these names stay importable from here.
from governance.registry.deployments import (deployment_retire, deployment_rollback,  # noqa: F401
                                             deployment_start, deployments_suspend)
from governance.keys import text_digest
from governance.registry.decoders import decoder_training_compute, decoder_training_config

if TYPE_CHECKING:
    from models_core.training.trainer import TrainResult

TRAIN_TASK = "governance.train_model_version"


def _artifact_dir(version: ModelVersion) -> Path:
    return Path(settings.ARTIFACT_ROOT) / f"model-{version.model_id}" / f"v{version.version}"


def _next_version(model: Model) -> int:
    last = model.versions.select_for_update().order_by("-version").first()
    return (last.version + 1) if last else 1


@transaction.atomic
def model_version_request_training(*, actor, model_name: str, dataset_version: DatasetVersion,
                                   encoder: str = EncoderChoice.PRETRAINED, freeze_encoder: bool = True,
                                   epochs: int = 8, seed: int = 0, dp: bool = False, dp_epsilon: float | None = None,
                                   description: str = "", intended_purpose: str = "",
                                   pretrained_encoder: PretrainedEncoder | None = None,
                                   project: Project | int | None = None,
                                   acting_as: str = ML_ENGINEER, pooling: str = PoolingChoice.MEAN,
                                   kind: str = ModelKind.CLASSIFIER, canaries: bool = True) -> ModelVersion:
    """Queue training of a new version of the model `model_name` of `project` (created when the project has
    none of that name; default project: the actor's only one where they are an ML engineer) on
    `dataset_version`, which must be of the same project. Names are unique within a project, so another
    project's model is never reached by naming it. `acting_as`: the role the actor must hold in the project
    (a compliance officer retrains a model after an erasure: compliance.subject_requests)."""
    project = project_for_create(actor=actor, project=project, role=acting_as)
    if kind not in ModelKind.values:
        raise ValidationFailed(f"'{kind}' is not a model kind.", field="kind")
    model_name = (model_name or "").strip()
    if not model_name:
        raise ValidationFailed("A model needs a name.", field="model_name")
    object_require_visible(actor, dataset_version, what="dataset version")
    if dataset_version.dataset.project_id != project.pk:
        raise ValidationFailed("Train on a dataset version of the model's own project.", field="dataset_version")
    if encoder not in EncoderChoice.values:
        raise ValidationFailed(f"'{encoder}' is not an encoder choice.", field="encoder")
    if encoder == EncoderChoice.REGISTERED and pretrained_encoder is None:
        raise ValidationFailed("Choose the registered encoder to train from.", field="pretrained_encoder")
    if encoder != EncoderChoice.REGISTERED:
        pretrained_encoder = None
    if pooling not in PoolingChoice.values:
        raise ValidationFailed(f"'{pooling}' is not a pooling choice.", field="pooling")
    if pooling != PoolingChoice.MEAN and encoder == EncoderChoice.SCRATCH:
        raise ValidationFailed("The BERT pooler comes with a pretrained encoder; train from scratch with mean "
                               "pooling.", field="pooling")
    if not 1 <= int(epochs) <= 50:
        raise ValidationFailed("Epochs must be between 1 and 50.", field="epochs")
    if dp and dp_epsilon is not None and not 0.1 <= float(dp_epsilon) <= 100:
        raise ValidationFailed("The target ε must be between 0.1 and 100.", field="dp_epsilon")
    if dp and kind == ModelKind.CLASSIFIER and dataset_version_weighted(dataset_version=dataset_version):
        # models_core refuses them too; refusing here keeps the request from queueing a job bound to fail.
        raise ValidationFailed(f"{dataset_version} carries sample weights (e.g. from reweighing); DP-SGD cannot use "
                               "data-dependent weights, which fall outside its privacy accounting. Train without "
                               "DP, or with DP on the unweighted version.", field="dp")
    model, created = Model.objects.get_or_create(
        project=project, name=model_name,
        defaults={"owner": actor, "description": description, "intended_purpose": intended_purpose})
    if not created and model.versions.exclude(kind=kind).exists():
        raise ValidationFailed(f"'{model_name}' holds versions of another kind; name a new model.", field="model_name")
    if created:
        audit_log_append(actor=actor, action="model.created", obj=model,
                         payload={"name": model_name, "project": project.slug})
    config = {**settings.TRAINING_DEFAULTS, "encoder": encoder, "freeze_encoder": bool(freeze_encoder),
              "epochs": int(epochs), "seed": int(seed), "dp": bool(dp),
              "dp_epsilon": float(dp_epsilon) if dp and dp_epsilon is not None else None}
    if pooling != PoolingChoice.MEAN:  # recorded only when not the default, so existing configs read the same
        config["pooling"] = pooling
    if kind == ModelKind.DECODER:  # registry/decoders.py: a byte-level decoder from scratch, canaries planted
        config = decoder_training_config(epochs=int(epochs), seed=int(seed), dp=bool(dp), dp_epsilon=dp_epsilon,
                                         canaries=bool(canaries))
        pretrained_encoder = None
    if pretrained_encoder is not None:  # a third-party component (AI Act Annex IV 2(a)), named and pinned
        config["pretrained_encoder"] = {"id": pretrained_encoder.pk, "name": pretrained_encoder.name,
                                        "digest": pretrained_encoder.digest}
    version = ModelVersion.objects.create(
        model=model, version=_next_version(model), kind=kind, dataset_version=dataset_version, training_config=config,
        label_names=[] if kind == ModelKind.DECODER else list(dataset_version.label_names), created_by=actor,
        pretrained_encoder=pretrained_encoder)
    job = jobs.job_create(kind="training", subject=version, created_by=actor)
    audit_log_append(actor=actor, action="model_version.training_requested", obj=version,
                     payload={"model": model.name, "version": version.version,
                              "dataset_version": dataset_version.pk, "dataset_sha256": dataset_version.sha256,
                              "config": config, "job": job.pk})
    enqueue(TRAIN_TASK, job.pk)
    return version


def model_version_train(*, job_id: int) -> None:
    """Run one training job (called by the worker). Safe to repeat: a finished job is left alone."""
    jobs.job_run(job_id=job_id, name="training",
                 load=lambda job: ModelVersion.objects.select_related("dataset_version", "model").get(
                     pk=job.subject_id),
                 done=lambda version: version.status == VersionStatus.READY,
                 compute=_training_compute, store=_training_store, failed=_training_failed)


def _training_compute(version: ModelVersion, job: Job) -> tuple[TrainResult, Path, str]:
    """Train and save the artifact: (the training result, the artifact's folder, its digest)."""
    from governance.datasets.selectors import training_rows
    from models_core.encoder.artifacts import save_artifact
    from models_core.training.config import TrainConfig
    from models_core.training.trainer import train_classifier

    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.TRAINING, error="")
    jobs.job_progress(job=job, stage="loading data", percent=1, force=True)
    if version.kind == ModelKind.DECODER:
        return decoder_training_compute(version=version, job=job, directory=_artifact_dir(version))
    texts, labels, weights = training_rows(version=version.dataset_version)
    cfg = version.training_config
    encoder_dir = _registered_encoder_dir(cfg) if cfg["encoder"] == EncoderChoice.REGISTERED else None
    train_cfg = TrainConfig(encoder="pretrained" if encoder_dir else cfg["encoder"], encoder_dir=encoder_dir,
                            freeze_encoder=cfg["freeze_encoder"], epochs=cfg["epochs"],
                            seed=cfg["seed"], dp=cfg.get("dp", False),
                            dp_epsilon=cfg.get("dp_epsilon"), pooling=cfg.get("pooling", "mean"))
    use_weights = weights if any(w != 1.0 for w in weights) else None
    result = train_classifier(texts, labels, num_labels=len(version.label_names), config=train_cfg,
                              sample_weights=use_weights,
                              progress=lambda p: jobs.job_progress(job=job, **_progress_fields(p)))
    jobs.job_progress(job=job, stage="saving artifact", percent=99, force=True)
    directory = _artifact_dir(version)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    digest = save_artifact(result.bundle, directory, metadata={
        "model": version.model.name, "version": version.version, "label_names": version.label_names,
        "dataset_version_sha256": version.dataset_version.sha256, "training_config": cfg})
    artifact_publish(directory=directory)  # to the shared artifact storage, when there is one
    return result, directory, digest


@transaction.atomic
def _training_store(version: ModelVersion, job: Job, trained: tuple[TrainResult, Path, str]) -> None:
    result, directory, digest = trained
    ModelVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.READY, metrics=result.metrics, compute=result.compute, dp=result.dp,
        history=result.history, artifact_path=str(directory), artifact_digest=digest, trained_at=timezone.now())
    audit_log_append(actor=job.created_by, action="model_version.trained", obj=version,
                     payload={"artifact_digest": digest, "metrics": result.metrics, "dp": result.dp,
                              "job": job.pk})
    jobs.job_complete(job=job)


def _registered_encoder_dir(cfg: dict) -> str:
    """The registered encoder's folder on this machine, after checking it still has the digest the version
    was requested with (ArtifactError otherwise: the job fails rather than train on other weights)."""
    from models_core.encoder.artifacts import artifact_digest
    from models_core.errors import ArtifactError

    pinned = cfg["pretrained_encoder"]
    encoder = PretrainedEncoder.objects.get(pk=pinned["id"])
    directory = artifact_local_dir(artifact_path=encoder.directory)
    digest = artifact_digest(directory)
    if digest != pinned["digest"] or digest != encoder.digest:
        raise ArtifactError(f"registered encoder {encoder.name!r} in {directory} has digest {digest}, "
                            f"expected {pinned['digest']}")
    return str(directory)


def _progress_fields(p: dict) -> dict:
    fields = {k: v for k, v in p.items() if k not in ("stage", "percent")}
    return {"stage": p.get("stage", "training"), "percent": p.get("percent", 0.0), **fields}


@transaction.atomic
def model_version_job_failed(*, job_id: int, error: str) -> None:
    """Record on the version that its training job failed for good outside model_version_train; once."""
    version = ModelVersion.objects.select_for_update().get(pk=Job.objects.get(pk=job_id).subject_id)
    if version.status not in (VersionStatus.READY, VersionStatus.FAILED):
        _training_failed(version=version, job_id=job_id, error=error)


@transaction.atomic
def _training_failed(version: ModelVersion, job_id: int, error: str) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(status=VersionStatus.FAILED, error=error[:4000])
    jobs.job_fail(job_id=job_id, error=error)
    job = Job.objects.get(pk=job_id)
    audit_log_append(actor=job.created_by, action="model_version.training_failed", obj=version,
                     payload={"error": text_digest(error), "job": job_id})


# ---- Registered pretrained encoders ---------------------------------------------------------------------

ENCODER_METADATA = "metadata.json"


def _pretrained_root() -> Path:
    return Path(settings.ARTIFACT_ROOT) / "pretrained"


def _copy_limited(source: IO[bytes], target: Path, limit: int) -> str:
    """Stream `source` into `target`, refusing past `limit` bytes; the SHA-256 of what was copied."""
    digest, copied = hashlib.sha256(), 0
    with target.open("wb") as sink:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            copied += len(chunk)
            if copied > limit:
                raise ValidationFailed(f"The file is larger than {limit // (1024 * 1024)} MB.", field="archive")
            digest.update(chunk)
            sink.write(chunk)
    return digest.hexdigest()


def _encoder_summary(model_dir: Path) -> dict:
    """Load the folder as the core would train from it (weights, names, shapes, tokenizer against the
    embeddings) and describe its architecture; CoreError on anything that would fail later."""
    from models_core.encoder.bundle import bundle_from_pretrained

    bundle = bundle_from_pretrained(model_dir, num_labels=2)
    hf = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    enc = bundle.model.encoder.config
    return {"model_type": hf.get("model_type", "bert"), "layers": enc.num_layers, "hidden": enc.hidden_size,
            "heads": enc.num_heads, "vocab": enc.vocab_size, "intermediate": enc.intermediate_size,
            "max_position": enc.max_position, "tokenizer_vocab": bundle.tokenizer.get_vocab_size()}


@transaction.atomic
def pretrained_encoder_register(*, actor, name: str, archive: IO[bytes], file_name: str, size: int | None = None,
                                description: str = "") -> PretrainedEncoder:
    """Register a zipped Hugging Face encoder folder (config.json, model.safetensors, tokenizer.json).

    All or nothing: the zip is copied and extracted into a staging folder under ARTIFACT_ROOT and checked
    there (no pickle, no path leaving the folder, the required files present, weights loadable); only then
    is the row written and the folder moved into place. Any refusal removes the staging folder.
    """
    from models_core.encoder.artifacts import PICKLE_SUFFIXES, artifact_digest, extract_model_zip, file_sha256
    from models_core.errors import CoreError

    name = (name or "").strip()
    limit = settings.PRETRAINED_UPLOAD_MAX_BYTES
    if not name:
        raise ValidationFailed("A pretrained encoder needs a name.", field="name")
    if PretrainedEncoder.objects.filter(name=name).exists():
        raise ValidationFailed(f"An encoder named '{name}' is already registered.", field="name")
    if file_name.lower().endswith(PICKLE_SUFFIXES):
        raise ValidationFailed(f"'{file_name}' is a pickle checkpoint; pickles can run code when loaded and are "
                               "refused. Upload a zip of the model folder with model.safetensors.", field="archive")
    if not file_name.lower().endswith(".zip"):
        raise ValidationFailed("Upload a .zip of the Hugging Face model folder.", field="archive")
    if size is not None and size > limit:
        raise ValidationFailed(f"The file is larger than {limit // (1024 * 1024)} MB.", field="archive")
    staging_parent = _pretrained_root() / ".staging"
    staging_parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=staging_parent))
    final: Path | None = None
    try:
        source_sha256 = _copy_limited(archive, staging / "upload.zip", limit)
        try:
            model_dir = extract_model_zip(staging / "upload.zip", staging / "model")
            if (model_dir / ENCODER_METADATA).exists():
                raise ValidationFailed(f"The zip holds a {ENCODER_METADATA}; that name is reserved for the "
                                       "registry's provenance record.", field="archive")
            summary = _encoder_summary(model_dir)
        except CoreError as exc:
            raise ValidationFailed(f"Refused: {exc}", field="archive") from exc
        others = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name not in
                        ("config.json", "model.safetensors", "tokenizer.json"))
        metadata = {"kind": "pretrained_encoder", "name": name, "source_file": file_name,
                    "source_sha256": source_sha256, "config": summary,
                    "other_files": {str(p.relative_to(model_dir)): file_sha256(p) for p in others}}
        (model_dir / ENCODER_METADATA).write_text(json.dumps(metadata, sort_keys=True, indent=2) + "\n",
                                                  encoding="utf-8")
        digest = artifact_digest(model_dir)
        final = _pretrained_root() / f"{digest[:20]}-{uuid.uuid4().hex[:8]}"
        encoder = PretrainedEncoder.objects.create(
            name=name, description=description.strip(), directory=str(final), digest=digest, config=summary,
            source_file=file_name[:255], source_sha256=source_sha256, uploaded_by=actor)
        audit_log_append(actor=actor, action="pretrained_encoder.registered", obj=encoder,
                         payload={"name": name, "digest": digest, "source_file": file_name,
                                  "source_sha256": source_sha256, "config": summary})
        model_dir.rename(final)  # the last step: a folder in place always has its row
        artifact_publish(directory=final)
    except BaseException:
        if final is not None and final.exists():
            shutil.rmtree(final, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return encoder
