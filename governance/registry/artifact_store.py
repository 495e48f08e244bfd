"""Where model artifacts live when workers run on several machines.

A worker writes an artifact into a local folder under ARTIFACT_ROOT (models_core.encoder.artifacts.save_artifact)
and `artifact_publish` copies its files to the artifact storage; a worker on another machine that needs
it calls `artifact_local_dir`, which returns the local folder when this machine has it and otherwise
downloads it there first. `load_artifact` then checks the bundle's SHA-256 digest against the database,
so a download is verified before any weight is used.

ARTIFACT_STORAGE names a Django storage alias (settings.STORAGES): empty keeps artifacts on this
machine's filesystem only (one machine, or ARTIFACT_ROOT on a shared volume); "artifacts", which the
settings define as django-storages' S3Storage when ARTIFACT_S3_BUCKET is set, stores them in an
S3-compatible bucket. Keys are the folder's path under ARTIFACT_ROOT, so every machine must use the same
ARTIFACT_ROOT path (the stored `artifact_path` is absolute).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File


def _storage():
    if not settings.ARTIFACT_STORAGE:
        return None
    from django.core.files.storage import storages

    return storages[settings.ARTIFACT_STORAGE]


def _key(directory: Path) -> PurePosixPath:
    relative = Path(directory).resolve().relative_to(Path(settings.ARTIFACT_ROOT).resolve())
    return PurePosixPath("artifacts", *relative.parts)


def artifact_publish(*, directory: Path) -> None:
    """Copy every file of a saved artifact folder to the artifact storage (no-op without one)."""
    storage = _storage()
    if storage is None:
        return
    prefix = _key(directory)
    for path in sorted(Path(directory).rglob("*")):
        if path.is_file():
            name = str(prefix / PurePosixPath(*path.relative_to(directory).parts))
            if storage.exists(name):  # a retried job re-publishes: replace, never suffix the name
                storage.delete(name)
            with path.open("rb") as handle:
                stored = storage.save(name, File(handle))
            if stored != name:
                raise RuntimeError(f"artifact storage renamed {name!r} to {stored!r}")


def artifact_local_dir(*, artifact_path: str) -> Path:
    """The artifact's folder on this machine, downloaded from the artifact storage when it is missing."""
    directory = Path(artifact_path)
    storage = _storage()
    if storage is None or directory.is_dir():
        return directory
    prefix = _key(directory)
    partial = directory.with_name(directory.name + ".partial")
    pending = [str(prefix)]
    while pending:  # walk the stored tree (listdir is one level deep)
        folder = pending.pop()
        try:
            subfolders, files = storage.listdir(folder)
        except FileNotFoundError:  # a filesystem storage; S3 lists a missing prefix as empty
            subfolders, files = [], []
        pending += [f"{folder}/{sub}" for sub in subfolders]
        for name in files:
            target = partial / PurePosixPath(folder).relative_to(prefix) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(f"{folder}/{name}", "rb") as source, target.open("wb") as sink:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    sink.write(chunk)
    if not partial.exists():
        raise FileNotFoundError(f"artifact {prefix} is neither on this machine nor in the artifact storage")
    partial.rename(directory)  # complete folders only: a download cut short is never mistaken for one
    return directory
