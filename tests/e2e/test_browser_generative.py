"""In headless Chromium (issue 23): an ML engineer reads a generative version's memorisation report (canary
exposure by insertions, extraction by kind, the gates it fails) and continues a prompt in the playground."""

from __future__ import annotations

import pytest

from governance.audits.services import audit_request
from governance.datasets.services import dataset_upload
from governance.registry.services import model_version_request_training
from models_core.data.notes import service_notes_csv
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser]


def test_engineer_reads_the_memorisation_report_and_uses_the_playground(live_server, transactional_db, settings):
    from models_core.pii import find_pii

    find_pii("Customer Anna Berg")  # build the scan engine before the browser waits on a page
    settings.JOB_DISPATCH = "inline"
    settings.DECODER_TRAINING_DEFAULTS = {"hidden_size": 32, "intermediate_size": 64, "max_length": 128}
    engineer = make_user()
    data = dataset_upload(actor=engineer, name="notes-e2e", raw=service_notes_csv(8, seed=2).encode(),
                          file_name="notes.csv", text_column="text", label_column="topic",
                          subject_column="subject_id", sensitive_attributes=[])
    version = model_version_request_training(actor=engineer, model_name="notes-e2e-lm", dataset_version=data,
                                             kind="decoder", epochs=2)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    audit = audit_request(actor=engineer, model_version=version, dataset_version=data)
    audit.refresh_from_db()
    assert audit.status == "complete", audit.error
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/audits/{audit.pk}/")
        page.wait_for_selector("#memorisation")
        section = page.inner_text("#memorisation")
        assert "Canary exposure" in section and "16×" in section and "never (controls)" in section
        assert "email" in page.inner_text("#extraction-by-kind")
        assert "Canary exposure (memorisation)" in page.inner_text("main")
        assert_accessible(page, "memorisation report")
        page.goto(f"{live_server.url}/models/versions/{version.pk}/")
        page.click("text=Open the playground")
        page.fill("#id_prompt", "Customer ")
        page.select_option("#id_strategy", "top_p")
        page.click("#generate-form button[type=submit]")
        page.wait_for_selector("#continuation")
        assert "top_p" in page.inner_text("#generation")
        assert_accessible(page, "playground")
