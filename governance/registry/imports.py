"""External models: a sequence classifier fine-tuned elsewhere, imported as a model version.

The upload is a zip of a Hugging Face BERT-family `…ForSequenceClassification` folder (config.json,
model.safetensors, tokenizer.json), checked as a registered pretrained encoder is (services.
pretrained_encoder_register: no pickle, no path leaving the folder, the required files, a size limit), then
loaded by the project's own encoder with the head mapped (models_core.encoder.hf_classifier) and run on probe
texts to check its outputs against what its config promises (label names, number of labels). The version is
saved as an ordinary artifact (safetensors, digest), so audits, explanations, mitigation and approvals treat
it like one trained here; its lineage says "external": who uploaded it, the digest of the uploaded folder and
of each file, the declared training data and intended purpose (AI Act Annex IV 1 and 2).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.accounts.models import Project
from governance.accounts.projects import project_for_create
from governance.auditlog.services import audit_log_append
from governance.errors import ValidationFailed
from governance.registry.artifact_store import artifact_publish
from governance.registry.choices import VersionStatus
from governance.registry.models import Model, ModelVersion
from governance.roles import ML_ENGINEER

PROBE_TEXTS = ("The applicant has ten years of experience and strong references.",
               "Missed two payments last year but the income is stable.", "short note",
               "She led the team that shipped the product on time and under budget.",
               "No prior history; the application is incomplete.")
DECLARED_MIN = 10


def folder_digest(directory: Path) -> tuple[str, dict[str, str]]:
    """SHA-256 over every file of the folder ("<relative path>  <sha256>\\n" lines, sorted by path), and the
    per-file digests: any byte of any file changes it."""
    from models_core.encoder.artifacts import file_sha256

    files = {str(p.relative_to(directory)): file_sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}
    lines = "".join(f"{name}  {digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest(), files


def _check_request(*, file_name: str, size: int | None, declared_training_data: str, limit: int) -> None:
    from models_core.encoder.artifacts import PICKLE_SUFFIXES

    if file_name.lower().endswith(PICKLE_SUFFIXES):
        raise ValidationFailed(f"'{file_name}' is a pickle checkpoint; pickles can run code when loaded and are "
                               "refused. Upload a zip of the model folder with model.safetensors.", field="archive")
    if not file_name.lower().endswith(".zip"):
        raise ValidationFailed("Upload a .zip of the Hugging Face model folder.", field="archive")
    if size is not None and size > limit:
        raise ValidationFailed(f"The file is larger than {limit // (1024 * 1024)} MB.", field="archive")
    if len(declared_training_data.strip()) < DECLARED_MIN:
        raise ValidationFailed("Describe the data the model was trained on (provenance, scope, period; AI Act "
                               f"Annex IV 2(d)), at least {DECLARED_MIN} characters.", field="declared_training_data")


def _load_and_check(model_dir: Path, label_names: list[str] | None) -> tuple:
    """(bundle, summary, output check) of the folder; CoreError on anything the core refuses."""
    from models_core.encoder.hf_classifier import bundle_from_hf_classifier, check_classifier_outputs

    bundle, summary = bundle_from_hf_classifier(model_dir, max_length=settings.MODEL_IMPORT_MAX_LENGTH)
    checks = check_classifier_outputs(bundle, PROBE_TEXTS)
    if label_names:
        if len(label_names) != bundle.num_labels or len(set(label_names)) != len(label_names):
            raise ValidationFailed(f"{len(label_names)} label names given for {bundle.num_labels} outputs "
                                   f"({', '.join(bundle.label_names)}); give one distinct name per output, in "
                                   "order.", field="label_names")
        summary["label_names_in_config"] = list(bundle.label_names)
        bundle.label_names = list(label_names)
        bundle.config = dict(bundle.config, label_names=list(label_names))
        summary["label_names"] = list(label_names)
    return bundle, summary, checks


@transaction.atomic
def model_version_import(*, actor, model_name: str, archive: IO[bytes], file_name: str, declared_training_data: str,
                         intended_purpose: str = "", size: int | None = None, label_names: list[str] | None = None,
                         description: str = "", project: Project | int | None = None) -> ModelVersion:
    """A ready model version of `model_name` (created in `project` when new) from a zipped Hugging Face
    sequence-classifier folder; all or nothing (a refusal leaves no row, file or folder)."""
    from models_core.encoder.artifacts import extract_model_zip, save_artifact
    from models_core.errors import CoreError

    from governance.registry.services import _artifact_dir, _copy_limited, _next_version

    project = project_for_create(actor=actor, project=project, role=ML_ENGINEER)
    model_name = (model_name or "").strip()
    if not model_name:
        raise ValidationFailed("A model needs a name.", field="model_name")
    limit = settings.MODEL_IMPORT_MAX_BYTES
    _check_request(file_name=file_name, size=size, declared_training_data=declared_training_data or "", limit=limit)
    existing = Model.objects.filter(project=project, name=model_name).first()
    if not (intended_purpose or "").strip() and not (existing and existing.intended_purpose.strip()):
        raise ValidationFailed("State the intended purpose (AI Act Annex IV 1(a)).", field="intended_purpose")
    staging_root = Path(settings.ARTIFACT_ROOT) / "imports" / ".staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=staging_root))
    directory: Path | None = None
    try:
        source_sha256 = _copy_limited(archive, staging / "upload.zip", limit)
        try:
            model_dir = extract_model_zip(staging / "upload.zip", staging / "model")
            folder_sha256, files = folder_digest(model_dir)
            bundle, summary, checks = _load_and_check(model_dir, label_names)
        except CoreError as exc:
            raise ValidationFailed(f"Refused: {exc}", field="archive") from exc
        model, created = Model.objects.get_or_create(
            project=project, name=model_name,
            defaults={"owner": actor, "description": description, "intended_purpose": intended_purpose.strip()})
        if created:
            audit_log_append(actor=actor, action="model.created", obj=model,
                             payload={"name": model_name, "project": project.slug})
        elif intended_purpose.strip() and intended_purpose.strip() != model.intended_purpose:
            Model.objects.filter(pk=model.pk).update(intended_purpose=intended_purpose.strip())
        external = {"source_file": file_name[:255], "source_sha256": source_sha256, "folder_sha256": folder_sha256,
                    "files": files, "uploaded_by": actor.username, "uploaded_at": timezone.now().isoformat(),
                    "declared_training_data": declared_training_data.strip(),
                    "intended_purpose": intended_purpose.strip() or model.intended_purpose,
                    "architecture": summary, "output_check": checks}
        version = ModelVersion.objects.create(
            model=model, version=_next_version(model), status=VersionStatus.READY, dataset_version=None,
            training_config={"source": "external", "encoder": "external", "external": external},
            label_names=list(bundle.label_names), created_by=actor, trained_at=timezone.now(),
            lineage_note=f"External: imported from {file_name[:200]} by {actor.username}")
        directory = _artifact_dir(version)
        if directory.exists():
            shutil.rmtree(directory)
        digest = save_artifact(bundle, directory, metadata={
            "model": model.name, "version": version.version, "label_names": list(bundle.label_names),
            "lineage": "external", "external": {k: v for k, v in external.items() if k != "uploaded_at"}})
        ModelVersion.objects.filter(pk=version.pk).update(artifact_path=str(directory), artifact_digest=digest)
        version.artifact_path, version.artifact_digest = str(directory), digest
        audit_log_append(actor=actor, action="model_version.imported", obj=version,
                         payload={"model": model.name, "version": version.version, "artifact_digest": digest,
                                  "lineage": "external", "source_file": file_name[:255],
                                  "source_sha256": source_sha256, "folder_sha256": folder_sha256,
                                  "declared_training_data": external["declared_training_data"],
                                  "intended_purpose": external["intended_purpose"],
                                  "label_names": list(bundle.label_names), "output_check": checks})
        artifact_publish(directory=directory)
    except BaseException:
        if directory is not None and directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version
