"""In headless Chromium: an engineer uploads a dataset, watches its datasheet job finish, reads the
datasheet, reweighs the data and compares the two versions."""

from __future__ import annotations

import pytest

from governance.datasets.models import DatasetVersion
from tests.e2e.browser import SCREENSHOTS, browser_page, login
from tests.factories import PASSWORD, hiring_bytes, make_user

pytestmark = [pytest.mark.browser]


def test_engineer_reads_the_datasheet_reweighs_and_compares(live_server, transactional_db, settings, tmp_path):
    settings.JOB_DISPATCH = "thread"  # the datasheet job runs beside the server, as in the demo
    engineer = make_user()
    data = tmp_path / "hiring.csv"
    data.write_bytes(hiring_bytes(600))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/datasets/upload/")
        page.fill("#id_name", "applicants")
        page.set_input_files("#id_file", str(data))
        page.fill("#id_label_column", "hired")
        page.fill("#id_sensitive_attributes", "gender, age_band")
        page.click("main button[type=submit]")
        # The live bar polls the job; the page reloads with the datasheet card when it completes.
        page.wait_for_selector("text=Open the datasheet", timeout=60_000)
        page.click("text=Open the datasheet")
        page.wait_for_selector("svg.chart")
        assert page.locator("svg.chart").count() == 8
        gender = page.inner_text("#slice-1")
        assert "reference group male" in gender and "female" in gender
        excludes_zero = "#slice-1 td .flag[title='interval excludes zero']"
        assert page.locator(excludes_zero).count() == 1  # women's rate gap
        page.screenshot(path=str(SCREENSHOTS / "datasheet.png"), full_page=True)

        source = DatasetVersion.objects.get(dataset__name="applicants")
        page.goto(f"{live_server.url}/datasets/versions/{source.pk}/")
        page.click("form[action$='/reweigh/'] button")
        page.wait_for_selector("text=Open the datasheet", timeout=60_000)
        assert "Reweighed v1" in page.inner_text("main")
        page.click("text=Open the datasheet")
        gender = page.inner_text("#slice-1")
        assert "largest rate gap 0.0 pp" in gender and page.locator(excludes_zero).count() == 0

        page.click("text=Compare with v1 (its source)")
        page.wait_for_selector("text=Datasheets side by side", timeout=60_000)  # after the drift job's reload
        assert "None: both versions have the same groups." in page.inner_text("main")
        page.screenshot(path=str(SCREENSHOTS / "dataset-compare.png"), full_page=True)
