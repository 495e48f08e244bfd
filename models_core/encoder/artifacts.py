"""Model artifacts on disk: safetensors weights + JSON, one SHA-256 digest over the whole bundle.

An artifact directory holds exactly the files in `ARTIFACT_FILES`. Its digest is

    sha256( "".join(f"{name}  {sha256(file).hexdigest()}\\n" for name in sorted(ARTIFACT_FILES)) )

so every file, metadata included, is covered and changing any byte changes the digest. The digest
is also written to `bundle.sha256` for convenience; that file is not part of the hashed set (a digest
cannot cover itself) and is only a consistency check: callers that need tamper evidence pass the
digest they recorded elsewhere as `expected_digest`.

Weights are only ever read from safetensors; pickle-based checkpoints are refused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from models_core.encoder.bundle import ClassifierBundle, classifier_from_config
from models_core.encoder.tokenization import load_tokenizer
from models_core.errors import ArtifactError, InputError

ARTIFACT_FILES = ("config.json", "metadata.json", "model.safetensors", "tokenizer.json")
DIGEST_FILE = "bundle.sha256"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
REQUIRED_HF_FILES = ("config.json", "model.safetensors", "tokenizer.json")
MAX_ZIP_BYTES = 4 * 2**30


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_digest(directory: str | Path) -> str:
    """The bundle digest of an artifact directory (see the module docstring)."""
    directory = Path(directory)
    lines = []
    for name in sorted(ARTIFACT_FILES):
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"artifact file {name} missing from {directory}")
        lines.append(f"{name}  {file_sha256(path)}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def canonical_json(data: Any) -> str:
    try:
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise InputError(f"not JSON-serialisable: {exc}") from exc


def save_artifact(bundle: ClassifierBundle, directory: str | Path, metadata: dict[str, Any]) -> str:
    """Write the bundle to `directory` and return its digest.

    Deterministic: the same weights, tokenizer, config and metadata give the same bytes and digest.
    Keep run-dependent values (timestamps, wall times) out of `metadata` if you want that property.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = dict(bundle.config, label_names=list(bundle.label_names))
    metadata_text = canonical_json(metadata)
    config_text = canonical_json(config)
    state = {name: t.detach().to("cpu").contiguous() for name, t in bundle.model.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(config_text, encoding="utf-8")
    (directory / "tokenizer.json").write_text(bundle.tokenizer.to_str(), encoding="utf-8")
    (directory / "metadata.json").write_text(metadata_text, encoding="utf-8")
    digest = artifact_digest(directory)
    (directory / DIGEST_FILE).write_text(digest + "\n", encoding="ascii")
    return digest


def load_artifact(directory: str | Path,
                  expected_digest: str | None = None) -> tuple[ClassifierBundle, dict[str, Any]]:
    """Verify and load an artifact saved by `save_artifact`; ArtifactError on any mismatch."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"artifact directory {directory} does not exist")
    digest = artifact_digest(directory)
    if expected_digest is not None and digest != expected_digest.strip().lower():
        raise ArtifactError(f"artifact digest mismatch in {directory}: expected {expected_digest}, got {digest}")
    recorded = directory / DIGEST_FILE
    if expected_digest is None and recorded.is_file() and recorded.read_text(encoding="ascii").strip() != digest:
        raise ArtifactError(f"artifact in {directory} does not match its recorded digest {DIGEST_FILE}")
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"artifact JSON in {directory} is malformed: {exc}") from exc
    model = classifier_from_config(config)
    try:
        state = load_file(str(directory / "model.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read model.safetensors in {directory}: {exc}") from exc
    own = model.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise ArtifactError(f"weights in {directory} do not match its config.json")
    model.load_state_dict(state, strict=True)
    tokenizer = load_tokenizer(directory / "tokenizer.json", max_length=int(config.get("max_length", 128)))
    bundle = ClassifierBundle(model=model.eval(), tokenizer=tokenizer, config=config,
                              label_names=list(config.get("label_names") or []))
    return bundle, metadata


def _entry_problem(info: zipfile.ZipInfo, root: Path) -> str | None:
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return f"{name!r} is a symbolic link"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        return f"{name!r} is an absolute or Windows-style path"
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return f"{name!r} escapes the target directory"
    if not (root / name).resolve().is_relative_to(root):
        return f"{name!r} escapes the target directory"
    if name.lower().endswith(PICKLE_SUFFIXES):
        return (f"{name!r} is a pickle checkpoint ({PurePosixPath(name).suffix}); pickles can run code when "
                "loaded and are refused: convert the weights to model.safetensors")
    return None


def extract_model_zip(zip_path: str | Path, target_dir: str | Path) -> Path:
    """Extract a zipped Hugging Face model directory into `target_dir` and return the model directory.

    Every entry is checked before anything is written: absolute paths, `..`, symlinks and pickle
    checkpoints are refused (ArtifactError naming the entry). The model directory is `target_dir`
    itself or the single top-level folder of the zip, and must hold config.json, model.safetensors
    and tokenizer.json. `target_dir` must be empty or absent.
    """
    zip_path, target = Path(zip_path), Path(target_dir)
    if target.exists() and any(target.iterdir()):
        raise ArtifactError(f"target directory {target} is not empty")
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArtifactError(f"{zip_path} is not a readable zip file: {exc}") from exc
    created = not target.exists()
    with archive:
        infos = archive.infolist()
        root = target.resolve()
        problems = [p for p in (_entry_problem(i, root) for i in infos) if p]
        if problems:
            raise ArtifactError("refused model zip: " + "; ".join(problems[:5]))
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise ArtifactError(f"model zip expands to more than {MAX_ZIP_BYTES // 2**30} GiB")
        files = [PurePosixPath(i.filename) for i in infos if not i.is_dir()]
        tops = {p.parts[0] for p in files}
        nested = len(tops) == 1 and all(len(p.parts) > 1 for p in files)
        model_dir = target / next(iter(tops)) if nested else target
        present = {str(PurePosixPath(*p.parts[1:])) if nested else str(p) for p in files}
        missing = [n for n in REQUIRED_HF_FILES if n not in present]
        if missing:
            raise ArtifactError(f"model zip lacks {', '.join(missing)} (needs {', '.join(REQUIRED_HF_FILES)})")
        target.mkdir(parents=True, exist_ok=True)
        try:
            archive.extractall(target)
            _check_hf_directory(model_dir)
        except (ArtifactError, OSError, zipfile.BadZipFile) as exc:
            if created:
                shutil.rmtree(target, ignore_errors=True)
            else:
                for child in target.iterdir():
                    if child.is_dir():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            if isinstance(exc, ArtifactError):
                raise
            raise ArtifactError(f"cannot extract {zip_path}: {exc}") from exc
    return model_dir


def _check_hf_directory(directory: Path) -> None:
    """The files of a Hugging Face model directory parse: JSON configs and a safetensors header."""
    for name in ("config.json", "tokenizer.json"):
        try:
            json.loads((directory / name).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{name} in the model zip is not valid JSON: {exc}") from exc
    try:
        with safe_open(str(directory / "model.safetensors"), framework="pt") as fh:
            list(fh.keys())
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"model.safetensors in the model zip is not a valid safetensors file: {exc}") from exc


__all__ = ["ARTIFACT_FILES", "artifact_digest", "extract_model_zip", "load_artifact", "save_artifact"]
