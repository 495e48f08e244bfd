"""External classifiers (issue 22, part 2): a Hugging Face BertForSequenceClassification folder built in the test
from the MiniLM weights with a head trained in-product, imported through the API; its logits equal transformers'
(≤ 1e-5) and its audit figures equal those of the same weights trained in-product; the refusals (pickle, zip-slip,
outputs that break the config's promise, missing Annex IV declarations) leave nothing behind."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.audits.models import AuditResult
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.compliance.documentation import annex_iv
from governance.datasets.models import DatasetRecord
from governance.datasets.splits import dataset_version_split
from governance.registry.artifact_store import artifact_local_dir
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from governance.roles import REVIEWER
from models_core.encoder.artifacts import load_artifact
from models_core.encoder.pretrained import default_encoder_dir
from tests.factories import make_project, make_user, upload_hiring

pytestmark = pytest.mark.django_db(transaction=False)
URL = "/api/model-versions/import/"


@pytest.fixture(autouse=True)
def _own_artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


def _hf_folder(state: dict[str, torch.Tensor], folder: Path, label_names=("no", "yes")):
    """save_pretrained (safetensors) of BertForSequenceClassification: MiniLM's encoder and pooler, the head
    given (`head.linear.*` of an in-product artifact), and MiniLM's tokenizer files."""
    from transformers import BertForSequenceClassification, BertTokenizerFast

    source = default_encoder_dir()
    model = BertForSequenceClassification.from_pretrained(
        str(source), num_labels=len(label_names), id2label=dict(enumerate(label_names)),
        label2id={n: i for i, n in enumerate(label_names)})
    with torch.no_grad():
        model.classifier.weight.copy_(state["head.linear.weight"])
        model.classifier.bias.copy_(state["head.linear.bias"])
        if "pooling.dense.weight" in state:
            model.bert.pooler.dense.weight.copy_(state["pooling.dense.weight"])
            model.bert.pooler.dense.bias.copy_(state["pooling.dense.bias"])
    model.eval().save_pretrained(str(folder), safe_serialization=True)
    BertTokenizerFast(tokenizer_file=str(source / "tokenizer.json")).save_pretrained(str(folder))
    return model


def _zip_folder(folder: Path, extra: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in drop:
                archive.write(path, f"clf/{path.relative_to(folder)}")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _post(client, raw: bytes, name="clf.zip", **fields):
    data = {"model_name": "external-clf", "archive": SimpleUploadedFile(name, raw),
            "declared_training_data": "12,000 loan-officer notes, 2019-2024, labelled by the credit team.",
            "intended_purpose": "Screening support for loan applications; a human decides.", **fields}
    return client.post(URL, data, format="multipart")


@pytest.fixture
def in_product(engineer, inline_jobs):
    """A split dataset and a version trained in-product on its train part with the BERT-pooler head."""
    source = upload_hiring(engineer, n_rows=300, seed=4)
    split = dataset_version_split(actor=engineer, version=source, shares={"train": 0.7, "holdout": 0.3}, seed=0)
    train, holdout = split.parts.get(split_role="train"), split.parts.get(split_role="holdout")
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="in-product", dataset_version=train,
                                                 epochs=3, pooling="cls_pooler")
    version.refresh_from_db()
    assert version.status == "ready", version.error
    bundle, _ = load_artifact(artifact_local_dir(artifact_path=version.artifact_path),
                              expected_digest=version.artifact_digest)
    return version, bundle, train, holdout


def test_imported_classifier_reproduces_transformers_and_the_in_product_audit(api_client, engineer, inline_jobs,
                                                                            in_product, tmp_path):
    trained, trained_bundle, train, holdout = in_product
    hf_model = _hf_folder(trained_bundle.model.state_dict(), tmp_path / "clf")
    api_client.force_authenticate(engineer)
    response = _post(api_client, _zip_folder(tmp_path / "clf"))
    assert response.status_code == 201, response.content
    imported = ModelVersion.objects.get(pk=response.json()["id"])
    assert imported.status == "ready" and imported.label_names == ["no", "yes"]
    external = imported.training_config["external"]
    assert external["uploaded_by"] == engineer.username and len(external["folder_sha256"]) == 64
    assert external["declared_training_data"].startswith("12,000") and external["output_check"]["num_labels"] == 2
    assert AuditLogEntry.objects.filter(action="model_version.imported", object_id=str(imported.pk)).exists()

    # Logits: the imported artifact, run by this project's encoder, against transformers on the same weights.
    bundle, metadata = load_artifact(artifact_local_dir(artifact_path=imported.artifact_path),
                                     expected_digest=imported.artifact_digest)
    assert metadata["lineage"] == "external"
    texts = list(DatasetRecord.objects.filter(version=holdout).order_by("row_index").values_list("text", flat=True))
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(str(tmp_path / "clf"))
    worst = 0.0
    for start in range(0, len(texts), 32):
        batch = texts[start:start + 32]
        ours_in = bundle.encode(batch)
        theirs_in = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
        assert torch.equal(ours_in["input_ids"], theirs_in["input_ids"])
        with torch.inference_mode():
            ours = bundle.model(ours_in["input_ids"], ours_in["attention_mask"], ours_in["token_type_ids"])
            theirs = hf_model(**theirs_in).logits
        worst = max(worst, float((ours - theirs).abs().max()))
    assert worst <= 1e-5, worst

    # Audit figures: the imported model and the same weights trained in-product, on the same holdout.
    with inline_jobs():
        a = audit_request(actor=engineer, model_version=trained, dataset_version=holdout, explain_rows=0)
        b = audit_request(actor=engineer, model_version=imported, dataset_version=holdout, explain_rows=2)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.status == b.status == "complete", (a.error, b.error)
    ra = {r.kind: r.data for r in AuditResult.objects.filter(audit=a)}
    rb = {r.kind: r.data for r in AuditResult.objects.filter(audit=b)}
    for key in ("accuracy", "f1_macro", "n"):
        assert ra["metrics"][key] == pytest.approx(rb["metrics"][key], abs=1e-9)
    for attr, body in ra["fairness"]["groupings"].items():
        for group, figures in body["groups"].items():
            for metric, value in figures["metrics"].items():
                assert rb["fairness"]["groupings"][attr]["groups"][group]["metrics"][metric]["value"] == \
                    pytest.approx(value["value"], abs=1e-9, nan_ok=True), (attr, group, metric)
    assert "explanations" in rb  # explainable like the others
    # Annex IV names it as an external component with its declared training data and purpose.
    doc = annex_iv(imported)
    section2 = doc["sections"]["2. Development: methods, data, validation"]
    assert section2["training_data"]["declared"].startswith("12,000")
    assert "external" in section2["methods"]["third_party_pretrained_components"][0]
    assert doc["sections"]["1. General description of the AI system"]["intended_purpose"].startswith("Screening")
    # Approvable like the others: a deployment request binds the imported artifact's digest and the audit.
    from governance.approvals.services import deployment_request_create

    request = deployment_request_create(actor=engineer, model_version=imported, environment="staging", audit=b,
                                        justification="Vendor model, audited on our holdout.")
    assert request.artifact_digest == imported.artifact_digest and request.audit_result_hash == b.result_hash
    # Mitigable like the others: a threshold child of the imported version.
    from governance.registry.mitigation import model_version_mitigate

    with inline_jobs():
        child = model_version_mitigate(actor=engineer, model_version=imported, dataset_version=holdout,
                                       attribute="gender", constraint="demographic_parity")
    child.refresh_from_db()
    assert child.status == "ready" and child.parent_id == imported.pk, child.error


def test_refusals_leave_nothing_behind(api_client, engineer, in_product, tmp_path, settings):
    _, trained_bundle, _, _ = in_product
    folder = tmp_path / "clf"
    _hf_folder(trained_bundle.model.state_dict(), folder)
    api_client.force_authenticate(engineer)
    before = ModelVersion.objects.count()
    # a pickle checkpoint hidden in the folder, a path escaping it, a bare encoder, a lying config
    cases = {"pickle": _zip_folder(folder, extra={"clf/pytorch_model.bin": b"\x80\x04K\x01."}),
             "zip-slip": _zip_folder(folder, extra={"../../evil.txt": b"x"}),
             "no weights": _zip_folder(folder, drop=("model.safetensors",))}
    config = json.loads((folder / "config.json").read_text())
    lying = tmp_path / "lying"
    shutil.copytree(folder, lying)
    (lying / "config.json").write_text(json.dumps({**config, "id2label": {"0": "a", "1": "b", "2": "c"},
                                                   "label2id": {"a": 0, "b": 1, "c": 2}}))
    cases["3 labels promised, 2 outputs"] = _zip_folder(lying)
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    cases["bare encoder"] = _zip_folder(bare)
    for case, raw in cases.items():
        response = _post(api_client, raw)
        assert response.status_code == 400 and "archive" in response.json(), (case, response.content)
    assert "labels" in _post(api_client, cases["3 labels promised, 2 outputs"]).json()["archive"][0]
    assert _post(api_client, b"\x80\x04", name="model.pt").status_code == 400
    good = _zip_folder(folder)
    assert "declared_training_data" in _post(api_client, good, declared_training_data="").json()
    assert "label_names" in _post(api_client, good, label_names=["only-one"]).json()
    assert ModelVersion.objects.count() == before
    assert not AuditLogEntry.objects.filter(action="model_version.imported").exists()
    staging = Path(settings.ARTIFACT_ROOT) / "imports" / ".staging"
    assert not staging.exists() or not any(staging.iterdir())
    # roles and projects: a reviewer may not import; another project cannot be named
    api_client.force_authenticate(make_user(REVIEWER))
    assert _post(api_client, good).status_code == 403
    api_client.force_authenticate(engineer)
    assert "project" in _post(api_client, good, project=make_project("not-mine").pk).json()
    assert ModelVersion.objects.count() == before
