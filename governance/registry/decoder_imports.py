"""Import of a zipped Hugging Face GPT-2-family folder as a ready generative version (issue 23). Its own
module: it uses both the training services' helpers and the decoders module, which services imports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.projects import project_for_create
from governance.auditlog.services import audit_log_append
from governance.errors import ValidationFailed
from governance.registry.artifact_store import artifact_publish
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.models import Model, ModelVersion
from governance.registry.services import _artifact_dir, _copy_limited, _next_version
from governance.roles import ML_ENGINEER


@transaction.atomic
def decoder_version_import(*, actor, model_name: str, archive, file_name: str, size: int | None = None,
                           project=None, intended_purpose: str = "") -> ModelVersion:
    """Register a zipped Hugging Face GPT-2-family folder (config.json, model.safetensors, tokenizer.json) as a
    ready generative version, all or nothing: the zip is copied and extracted into a staging folder and
    loaded as the core would (pickles, path escapes and untied or foreign architectures refused), then saved
    as this registry's artifact (digest over weights, config, tokenizer and provenance) and the row written."""
    from models_core.decoder.artifacts import save_decoder_artifact
    from models_core.decoder.gpt2 import load_gpt2_folder
    from models_core.encoder.artifacts import PICKLE_SUFFIXES, extract_model_zip
    from models_core.errors import CoreError

    project = project_for_create(actor=actor, project=project, role=ML_ENGINEER)
    model_name = (model_name or "").strip()
    limit = settings.PRETRAINED_UPLOAD_MAX_BYTES
    if not model_name:
        raise ValidationFailed("A model needs a name.", field="model_name")
    if file_name.lower().endswith(PICKLE_SUFFIXES):
        raise ValidationFailed(f"'{file_name}' is a pickle checkpoint; pickles can run code when loaded and are "
                               "refused. Upload a zip of the model folder with model.safetensors.", field="archive")
    if not file_name.lower().endswith(".zip"):
        raise ValidationFailed("Upload a .zip of the Hugging Face GPT-2 model folder.", field="archive")
    if size is not None and size > limit:
        raise ValidationFailed(f"The file is larger than {limit // (1024 * 1024)} MB.", field="archive")
    staging = Path(tempfile.mkdtemp(dir=_staging_parent()))
    directory = None
    try:
        source_sha256 = _copy_limited(archive, staging / "upload.zip", limit)
        try:
            bundle = load_gpt2_folder(extract_model_zip(staging / "upload.zip", staging / "model"))
        except CoreError as exc:
            raise ValidationFailed(f"Refused: {exc}", field="archive") from exc
        model, created = Model.objects.get_or_create(project=project, name=model_name,
                                                     defaults={"owner": actor, "intended_purpose": intended_purpose})
        if not created and model.versions.exclude(kind=ModelKind.DECODER).exists():
            raise ValidationFailed(f"'{model_name}' holds versions of another kind; name a new model.",
                                   field="model_name")
        if created:
            audit_log_append(actor=actor, action="model.created", obj=model,
                             payload={"name": model_name, "project": project.slug})
        config = {"kind": ModelKind.DECODER, "imported": {"source_file": file_name[:255],
                                                           "source_sha256": source_sha256,
                                                           "architecture": bundle.config.get("source"),
                                                           "decoder": bundle.config["decoder"]},
                  "canaries": False, "third_party": True}
        version = ModelVersion.objects.create(model=model, version=_next_version(model), kind=ModelKind.DECODER,
                                              status=VersionStatus.READY, training_config=config, label_names=[],
                                              created_by=actor, lineage_note=f"Imported from {file_name}"[:300])
        directory = _artifact_dir(version)
        if directory.exists():
            shutil.rmtree(directory)
        digest = save_decoder_artifact(bundle, directory, metadata={
            "model": model.name, "version": version.version, "kind": ModelKind.DECODER, "canaries": None,
            "imported": config["imported"]})
        parameters = int(sum(p.numel() for p in bundle.model.parameters()))
        ModelVersion.objects.filter(pk=version.pk).update(
            artifact_path=str(directory), artifact_digest=digest, trained_at=timezone.now(),
            metrics={"parameters": parameters, "mode": "imported"})
        audit_log_append(actor=actor, action="model_version.imported", obj=version,
                         payload={"source_file": file_name, "source_sha256": source_sha256,
                                  "artifact_digest": digest, "architecture": bundle.config.get("source")})
        artifact_publish(directory=directory)
    except BaseException:
        if directory is not None and directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    version.refresh_from_db()
    return version


def _staging_parent() -> Path:
    parent = Path(settings.ARTIFACT_ROOT) / ".staging"
    parent.mkdir(parents=True, exist_ok=True)
    return parent
