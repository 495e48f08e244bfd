"""The "bring your own" journey in headless Chromium (issue 22): upload one CSV, split it, import an external
classifier, audit it on the holdout, read the report; and a file over the in-request limit sent by the page in
chunks, one of them dropped by the network and resumed. Jobs run in threads of the live server
(JOB_DISPATCH=thread); axe-core checks every page visited."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from governance.audits import services as audit_services
from governance.audits.models import Audit
from governance.datasets.models import DatasetSplit, DatasetUpload, DatasetVersion
from governance.registry.models import ModelVersion
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = [pytest.mark.browser]


def _classifier_zip(path) -> None:
    """A BertForSequenceClassification on the MiniLM weights with a seeded head, saved by transformers."""
    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast

    from models_core.encoder.pretrained import default_encoder_dir

    torch.manual_seed(0)
    source = default_encoder_dir()
    model = BertForSequenceClassification.from_pretrained(str(source), num_labels=2, id2label={0: "no", 1: "yes"},
                                                          label2id={"no": 0, "yes": 1})
    folder = path.parent / "clf"
    model.save_pretrained(str(folder), safe_serialization=True)
    BertTokenizerFast(tokenizer_file=str(source / "tokenizer.json")).save_pretrained(str(folder))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, f"loan-notes-clf/{file.name}")
    path.write_bytes(buffer.getvalue())


def test_upload_split_import_audit_and_read_the_report(live_server, transactional_db, settings, tmp_path,
                                                       monkeypatch):
    settings.JOB_DISPATCH = "thread"
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    from models_core.pii import find_pii
    find_pii("Applicant Ana Diaz")  # the scan's engine, built once before the pages poll
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap"])
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "n_boot", 200)
    engineer = make_user(username="bea-byo")
    csv_path, zip_path = tmp_path / "loan-notes.csv", tmp_path / "loan-notes-clf.zip"
    csv_path.write_bytes(hiring_bytes(240, seed=12))
    _classifier_zip(zip_path)
    base = live_server.url
    with browser_page() as page:
        login(page, base, engineer.username, PASSWORD)
        page.goto(f"{base}/datasets/upload/")
        page.fill("#id_name", "loan-notes")
        page.set_input_files("#id_file", str(csv_path))
        page.fill("#id_label_column", "hired")
        page.fill("#id_sensitive_attributes", "gender, age_band")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/datasets/versions/\d+/$"))
        source = DatasetVersion.objects.get(dataset__name="loan-notes", version=1)

        # split it: 70 / 15 / 15 by subject, stratified, seed 7
        page.fill("#id_seed", "7")
        page.click("#split-form button[type=submit]")
        page.wait_for_url(re.compile(rf"/datasets/versions/{source.pk}/#splits$"))
        assert_accessible(page, "dataset version with its split")
        split = DatasetSplit.objects.get(source=source)
        holdout = split.parts.get(split_role="holdout")
        page.click("[data-split-role=holdout]")
        page.wait_for_url(re.compile(rf"/datasets/versions/{holdout.pk}/$"))
        assert "holdout" in page.inner_text("main")

        # import the external classifier
        page.goto(f"{base}/models/")
        page.click("text=Import an external classifier")
        page.wait_for_url(re.compile(r"/models/import/$"))
        assert_accessible(page, "import form")
        page.fill("#id_model_name", "vendor-screening")
        page.set_input_files("#id_archive", str(zip_path))
        page.fill("#id_declared_training_data", "Vendor's 40,000 loan notes, 2020-2024, EU branches.")
        page.fill("#id_intended_purpose", "Flag loan notes for a second human review.")
        page.click("#import-form button[type=submit]")
        page.wait_for_url(re.compile(r"/models/versions/\d+/$"), timeout=120_000)
        assert page.locator("#lineage-external").count() == 1
        assert_accessible(page, "imported model version")
        imported = ModelVersion.objects.get(model__name="vendor-screening")
        assert imported.status == "ready" and imported.training_config["external"]["uploaded_by"] == engineer.username

        # audit it on the holdout part, then read the report
        page.goto(f"{base}/audits/new/?model_version={imported.pk}")
        page.select_option("#id_dataset_version", str(holdout.pk))
        page.fill("#id_explain_rows", "1")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/audits/\d+/$"))
        page.wait_for_selector("#verdict .verdict-env", timeout=600_000)
        audit = Audit.objects.get(model_version=imported)
        assert audit.status == "complete", audit.error
        report = page.inner_text("main")
        assert "An external model" in report and "Fairness by group" in report and audit.result_hash in report
        assert page.locator("#training-overlap").count() == 0
        assert_accessible(page, "report of the external model")


def test_the_page_sends_a_large_file_in_chunks_and_resumes_after_a_dropped_request(live_server, transactional_db,
                                                                                   settings, tmp_path):
    settings.JOB_DISPATCH = "thread"
    settings.DATASET_UPLOAD_ROOT = tmp_path / "uploads"
    settings.DATASET_UPLOAD_MAX_BYTES = 20_000  # anything larger goes in chunks
    settings.DATASET_UPLOAD_CHUNK_BYTES = 16_384
    engineer = make_user(username="cy-chunks")
    csv_path = tmp_path / "notes.csv"
    raw = hiring_bytes(400, seed=3)
    csv_path.write_bytes(raw)
    base = live_server.url
    dropped = []
    with browser_page() as page:
        login(page, base, engineer.username, PASSWORD)

        def drop_once(route):  # the network drops the second chunk once
            if "offset=16384" in route.request.url and not dropped:
                dropped.append(route.request.url)
                route.abort("connectionreset")
            else:
                route.continue_()

        page.route(re.compile(r".*/chunks/\?offset=.*"), drop_once)
        page.goto(f"{base}/datasets/upload/")
        page.fill("#id_name", "chunked-notes")
        page.set_input_files("#id_file", str(csv_path))
        page.fill("#id_label_column", "hired")
        page.fill("#id_sensitive_attributes", "gender, age_band")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/datasets/uploads/\d+/$"), timeout=120_000)
        page.wait_for_selector("#upload-version", timeout=180_000)
        assert_accessible(page, "upload status")
    assert dropped, "the second chunk was never sent"
    upload = DatasetUpload.objects.get(file_name="notes.csv")
    assert upload.status == "complete" and upload.received == len(raw)
    assert upload.version.row_count == 400
