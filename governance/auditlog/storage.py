"""Where signed checkpoints are kept besides their table: the local folder AUDIT_CHECKPOINT_DIR and, when
configured, the shared write-once storage `STORAGES["audit_checkpoints"]` (S3 with Object Lock in
production: governance/auditlog/s3.py; any Django storage works, the tests use FileSystemStorage). The
verifiers read every copy back, so a checkpoint deleted from the table or the folder still counts."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages

log = logging.getLogger(__name__)
STORAGE_ALIAS = "audit_checkpoints"
STORAGE_FOLDER = "audit-log-checkpoints"


def checkpoint_storage():
    """The shared write-once storage, or None when none is configured."""
    return storages[STORAGE_ALIAS] if STORAGE_ALIAS in settings.STORAGES else None


def checkpoint_file_name(document: dict) -> str:
    stamp = "".join(c for c in document["created_at"][:26] if c.isdigit() or c == "T")  # UTC
    return f"checkpoint-{document['seq']:012d}-{stamp}.json"


def checkpoint_store(document: dict) -> None:
    """Write a committed checkpoint to the local folder and to the shared storage when there is one."""
    name, body = checkpoint_file_name(document), json.dumps(document, indent=2) + "\n"
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".checkpoint-")
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    os.replace(tmp, directory / name)
    storage = checkpoint_storage()
    if storage is not None:
        storage.save(f"{STORAGE_FOLDER}/{name}", ContentFile(body.encode()))


def stored_checkpoints() -> list[dict]:
    """Every checkpoint document in the local folder and the shared storage (`source` says where); an
    unreadable one as {"invalid_file": name}."""
    found: list[dict] = []
    directory = Path(settings.AUDIT_CHECKPOINT_DIR)
    if directory.is_dir():
        for path in sorted(directory.glob("checkpoint-*.json")):
            found.append(_parsed(path.name, "folder", path.read_bytes))
    storage = checkpoint_storage()
    if storage is not None:
        try:
            names = storage.listdir(STORAGE_FOLDER)[1]
        except FileNotFoundError:  # FileSystemStorage before its first checkpoint (S3 lists nothing instead)
            names = []
        for name in sorted(names):
            if name.startswith("checkpoint-") and name.endswith(".json"):
                found.append(_parsed(name, "storage", lambda n=name: storage.open(f"{STORAGE_FOLDER}/{n}").read()))
    return found


def _parsed(name: str, source: str, read) -> dict:
    try:
        doc = json.loads(read())
        int(doc["seq"]), doc["head_hash"], doc["signature"], doc["created_at"]  # noqa: B018 (shape check)
        return {**doc, "file": name, "source": source}
    except (ValueError, KeyError, TypeError, OSError):
        return {"invalid_file": f"{source}:{name}"}
