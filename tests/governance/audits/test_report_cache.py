"""The report page's cached sections (governance/audits/report.py): the same page as rendered afresh, never
stale after a change that the audit log records, never another reader's. A complete audit with stored results
comes from tests/governance/approvals/evidence.py (no training)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from governance.approvals.services import deployment_policy_update
from governance.audits import services as audit_services
from governance.audits import report
from governance.audits.models import AuditResult, Prediction
from governance.audits.services import audit_request
from governance.compliance.subject_requests import erasure_request_fulfil, subject_request_register
from governance.datasets.services import dataset_metadata_update
from tests.factories import make_user, upload_hiring
from tests.governance.approvals.evidence import completed_audit, ready_version
from tests.governance.slice import trained_version

pytestmark = pytest.mark.django_db

DEPLOY_BUTTON = "Request deployment on this evidence"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def audit(engineer):
    return completed_audit(ready_version(engineer), finished_days_ago=2.5)


def _page(client, user, audit) -> str:
    client.force_login(user)
    response = client.get(reverse("audit", args=[audit.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _comparable(html: str) -> str:
    """Without what differs between two renderings of one page: the CSRF token, the charts' random ids and the
    blank lines between sections."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r"\s+", " ", re.sub(r"\b([td])-[0-9a-f]{8}\b", r"\1-x", html))


def _section(html: str, anchor: str, until: str) -> str:
    return html[html.index(f'id="{anchor}"'):html.index(f'id="{until}"')]


def test_the_cached_page_is_the_page_rendered_from_the_database(client, engineer, audit):
    first = _page(client, engineer, audit)  # renders the sections and keeps them
    with CaptureQueriesContext(connection) as queries:
        second = _page(client, engineer, audit)
    read = " ".join(q["sql"] for q in queries.captured_queries)
    # the results' digests are read with the audit (one statement), their data is not
    assert sum("audits_auditresult" in q["sql"] for q in queries.captured_queries) == 1
    assert '"audits_auditresult"."data"' not in read and "approvals_deploymentpolicy" not in read
    assert "registry_deployment" not in read  # nothing the kept sections show is read again
    request = client.get(reverse("audit", args=[audit.pk])).wsgi_request
    fresh = render_to_string("audits/report.html", report.report_context(audit_id=audit.pk, user=None), request=request)
    assert _comparable(second) == _comparable(first)
    assert _comparable(second) == _comparable(fresh)


def test_a_deployment_shows_on_the_next_view(client, engineer, audit):
    from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                               deployment_request_create)
    from governance.roles import COMPLIANCE_OFFICER, REVIEWER
    from tests.factories import PASSWORD

    assert "never deployed" in _section(_page(client, engineer, audit), "lineage", "evidence")
    deployment_policy_update(actor=make_user(COMPLIANCE_OFFICER), environment="staging", required_approvals=1,
                             max_audit_age_days=None)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="pilot")
    # A version is deployed only on an approved request (registry.deployments.deployment_start).
    deployment_request_approve(actor=make_user(REVIEWER), request_id=request.pk, password=PASSWORD)
    lineage = _section(_page(client, engineer, audit), "lineage", "evidence")
    assert "never deployed" not in lineage and "Staging from" in lineage and "(serving)" in lineage


def test_a_policy_change_shows_in_the_verdict_on_the_next_view(client, engineer, audit):
    officer = make_user(COMPLIANCE_OFFICER)
    verdict = _section(_page(client, engineer, audit), "verdict", "performance")
    assert "Minimum accuracy" not in verdict
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, min_accuracy=0.99)
    verdict = _section(_page(client, engineer, audit), "verdict", "performance")
    assert "Minimum accuracy" in verdict and "the policy needs at least 0.990" in verdict


def test_a_change_to_the_training_data_s_declarations_shows_in_the_verdict(client, engineer, audit):
    assert "DPIA DPIA-2026-001" in _section(_page(client, engineer, audit), "verdict", "performance")
    # a compliance officer's change (the service checks the role in the dataset's project since issue 17)
    dataset_metadata_update(actor=make_user(COMPLIANCE_OFFICER), dataset=audit.model_version.dataset_version.dataset,
                            dpia_reference="DPIA-2026-042")
    assert "DPIA DPIA-2026-042" in _section(_page(client, engineer, audit), "verdict", "performance")


def test_the_audit_s_age_is_judged_on_the_day_of_the_view(client, engineer, audit, monkeypatch):
    officer = make_user(COMPLIANCE_OFFICER)
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=3)
    verdict = _section(_page(client, engineer, audit), "verdict", "performance")
    assert "audit finished 2 day(s) ago; the policy allows 3" in verdict
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    verdict = _section(_page(client, engineer, audit), "verdict", "performance")
    assert "audit finished 4 day(s) ago; the policy allows 3" in verdict


def test_what_the_reader_may_do_and_who_they_are_is_never_shared(client, engineer, audit):
    alice = make_user(username="alice")  # an ML engineer: may request a deployment
    bob = make_user(REVIEWER, username="bob")  # may not
    page = _page(client, alice, audit)
    assert DEPLOY_BUTTON in page and "alice" in page
    page = _page(client, bob, audit)  # the sections alice's view kept
    assert DEPLOY_BUTTON not in page and "alice" not in page and "bob · reviewer" in page
    assert DEPLOY_BUTTON in _page(client, alice, audit)


def test_an_audit_in_progress_is_rendered_from_the_database(client, engineer, audit):
    queued = audit_request(actor=engineer, model_version=audit.model_version,
                           dataset_version=audit.dataset_version,  # stays queued: the job is never sent here
                           overlap_justification="a re-run on its own training rows")
    page = _page(client, engineer, queued)
    assert "No verdict yet: the audit is queued." in page and 'class="progress' in page
    assert DEPLOY_BUTTON not in page


def _text_of(html: str) -> str:
    """The page as read: tags stripped (a heatmap's token spans give back the explained text), entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.slow  # trains a small model and explains one row (SHAP and IG), as an erasure needs real rows
def test_an_erasure_removes_the_subject_s_text_from_the_kept_report(client, engineer, inline_jobs, monkeypatch):
    monkeypatch.setitem(audit_services.DEFAULT_CONFIG, "explain_methods", ["shap", "ig"])
    version, _ = trained_version(engineer, inline_jobs, epochs=2)
    holdout = upload_hiring(engineer, n_rows=40, seed=5)
    with inline_jobs():
        explained = audit_request(actor=engineer, model_version=version, dataset_version=holdout, explain_rows=1)
    explained.refresh_from_db()
    assert explained.status == "complete", explained.error
    result = AuditResult.objects.get(audit=explained, kind="explanations")
    entry = result.data["texts"][0]
    position = result.data["row_indices"][entry["index"]]
    record = Prediction.objects.filter(audit=explained).order_by("pk")[position].record
    subject, text = record.subject_id, entry["text"]
    assert text == record.text

    assert text in _text_of(_page(client, engineer, explained))  # rendered and kept
    with CaptureQueriesContext(connection) as queries:
        assert text in _text_of(_page(client, engineer, explained))
    read = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"audits_auditresult"."data"' not in read  # the kept sections: the text is served from the cache
    assert cache.get(report._stored_key(explained.pk))["sections"]

    officer = make_user(COMPLIANCE_OFFICER)
    erasure_request_fulfil(actor=officer, ground="b",
                           request=subject_request_register(actor=officer, kind="erasure", subject_id=subject))
    explained.refresh_from_db()
    result.refresh_from_db()
    assert result.data["texts"][0]["text"] == "[erased]"
    assert len(explained.result_hash) == 64  # unchanged by the redaction: the key must not rest on it
    # the kept copy holding the erased text is gone from the cache itself, not merely no longer shown
    assert cache.get(report._stored_key(explained.pk)) is None

    page = _page(client, engineer, explained)
    assert text not in _text_of(page)
    section = page[page.index('id="explanation-1"'):]
    assert "[erased]" in _text_of(section)
    assert result.sha256 in page  # the rewritten result's digest, not the one kept before the erasure


class DownCache(BaseCache):
    """A cache whose backend is unreachable: every call raises, as Django's Redis cache does with Redis down."""

    def __init__(self, location, params):
        super().__init__(params)

    def _down(self, *args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    add = get = set = touch = delete = clear = get_many = set_many = delete_many = has_key = _down


def test_a_cache_that_fails_leaves_the_page_rendered_from_the_database(client, engineer, audit, caplog):
    expected = _page(client, engineer, audit)  # with a working cache, for comparison
    down = {"default": {"BACKEND": f"{__name__}.DownCache"}}
    with override_settings(CACHES=down), caplog.at_level(logging.WARNING, logger="governance.audits.report"):
        with pytest.raises(ConnectionError):
            cache.get("anything")  # the override is in force
        page = _page(client, engineer, audit)
    assert _comparable(page) == _comparable(expected)
    for anchor in ("verdict", "performance", "fairness", "lineage", "evidence"):
        assert f'id="{anchor}"' in page
    assert audit.result_hash in page
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("(read)" in w for w in warnings) and any("(write)" in w for w in warnings)
