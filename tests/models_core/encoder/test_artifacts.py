import stat
import zipfile

import numpy as np
import pytest

from models_core.encoder.artifacts import artifact_digest, extract_model_zip, load_artifact, save_artifact
from models_core.encoder.bundle import bundle_from_pretrained
from models_core.errors import ArtifactError

TEXTS = ["Nurse with 4 years of experience.", "Teacher. She mentored a school curriculum.", "x"]


@pytest.fixture(scope="module")
def tiny_bundle(tiny_bert_dir):
    return bundle_from_pretrained(tiny_bert_dir, num_labels=3, label_names=["low", "mid", "high"], seed=1)


@pytest.fixture
def saved(tmp_path, tiny_bundle):
    directory = tmp_path / "artifact"
    digest = save_artifact(tiny_bundle, directory, {"dataset_digest": "abc", "note": "ünïcode"})
    return directory, digest


def test_round_trip_preserves_predictions_labels_and_metadata(saved, tiny_bundle):
    directory, digest = saved
    assert sorted(p.name for p in directory.iterdir()) == [
        "bundle.sha256", "config.json", "metadata.json", "model.safetensors", "tokenizer.json"]
    assert digest == artifact_digest(directory) and len(digest) == 64
    bundle, metadata = load_artifact(directory, expected_digest=digest)
    assert metadata == {"dataset_digest": "abc", "note": "ünïcode"}
    assert bundle.label_names == ["low", "mid", "high"]
    assert np.array_equal(bundle.predict_proba(TEXTS), tiny_bundle.predict_proba(TEXTS))
    # Saving the loaded bundle again reproduces the digest byte for byte.
    assert save_artifact(bundle, directory.parent / "again", metadata) == digest


def test_digest_mismatch_raises(saved):
    directory, digest = saved
    with pytest.raises(ArtifactError, match="mismatch"):
        load_artifact(directory, expected_digest="0" * 64)


@pytest.mark.parametrize("name", ["model.safetensors", "metadata.json", "config.json", "tokenizer.json"])
def test_tampered_file_raises(saved, name):
    directory, digest = saved
    path = directory / name
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="mismatch"):
        load_artifact(directory, expected_digest=digest)
    with pytest.raises(ArtifactError, match="recorded digest"):
        load_artifact(directory)  # also caught against bundle.sha256 when no digest is passed


def test_missing_file_raises(saved):
    directory, digest = saved
    (directory / "tokenizer.json").unlink()
    with pytest.raises(ArtifactError, match="tokenizer.json"):
        load_artifact(directory, expected_digest=digest)


def _zip(path, entries, symlink=None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink[0])
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, symlink[1])
    return path


@pytest.fixture
def hf_files(tiny_bert_dir):
    return {name: (tiny_bert_dir / name).read_bytes() for name in ("config.json", "model.safetensors", "tokenizer.json")}


def test_valid_nested_zip_extracts_and_loads(tmp_path, hf_files):
    archive = _zip(tmp_path / "m.zip", {f"my-model/{k}": v for k, v in hf_files.items()} | {"my-model/README.md": "hi"})
    model_dir = extract_model_zip(archive, tmp_path / "out")
    assert model_dir == tmp_path / "out" / "my-model"
    bundle = bundle_from_pretrained(model_dir, num_labels=2)
    assert bundle.predict_proba(TEXTS).shape == (3, 2)


def test_pickle_checkpoint_in_zip_is_refused(tmp_path, hf_files):
    archive = _zip(tmp_path / "m.zip", hf_files | {"pytorch_model.bin": b"\x80\x04 pickle"})
    with pytest.raises(ArtifactError, match="pickle"):
        extract_model_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was written


@pytest.mark.parametrize("evil", ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt"])
def test_zip_slip_is_refused(tmp_path, hf_files, evil):
    archive = _zip(tmp_path / "m.zip", hf_files | {evil: b"owned"})
    with pytest.raises(ArtifactError, match="escapes|absolute"):
        extract_model_zip(archive, tmp_path / "sub" / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "sub" / "evil.txt").exists()


def test_symlink_in_zip_is_refused(tmp_path, hf_files):
    archive = _zip(tmp_path / "m.zip", hf_files, symlink=("link", "/etc/passwd"))
    with pytest.raises(ArtifactError, match="symbolic link"):
        extract_model_zip(archive, tmp_path / "out")


def test_zip_without_required_files_is_refused(tmp_path, hf_files):
    archive = _zip(tmp_path / "m.zip", {k: v for k, v in hf_files.items() if k != "tokenizer.json"})
    with pytest.raises(ArtifactError, match="tokenizer.json"):
        extract_model_zip(archive, tmp_path / "out")


def test_corrupt_safetensors_in_zip_is_refused_and_cleaned_up(tmp_path, hf_files):
    archive = _zip(tmp_path / "m.zip", hf_files | {"model.safetensors": b"garbage"})
    with pytest.raises(ArtifactError, match="safetensors"):
        extract_model_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_not_a_zip_is_refused(tmp_path):
    bogus = tmp_path / "m.zip"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError):
        extract_model_zip(bogus, tmp_path / "out")
