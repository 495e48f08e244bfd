"""Registering an external pretrained encoder from a zipped Hugging Face folder (API and page), the refusals
(pickle, zip-slip, missing files) that leave nothing behind, and training a version from a registered encoder."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from django.urls import reverse
from safetensors.torch import save_file

from governance.compliance.documentation import annex_iv
from governance.auditlog.models import AuditLogEntry
from governance.errors import ValidationFailed
from governance.jobs.models import Job
from governance.registry.models import ModelVersion, PretrainedEncoder
from governance.registry.services import model_version_request_training, pretrained_encoder_register
from models_core.encoder.artifacts import artifact_digest
from models_core.encoder.config import EncoderConfig
from models_core.encoder.pretrained import default_encoder_dir
from tests.factories import upload_hiring

pytestmark = pytest.mark.django_db(transaction=False)

TINY = EncoderConfig(vocab_size=30522, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                     max_position=128)


def _hf_tensors(config: EncoderConfig, seed: int = 1234) -> dict[str, torch.Tensor]:
    """Random weights under Hugging Face BertModel's names (written here, not by the loader's own mapping)."""
    g = torch.Generator().manual_seed(seed)
    h, i = config.hidden_size, config.intermediate_size

    def rand(*shape):
        return (0.02 * torch.randn(*shape, generator=g)).contiguous()

    tensors = {"embeddings.word_embeddings.weight": rand(config.vocab_size, h),
               "embeddings.position_embeddings.weight": rand(config.max_position, h),
               "embeddings.token_type_embeddings.weight": rand(config.type_vocab_size, h),
               "embeddings.LayerNorm.weight": torch.ones(h), "embeddings.LayerNorm.bias": torch.zeros(h)}
    for n in range(config.num_layers):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            tensors[p + name + ".weight"], tensors[p + name + ".bias"] = rand(h, h), rand(h)
        tensors[p + "intermediate.dense.weight"], tensors[p + "intermediate.dense.bias"] = rand(i, h), rand(i)
        tensors[p + "output.dense.weight"], tensors[p + "output.dense.bias"] = rand(h, i), rand(h)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + name + ".weight"], tensors[p + name + ".bias"] = torch.ones(h), torch.zeros(h)
    return tensors


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory) -> dict[str, bytes]:
    """The files of a tiny random BERT folder: config.json, model.safetensors, MiniLM's tokenizer.json."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    save_file(_hf_tensors(TINY), str(folder / "model.safetensors"))
    return {"config.json": json.dumps(TINY.to_hf_config()).encode(),
            "model.safetensors": (folder / "model.safetensors").read_bytes(),
            "tokenizer.json": (default_encoder_dir() / "tokenizer.json").read_bytes(),
            "vocab.txt": b"[PAD]\n[UNK]\n"}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _own_artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


def _left_on_disk(root: Path) -> list[str]:
    """Everything under ARTIFACT_ROOT except the (empty) staging folder itself."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name != ".staging")


def _register(engineer, data: bytes, name: str = "tiny-bert", file_name: str = "tiny-bert.zip"):
    return pretrained_encoder_register(actor=engineer, name=name, archive=io.BytesIO(data), file_name=file_name,
                                       size=len(data), description="random 2-layer BERT for tests")


def test_a_zipped_hf_folder_is_registered_with_its_digest_and_config(engineer, tiny_files, _own_artifact_root):
    encoder = _register(engineer, _zip({f"tiny/{n}": b for n, b in tiny_files.items()}))  # one top folder
    directory = Path(encoder.directory)
    assert directory.parent == Path(_own_artifact_root) / "pretrained"
    assert encoder.digest == artifact_digest(directory)
    assert encoder.config == {"model_type": "bert", "layers": 2, "hidden": 32, "heads": 2, "vocab": 30522,
                                   "intermediate": 64, "max_position": 128, "tokenizer_vocab": 30522}
    metadata = json.loads((directory / "metadata.json").read_text())
    assert metadata["other_files"] and set(metadata["other_files"]) == {"vocab.txt"}
    assert not any((Path(_own_artifact_root) / "pretrained" / ".staging").iterdir())
    entry = AuditLogEntry.objects.get(action="pretrained_encoder.registered")
    assert entry.payload["digest"] == encoder.digest and entry.object_id == str(encoder.pk)


def test_api_registers_lists_and_shows_an_encoder(api_client, engineer, tiny_files):
    api_client.force_authenticate(engineer)
    upload = io.BytesIO(_zip(tiny_files))
    upload.name = "tiny.zip"
    response = api_client.post("/api/pretrained-encoders/", {"name": "tiny-api", "archive": upload},
                               format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["config"]["hidden"] == 32 and len(body["digest"]) == 64
    listed = api_client.get("/api/pretrained-encoders/").json()
    assert [e["name"] for e in (listed.get("results", listed))] == ["tiny-api"]
    detail = api_client.get(f"/api/pretrained-encoders/{body['id']}/").json()
    assert detail["digest"] == body["digest"] and detail["used_by"] == 0


REFUSALS = {
    "pickle inside": ({"pytorch_model.bin": b"\x80\x04pickle"}, "pickle"),
    "zip slip": ({"../evil": b"x"}, "escapes the target directory"),
    "absolute path": ({"/tmp/evil": b"x"}, "absolute"),
    "no safetensors": ({"model.safetensors": None}, "model.safetensors"),
    "no config": ({"config.json": None}, "config.json"),
    "no tokenizer": ({"tokenizer.json": None}, "tokenizer.json"),
    "broken weights": ({"model.safetensors": b"not safetensors"}, "safetensors"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_zip_is_refused_with_a_field_message_and_leaves_nothing(case, api_client, engineer, tiny_files,
                                                                     _own_artifact_root):
    change, message = REFUSALS[case]
    entries = {**tiny_files, **change}
    upload = io.BytesIO(_zip({n: b for n, b in entries.items() if b is not None}))
    upload.name = "model.zip"
    api_client.force_authenticate(engineer)
    response = api_client.post("/api/pretrained-encoders/", {"name": "bad", "archive": upload}, format="multipart")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["archive"])
    assert not PretrainedEncoder.objects.exists()
    assert not AuditLogEntry.objects.filter(action="pretrained_encoder.registered").exists()
    assert _left_on_disk(Path(_own_artifact_root)) == ["pretrained"]


@pytest.mark.parametrize("file_name", ["pytorch_model.bin", "weights.pt", "model.pth", "model.pkl", "last.ckpt"])
def test_a_pickle_checkpoint_upload_is_refused(file_name, engineer, _own_artifact_root):
    with pytest.raises(ValidationFailed, match="pickle") as refused:
        _register(engineer, b"\x80\x04anything", file_name=file_name)
    assert refused.value.field == "archive"
    assert not PretrainedEncoder.objects.exists() and _left_on_disk(Path(_own_artifact_root)) == []


def test_an_upload_over_the_size_limit_is_refused(settings, engineer, tiny_files, _own_artifact_root):
    settings.PRETRAINED_UPLOAD_MAX_BYTES = 1024
    data = _zip(tiny_files)
    with pytest.raises(ValidationFailed, match="larger than"):
        _register(engineer, data)
    with pytest.raises(ValidationFailed, match="larger than"):  # a size not told in advance is counted
        pretrained_encoder_register(actor=engineer, name="x", archive=io.BytesIO(data), file_name="x.zip")
    assert not PretrainedEncoder.objects.exists() and _left_on_disk(Path(_own_artifact_root)) == ["pretrained"]


def test_the_page_shows_a_form_error_and_registers_a_good_zip(client, engineer, tiny_files):
    client.force_login(engineer)
    url = reverse("pretrained-encoders")
    page = client.get(url)
    assert page.status_code == 200 and b"all-MiniLM-L6-v2" in page.content and b"built-in, default" in page.content
    bad = io.BytesIO(_zip({**tiny_files, "../evil": b"x"}))
    bad.name = "bad.zip"
    response = client.post(url, {"name": "page-bert", "archive": bad})
    assert response.status_code == 400
    assert b"escapes the target directory" in response.content and b'class="errorlist"' in response.content
    good = io.BytesIO(_zip(tiny_files))
    good.name = "good.zip"
    response = client.post(url, {"name": "page-bert", "archive": good})
    assert response.status_code == 302
    assert b"page-bert" in client.get(url).content


def test_a_reviewer_sees_the_encoders_but_cannot_register(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("pretrained-encoders")).status_code == 200
    assert client.post(reverse("pretrained-encoders"), {"name": "x"}).status_code == 403


def test_training_from_a_registered_encoder_records_it_in_config_and_lineage(engineer, inline_jobs, tiny_files,
                                                                             client):
    encoder = _register(engineer, _zip(tiny_files))
    data = upload_hiring(engineer, n_rows=60)
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="from-tiny", dataset_version=data,
                                                 encoder="registered", pretrained_encoder=encoder, epochs=2)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    assert version.pretrained_encoder == encoder
    assert version.training_config["pretrained_encoder"] == {"id": encoder.pk, "name": "tiny-bert",
                                                             "digest": encoder.digest}
    artifact = json.loads((Path(version.artifact_path) / "config.json").read_text())
    assert artifact["encoder"]["hidden_size"] == 32  # the registered weights, not MiniLM's 384
    metadata = json.loads((Path(version.artifact_path) / "metadata.json").read_text())
    assert metadata["training_config"]["pretrained_encoder"]["digest"] == encoder.digest
    requested = AuditLogEntry.objects.get(action="model_version.training_requested", object_id=str(version.pk))
    assert requested.payload["config"]["pretrained_encoder"]["name"] == "tiny-bert"
    methods = next(v for k, v in annex_iv(version)["sections"].items() if k.startswith("2."))["methods"]
    assert methods["third_party_pretrained_components"] == [
        f"tiny-bert (registered pretrained encoder, sha256 {encoder.digest})"]
    client.force_login(engineer)
    page = client.get(reverse("model-version", args=[version.pk])).content.decode()
    assert "tiny-bert</a>" in page and "(registered, third-party)" in page


def test_training_refuses_an_encoder_changed_since_registration(engineer, inline_jobs, tiny_files):
    encoder = _register(engineer, _zip(tiny_files))
    data = upload_hiring(engineer, n_rows=60)
    # Other weights of the same shapes: loadable, so only the digest check can notice.
    save_file(_hf_tensors(TINY, seed=99), str(Path(encoder.directory) / "model.safetensors"))
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="tampered", dataset_version=data,
                                                 encoder="registered", pretrained_encoder=encoder, epochs=1)
    version.refresh_from_db()
    assert version.status == "failed" and "digest" in version.error
    assert Job.objects.get(kind="training", subject_id=version.pk).status == "failed"


def test_the_registered_choice_needs_an_encoder(api_client, engineer):
    data = upload_hiring(engineer, n_rows=60)
    api_client.force_authenticate(engineer)
    response = api_client.post("/api/model-versions/", {"model_name": "m", "dataset_version": data.pk,
                                                        "encoder": "registered"}, format="json")
    assert response.status_code == 400 and "pretrained_encoder" in response.json()
    assert not ModelVersion.objects.exists()


def test_the_train_form_offers_the_builtin_encoder_as_default(client, engineer):
    client.force_login(engineer)
    page = client.get(reverse("model-train")).content.decode()
    assert "Built-in pretrained MiniLM-L6 encoder (default)" in page
    assert 'value="pretrained" selected' in page and "Registered encoder" in page
    data = upload_hiring(engineer, n_rows=60)
    response = client.post(reverse("model-train"), {"model_name": "m", "dataset_version": data.pk,
                                                    "encoder": "registered", "epochs": 1, "seed": 0})
    assert response.status_code == 400 and "Choose the registered encoder to train from." in response.content.decode()
    assert not ModelVersion.objects.exists()

