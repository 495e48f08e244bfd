"""In headless Chromium: a reviewer reads a report quoting loan notes and sees [PERSON]/[PHONE] masks, no
applicant's name; then reveals one text with a reason (the form refuses a missing reason first)."""

from __future__ import annotations

import re

import pytest

from governance.auditlog.models import AuditLogEntry
from governance.roles import REVIEWER
from tests.e2e.a11y import assert_accessible
from tests.e2e.browser import browser_page, login
from tests.factories import PASSWORD, make_user
from tests.governance.audits.loan_audit import loan_notes_audit

pytestmark = [pytest.mark.browser]


def _leaks(text: str, planted: list[str]) -> list[str]:
    return [v for v in planted if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]


def test_reviewer_sees_masks_and_reveals_one_text_with_a_reason(live_server, transactional_db):
    from models_core.pii import find_pii

    # The live server runs in this process: build the scan engine (Presidio's import, the name lists: seconds
    # on a busy box) before the browser's first page load waits on it.
    find_pii("Applicant Ana Diaz")
    audit, planted = loan_notes_audit(make_user())
    reviewer = make_user(REVIEWER)
    with browser_page() as page:
        login(page, live_server.url, reviewer.username, PASSWORD)
        page.goto(f"{live_server.url}/audits/{audit.pk}/")
        page.wait_for_selector("#explanations")
        shown = page.inner_text("main")
        assert "[PERSON]" in shown and not _leaks(shown, planted)
        assert "[PERSON]" in page.inner_text("#explanation-1")
        assert "[PERSON]" in page.inner_text("#counterfactual")
        assert "masked" in page.inner_text("#masked-note")
        assert_accessible(page, "masked report")

        page.click("text=Reveal a masked text")
        page.wait_for_selector("#id_ref")
        assert not _leaks(page.inner_text("main"), planted)
        page.select_option("#id_ref", "explanations/texts/0")
        page.fill("#id_reason", "x")
        page.click("main button[type=submit]")
        error = page.wait_for_selector(".errorlist")
        assert "reason" in error.inner_text().lower() or "characters" in error.inner_text()
        assert not _leaks(page.inner_text("main"), planted)

        page.select_option("#id_ref", "explanations/texts/0")
        page.fill("#id_reason", "The applicant disputes the decision")
        page.click("main button[type=submit]")
        revealed = page.wait_for_selector("#revealed").inner_text()
        assert_accessible(page, "reveal page")
        assert _leaks(revealed, planted)  # the one text, in full
        page.goto(f"{live_server.url}/audits/{audit.pk}/")
        assert not _leaks(page.inner_text("main"), planted)
    entry = AuditLogEntry.objects.get(action="audit.text_revealed")
    assert entry.actor_username == reviewer.username
    assert entry.payload["ref"] == "explanations/texts/0" and not _leaks(str(entry.payload), planted)
