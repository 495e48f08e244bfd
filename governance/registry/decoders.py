"""Generative language models in the registry (issue 23): the training of a causal decoder on a dataset
version's texts (models_core.decoder), with canaries planted in the training copy for the memorisation
audit (models_core.generative.canaries), and seeded generation for the API and the playground.

The canary plan (its secrets drawn from OS entropy when the job runs) is written into the artifact's
metadata.json, so it is covered by the artifact digest and travels with the weights to the audit.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from governance.accounts.predicates import object_require_role
from governance.auditlog.services import audit_log_append
from governance.errors import InvalidState, ValidationFailed
from governance.jobs import services as jobs
from governance.jobs.models import Job
from governance.registry.artifact_store import artifact_local_dir, artifact_publish
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.models import ModelVersion
from governance.keys import text_digest
from governance.roles import COMPLIANCE_OFFICER, ML_ENGINEER, REVIEWER

if TYPE_CHECKING:
    from models_core.decoder.training import DecoderTrainResult

DECODER_DEFAULTS = {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 256, "max_length": 160,
                    "batch_size": 16, "val_fraction": 0.1, "canary_repeats": [1, 4, 16], "canaries_per_repeat": 2,
                    "canary_controls": 2, "canary_digits": 6}


def decoder_training_config(*, epochs: int, seed: int, dp: bool, dp_epsilon: float | None, canaries: bool) -> dict:
    """The training record of a decoder version (what models_core.decoder.training is given)."""
    return {**DECODER_DEFAULTS, **getattr(settings, "DECODER_TRAINING_DEFAULTS", {}), "kind": ModelKind.DECODER,
            "encoder": "scratch", "tokenizer": "byte-level", "epochs": epochs, "seed": seed, "dp": dp,
            "dp_epsilon": float(dp_epsilon) if dp and dp_epsilon is not None else None, "canaries": canaries}


def decoder_training_compute(*, version: ModelVersion, job: Job, directory: Path) -> tuple[DecoderTrainResult, Path, str]:
    """Train the decoder on the version's texts (canaries added to the training copy) and save the artifact."""
    from models_core.decoder.artifacts import save_decoder_artifact
    from models_core.decoder.training import DecoderTrainConfig, train_decoder
    from models_core.generative.canaries import inserted_texts, make_canaries

    texts = dataset_texts(dataset_version=version.dataset_version)
    cfg = version.training_config
    plan = None
    if cfg.get("canaries", True):
        plan = make_canaries(repeats=cfg["canary_repeats"], per_repeat=cfg["canaries_per_repeat"],
                             controls=cfg["canary_controls"], digits=cfg["canary_digits"])
    train_cfg = DecoderTrainConfig(hidden_size=cfg["hidden_size"], num_layers=cfg["num_layers"],
                                   num_heads=cfg["num_heads"], intermediate_size=cfg["intermediate_size"],
                                   max_length=cfg["max_length"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                                   seed=cfg["seed"], val_fraction=cfg["val_fraction"], dp=cfg.get("dp", False),
                                   dp_epsilon=cfg.get("dp_epsilon"))
    result = train_decoder(texts, train_cfg, inserted=inserted_texts(plan) if plan else (),
                           progress=lambda p: jobs.job_progress(job=job, stage=p.get("stage", "training"),
                                                                percent=p.get("percent", 0.0)))
    jobs.job_progress(job=job, stage="saving artifact", percent=99, force=True)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    digest = save_decoder_artifact(result.bundle, directory, metadata={
        "model": version.model.name, "version": version.version, "kind": ModelKind.DECODER,
        "dataset_version_sha256": version.dataset_version.sha256, "training_config": cfg, "canaries": plan,
        "holdout": {"val_fraction": cfg["val_fraction"], "seed": cfg["seed"]}})
    artifact_publish(directory=directory)
    return result, directory, digest


def dataset_texts(*, dataset_version) -> list[str]:
    """The texts of a dataset version in row order (empty texts skipped): what a decoder trains on."""
    from governance.datasets.selectors import records_of

    texts = records_of(version=dataset_version).values_list("text", flat=True)
    return [t for t in texts.iterator(chunk_size=5000) if isinstance(t, str) and t.strip()]


def decoder_load(*, version: ModelVersion):
    """The version's DecoderBundle and metadata, digest checked (ArtifactError otherwise)."""
    from models_core.decoder.artifacts import load_decoder_artifact

    return load_decoder_artifact(artifact_local_dir(artifact_path=version.artifact_path),
                                 expected_digest=version.artifact_digest)


@transaction.atomic
def model_version_generate(*, actor, version: ModelVersion, prompt: str, strategy: str = "greedy",
                           max_new_tokens: int = 40, top_k: int = 40, top_p: float = 0.9, temperature: float = 1.0,
                           seed: int = 0) -> dict:
    """Continue `prompt` with a ready decoder version; the request is logged (settings and the prompt's digest,
    never the prompt or the output, which may hold personal data)."""
    from models_core.decoder.generation import GenerationConfig, generate
    from models_core.errors import CoreError, InputError

    # Generating runs the model on the reader's prompt: the roles that use models, not the read-only auditor.
    object_require_role(actor, version, ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, what="model version")
    if version.kind != ModelKind.DECODER:
        raise ValidationFailed(f"{version} is a classifier; only generative versions continue text.", field="prompt")
    if version.status != VersionStatus.READY:
        raise InvalidState(f"{version} is {version.status}; only a ready version generates.")
    if not isinstance(prompt, str) or len(prompt) > 2000:
        raise ValidationFailed("The prompt must be text of at most 2000 characters.", field="prompt")
    try:
        config = GenerationConfig(strategy=strategy, max_new_tokens=max_new_tokens, top_k=top_k, top_p=top_p,
                                  temperature=temperature, seed=seed)
    except InputError as exc:
        raise ValidationFailed(str(exc), field="strategy") from exc
    bundle, _ = decoder_load(version=version)
    if len(bundle.token_ids([prompt])[0]) + 1 >= bundle.model.config.max_position:
        raise ValidationFailed(f"The prompt is longer than the model reads ({bundle.model.config.max_position} "
                               "tokens).", field="prompt")
    try:
        continuation = generate(bundle, [prompt], config)[0]
    except CoreError as exc:
        raise ValidationFailed(str(exc), field="prompt") from exc
    audit_log_append(actor=actor, action="model_version.generated", obj=version,
                     payload={"settings": config.to_dict(), "prompt": text_digest(prompt),
                              "artifact_digest": version.artifact_digest})
    return {"prompt": prompt, "continuation": continuation, "settings": config.to_dict(),
            "model_version": version.pk, "artifact_digest": version.artifact_digest}
