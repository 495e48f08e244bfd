"""In headless Chromium: a reviewer logs in, reads an audit report, and a bad upload shows a form error."""

from __future__ import annotations

import pytest

from governance.roles import REVIEWER
from tests.e2e.browser import SCREENSHOTS, browser_page, login
from tests.factories import PASSWORD, make_user
from tests.governance.slice import completed_audit

pytestmark = [pytest.mark.browser]


def test_reviewer_reads_an_audit_report(live_server, transactional_db, settings):
    settings.JOB_DISPATCH = "inline"
    engineer = make_user()
    audit = completed_audit(engineer, _inline_on_commit, explain_rows=6)
    assert audit.status == "complete", audit.error
    reviewer = make_user(REVIEWER)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with browser_page() as page:
        login(page, live_server.url, reviewer.username, PASSWORD)
        page.click("text=Audits")
        page.click(f"a[href='/audits/{audit.pk}/']")
        page.wait_for_selector("#fairness")
        assert "complete" in page.inner_text("h1")
        fairness = page.inner_text("#fairness")
        for expected in ("gender", "female", "male", "age_band", "selection rate", "demographic parity difference"):
            assert expected in fairness
        assert audit.result_hash in page.content()
        page.screenshot(path=str(SCREENSHOTS / "audit-report.png"), full_page=True)
        # the disparities name the groups they count as 0 or leave out; the global view ranks whole words with
        # punctuation and stop words set aside, and shows them all on request without JavaScript (<details>)
        page.locator("table.disparities >> nth=0").screenshot(path=str(SCREENSHOTS / "report-fairness-exclusions.png"))
        words = page.inner_text("#explanations")
        assert "Global word importance" in words and "Set aside by default: punctuation" in words
        default_rows = page.locator("#global-tokens ~ .scroll >> nth=0").inner_text()
        assert "\n.\t" not in default_rows and "\n,\t" not in default_rows
        assert not page.is_visible("#global-all-words table")
        page.click("#global-all-words summary")
        assert page.is_visible("#global-all-words table")
        top, bottom = page.evaluate("""() => [document.querySelector('#global-tokens'),
            document.querySelector('#global-all-words')].map(e => e.getBoundingClientRect()).map(
            (r, i) => i === 0 ? r.top + window.scrollY : r.bottom + window.scrollY)""")
        page.screenshot(path=str(SCREENSHOTS / "report-global-words.png"), full_page=True,
                        clip={"x": 0, "y": top - 8, "width": page.viewport_size["width"], "height": bottom - top + 16})


def test_a_bad_upload_shows_the_error_on_the_form(live_server, transactional_db, tmp_path):
    engineer = make_user()
    bad = tmp_path / "bad.csv"
    bad.write_text("subject_id,body,hired\nS1,hello,yes\n")
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/datasets/upload/")
        page.fill("#id_name", "bad-data")
        page.set_input_files("#id_file", str(bad))
        page.click("main button[type=submit]")
        error = page.wait_for_selector(".errorlist")
        assert "Column 'text' is not in the file" in error.inner_text()


class _inline_on_commit:
    """In a transactional test every statement commits, so on_commit callbacks already run at once."""

    def __new__(cls):
        from contextlib import nullcontext

        return nullcontext()
