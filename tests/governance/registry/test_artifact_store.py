"""Artifacts across machines: published to the artifact storage after training, fetched by a machine
that lacks them, digest-checked on load. The "remote" here is a FileSystemStorage elsewhere on disk: the
same Storage API django-storages' S3Storage implements (whose configuration is checked separately)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from governance.registry.artifact_store import artifact_local_dir, artifact_publish

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def remote(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "machine-a"
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "bucket")}}}
    settings.ARTIFACT_STORAGE = "artifacts"
    from django.core.files.storage import storages

    storages._storages.pop("artifacts", None)
    yield tmp_path / "bucket"
    storages._storages.pop("artifacts", None)


def _artifact(root: Path) -> Path:
    directory = root / "model-1" / "v1"
    (directory / "tokenizer").mkdir(parents=True)
    (directory / "model.safetensors").write_bytes(b"\x00weights" * 1000)
    (directory / "bundle.json").write_text('{"digest": "d"}')
    (directory / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    return directory


def test_a_published_artifact_is_fetched_whole_on_a_machine_without_it(remote, settings):
    directory = _artifact(Path(settings.ARTIFACT_ROOT))
    artifact_publish(directory=directory)
    assert (remote / "artifacts" / "model-1" / "v1" / "tokenizer" / "vocab.txt").exists()
    expected = {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    shutil.rmtree(directory)  # "machine B": same ARTIFACT_ROOT path, folder absent
    fetched = artifact_local_dir(artifact_path=str(directory))
    assert fetched == directory
    assert {p.relative_to(directory): p.read_bytes() for p in directory.rglob("*") if p.is_file()} == expected
    assert not directory.with_name("v1.partial").exists()


def test_republishing_replaces_files_instead_of_renaming_them(remote, settings):
    directory = _artifact(Path(settings.ARTIFACT_ROOT))
    artifact_publish(directory=directory)
    (directory / "bundle.json").write_text('{"digest": "e"}')
    artifact_publish(directory=directory)
    assert (remote / "artifacts" / "model-1" / "v1" / "bundle.json").read_text() == '{"digest": "e"}'
    assert len(list((remote / "artifacts" / "model-1" / "v1").glob("bundle*"))) == 1


def test_a_missing_artifact_is_a_clear_error(remote, settings):
    with pytest.raises(FileNotFoundError, match="neither on this machine nor in the artifact storage"):
        artifact_local_dir(artifact_path=str(Path(settings.ARTIFACT_ROOT) / "model-9" / "v9"))


def test_without_an_artifact_storage_the_local_path_is_used_as_is(settings, tmp_path):
    settings.ARTIFACT_STORAGE = ""
    assert artifact_local_dir(artifact_path=str(tmp_path / "x")) == tmp_path / "x"


def test_the_s3_bucket_setting_selects_django_storages_s3(tmp_path):
    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "from django.core.files.storage import storages; st = storages[s.ARTIFACT_STORAGE]; "
            "print(json.dumps([type(st).__module__ + '.' + type(st).__name__, st.bucket_name, st.endpoint_url]))")
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "governance.settings.demo",
           "GOVERNANCE_VAR_DIR": str(tmp_path), "ARTIFACT_S3_BUCKET": "governance-artifacts",
           "ARTIFACT_S3_ENDPOINT_URL": "http://minio.internal:9000"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == (
        '["storages.backends.s3.S3Storage", "governance-artifacts", "http://minio.internal:9000"]')
