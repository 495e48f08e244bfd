"""Issue 23 through the dashboard: a generative version trained in a job on a dataset version's texts, with
canaries planted; its memorisation audit stored and shown in the report; generation in the API and the
playground, logged; and the doors a hostile or careless user might try."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client

from governance.audits.memorisation import subject_extraction
from governance.audits.models import AuditResult, AuditStatus
from governance.audits.services import audit_request
from governance.auditlog.models import AuditLogEntry
from governance.compliance.documentation import annex_iv
from governance.datasets.services import dataset_upload
from governance.errors import ValidationFailed
from governance.registry.choices import ModelKind, VersionStatus
from governance.registry.models import ModelVersion
from governance.registry.services import model_version_request_training
from models_core.data.notes import service_notes
from tests.factories import make_project, make_user, upload_hiring

pytestmark = pytest.mark.django_db(transaction=False)


def upload_notes(actor, n_subjects: int = 12):
    rows = service_notes(n_subjects, seed=3)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["subject_id", "text", "topic"])
    for i, row in enumerate(rows):
        writer.writerow([row["subject_id"], row["text"], "refund" if "refund" in row["text"] else "other"])
    return dataset_upload(actor=actor, name="service-notes", raw=out.getvalue().encode(), file_name="notes.csv",
                          text_column="text", label_column="topic", subject_column="subject_id",
                          sensitive_attributes=[])


@pytest.fixture
def decoder_version(engineer, inline_jobs, settings):
    settings.DECODER_TRAINING_DEFAULTS = {"hidden_size": 32, "intermediate_size": 64, "max_length": 128}
    data = upload_notes(engineer)
    with inline_jobs():
        version = model_version_request_training(actor=engineer, model_name="notes-lm", dataset_version=data,
                                                 kind=ModelKind.DECODER, epochs=2, seed=0)
    version.refresh_from_db()
    assert version.status == VersionStatus.READY, version.error
    return version


def test_decoder_trains_in_a_job_with_canaries_in_its_artifact(decoder_version):
    from governance.registry.decoders import decoder_load

    assert decoder_version.kind == "decoder" and decoder_version.label_names == []
    assert decoder_version.metrics["holdout_perplexity"] > 1 and decoder_version.metrics["n_inserted"] == 42
    bundle, metadata = decoder_load(version=decoder_version)
    assert sorted(c["repeats"] for c in metadata["canaries"]["canaries"]) == [0, 0, 1, 1, 4, 4, 16, 16]
    assert metadata["canaries"]["source"] == "os-entropy"
    assert AuditLogEntry.objects.filter(action="model_version.trained", object_id=str(decoder_version.pk)).exists()


def test_memorisation_audit_is_stored_and_shown_in_the_report(decoder_version, engineer, inline_jobs):
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=decoder_version,
                              dataset_version=decoder_version.dataset_version)
    audit.refresh_from_db()
    assert audit.status == AuditStatus.COMPLETE, audit.error
    kinds = set(AuditResult.objects.filter(audit=audit).values_list("kind", flat=True))
    assert {"perplexity", "canaries", "extraction", "compute"} <= kinds
    assert audit.summary["kind"] == "memorisation" and audit.summary["max_exposure"] is not None
    extraction = AuditResult.objects.get(audit=audit, kind="extraction").data
    assert extraction["findings_probed"] > 0
    client = Client()
    client.force_login(engineer)
    page = client.get(f"/audits/{audit.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="memorisation"' in html and 'id="canary-exposure"' in html and 'id="extraction-by-kind"' in html
    section = annex_iv(decoder_version)["sections"]["2. Development: methods, data, validation"]
    assert section["memorisation_testing"][0]["audit"] == audit.pk
    assert section["memorisation_testing"][0]["extraction"]["findings_probed"] == extraction["findings_probed"]
    subject = next(iter(extraction["by_subject"]))
    cited = subject_extraction(subject_id=subject, model_version=decoder_version)
    assert cited["audit"] == audit.pk and cited["findings"] >= 1


def test_generate_api_is_seeded_logged_and_refuses_bad_input(decoder_version, engineer, api_client):
    api_client.force_authenticate(engineer)
    url = f"/api/model-versions/{decoder_version.pk}/generate/"
    body = {"prompt": "Customer ", "strategy": "top_p", "top_p": 0.9, "seed": 5, "max_new_tokens": 20}
    first, again = api_client.post(url, body, format="json"), api_client.post(url, body, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["continuation"] == again.json()["continuation"]
    entry = AuditLogEntry.objects.filter(action="model_version.generated").last()
    assert entry is not None and "Customer" not in json.dumps(entry.payload)
    assert api_client.post(url, {**body, "strategy": "beam"}, format="json").status_code == 400
    assert api_client.post(url, {**body, "max_new_tokens": 100000}, format="json").status_code == 400


def test_generate_refuses_classifiers_and_other_projects(decoder_version, engineer, api_client, inline_jobs):
    """Attack: an engineer of another project tries the endpoint by id; a classifier is asked to generate."""
    outsider = make_user(username="outsider-gen", project=make_project("elsewhere-gen"))
    api_client.force_authenticate(outsider)
    url = f"/api/model-versions/{decoder_version.pk}/generate/"
    assert api_client.post(url, {"prompt": "x"}, format="json").status_code == 404
    data = upload_hiring(engineer)
    with inline_jobs():
        classifier = model_version_request_training(actor=engineer, model_name="clf", dataset_version=data, epochs=1)
    api_client.force_authenticate(engineer)
    response = api_client.post(f"/api/model-versions/{classifier.pk}/generate/", {"prompt": "x"}, format="json")
    assert response.status_code == 400 and "classifier" in json.dumps(response.json())


def test_playground_page_generates(decoder_version, engineer):
    client = Client()
    client.force_login(engineer)
    url = f"/models/versions/{decoder_version.pk}/playground/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"prompt": "Customer ", "strategy": "greedy", "max_new_tokens": 10, "top_k": 40,
                                 "top_p": 0.9, "temperature": 1.0, "seed": 0})
    assert response.status_code == 200 and 'id="continuation"' in response.content.decode()


def test_training_api_accepts_the_decoder_kind(engineer, api_client):
    data = upload_notes(engineer)
    api_client.force_authenticate(engineer)
    response = api_client.post("/api/model-versions/", {"model_name": "api-lm", "dataset_version": data.pk,
                                                        "kind": "decoder", "epochs": 1}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "decoder"
    assert response.json()["training_config"]["canaries"] is True
    clash = api_client.post("/api/model-versions/", {"model_name": "api-lm", "dataset_version": data.pk,
                                                     "kind": "classifier"}, format="json")
    assert clash.status_code == 400 and "another kind" in clash.json()["model_name"][0]


def test_gpt2_zip_import_gives_a_ready_version_that_generates_as_transformers_does(engineer, api_client, tmp_path,
                                                                                     inline_jobs):
    import torch

    from tests.tiny_gpt2 import build_tiny_gpt2

    gpt2 = build_tiny_gpt2(tmp_path)
    api_client.force_authenticate(engineer)
    with gpt2["pickle_zip"].open("rb") as fh:
        refused = api_client.post("/api/model-versions/import-decoder/", {"model_name": "gpt2-tiny", "archive": fh},
                                  format="multipart")
    assert refused.status_code == 400 and "pickle" in refused.json()["archive"][0]
    assert not ModelVersion.objects.filter(model__name="gpt2-tiny").exists()
    with gpt2["zip"].open("rb") as fh:
        response = api_client.post("/api/model-versions/import-decoder/", {"model_name": "gpt2-tiny", "archive": fh},
                                   format="multipart")
    assert response.status_code == 201, response.content
    version = ModelVersion.objects.get(pk=response.json()["id"])
    assert version.kind == "decoder" and version.status == VersionStatus.READY and version.artifact_digest
    out = api_client.post(f"/api/model-versions/{version.pk}/generate/", {"prompt": "the patient", "max_new_tokens": 8},
                          format="json").json()["continuation"]
    from governance.registry.decoders import decoder_load

    bundle, _ = decoder_load(version=version)
    prompt = torch.tensor([[bundle.eos_id] + bundle.token_ids(["the patient"])[0]])
    with torch.inference_mode():
        ref = gpt2["reference"].generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=8,
                                         do_sample=False, pad_token_id=bundle.eos_id, eos_token_id=bundle.eos_id)
    assert out == bundle.tokenizer.decode(ref[0, prompt.shape[1]:].tolist())
    data = upload_notes(engineer, n_subjects=4)
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=version, dataset_version=data)
    audit.refresh_from_db()
    assert audit.status == AuditStatus.COMPLETE, audit.error
    assert AuditResult.objects.get(audit=audit, kind="canaries").data["available"] is False
    assert AuditResult.objects.get(audit=audit, kind="extraction").data["findings_probed"] > 0


def test_prompt_swap_scored_by_a_registry_classifier(decoder_version, engineer, inline_jobs):
    data = upload_hiring(engineer)
    with inline_jobs():
        scorer = model_version_request_training(actor=engineer, model_name="scorer", dataset_version=data, epochs=1)
    scorer.refresh_from_db()
    with inline_jobs():
        audit = audit_request(actor=engineer, model_version=decoder_version,
                              dataset_version=decoder_version.dataset_version, scorer_version=scorer)
    audit.refresh_from_db()
    assert audit.status == AuditStatus.COMPLETE, audit.error
    swap = AuditResult.objects.get(audit=audit, kind="prompt_swap").data
    assert swap["n_templates"] >= 10 and swap["interval"][0] <= swap["mean_difference"] <= swap["interval"][1]
    assert audit.config["scorer_version"] == {"id": scorer.pk, "digest": scorer.artifact_digest,
                                              "positive_label": data.positive_label}
    with pytest.raises(ValidationFailed):  # a generative version cannot score
        audit_request(actor=engineer, model_version=decoder_version, dataset_version=data,
                      scorer_version=decoder_version)


def test_import_page_refuses_a_pickle_with_a_form_error(engineer, tmp_path):
    from tests.tiny_gpt2 import build_tiny_gpt2

    gpt2 = build_tiny_gpt2(tmp_path)
    client = Client()
    client.force_login(engineer)
    assert client.get("/models/import-decoder/").status_code == 200
    with gpt2["pickle_zip"].open("rb") as fh:
        response = client.post("/models/import-decoder/", {"model_name": "page-gpt2", "archive": fh})
    assert response.status_code == 400 and "pickle" in response.context["form"].errors["archive"][0]
    with gpt2["zip"].open("rb") as fh:
        response = client.post("/models/import-decoder/", {"model_name": "page-gpt2", "archive": fh})
    version = ModelVersion.objects.get(model__name="page-gpt2")
    assert response.status_code == 302 and response.url == f"/models/versions/{version.pk}/"


def test_train_form_queues_a_decoder_with_or_without_canaries(engineer):
    data = upload_notes(engineer, n_subjects=3)
    client = Client()
    client.force_login(engineer)
    form = {"dataset_version": data.pk, "kind": "decoder", "encoder": "pretrained", "epochs": 1, "seed": 0}
    assert client.post("/models/train/", {**form, "model_name": "form-lm", "canaries": "on"}).status_code == 302
    assert client.post("/models/train/", {**form, "model_name": "form-lm-plain"}).status_code == 302
    planted = ModelVersion.objects.get(model__name="form-lm")
    plain = ModelVersion.objects.get(model__name="form-lm-plain")
    assert planted.kind == plain.kind == "decoder"
    assert planted.training_config["canaries"] is True and plain.training_config["canaries"] is False
