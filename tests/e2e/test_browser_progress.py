"""In headless Chromium: a job's bar moves while the page stays loaded, and a failure shows its error
without a reload (the worker's side is driven from the test through the jobs services)."""

from __future__ import annotations

import pytest

from governance.jobs import services as jobs
from governance.jobs.models import Job
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD, make_user, upload_hiring

pytestmark = [pytest.mark.browser]


def test_the_bar_moves_and_a_failure_shows_its_error_without_reload(live_server, transactional_db, settings):
    settings.JOB_DISPATCH = "celery"  # sent to this test's Redis index; no worker takes it, the test plays one
    engineer = make_user()
    data = upload_hiring(engineer, n_rows=40)
    job = Job.objects.get(kind="datasheet", subject_id=data.pk)
    with browser_page() as page:
        login(page, live_server.url, engineer.username, PASSWORD)
        page.goto(f"{live_server.url}/datasets/versions/{data.pk}/datasheet/")
        section = f"[data-job-id='{job.pk}']"
        page.wait_for_selector(section)
        page.evaluate("() => { window.__sameDocument = true; }")
        running = jobs.job_start(job_id=job.pk)
        jobs.job_progress(job=running, stage="counting groups", percent=40, force=True)
        page.wait_for_selector(f"{section} .bar[aria-valuenow='40']")
        assert "counting groups" in page.inner_text(section)
        assert page.get_attribute(f"{section} [data-field=status]", "class") == "badge running"
        assert_accessible(page, "datasheet page with a running job")
        jobs.job_fail(job_id=job.pk, error="MemoryError: the group table did not fit")
        page.wait_for_selector(f"{section}.failed [role=alert]")
        assert "MemoryError: the group table did not fit" in page.inner_text(section)
        assert page.evaluate("() => window.__sameDocument === true"), "the page reloaded"
        assert_accessible(page, "datasheet page with a failed job")
