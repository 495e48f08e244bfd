"""The report page's cached sections (governance/audits/report_cache.py): the same page as rendered afresh, never
stale after a change that the audit log records, never another reader's. A complete audit with stored results
comes from tests/governance/approvals/evidence.py (no training)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.accounts.roles import COMPLIANCE_OFFICER, REVIEWER
from governance.approvals.services import deployment_policy_update
from governance.audits import views
from governance.audits.services import audit_request
from governance.datasets.services import dataset_metadata_update
from governance.registry.services import deployment_start
from tests.factories import make_user
from tests.governance.approvals.evidence import completed_audit, ready_version

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
    assert "audits_auditresult" not in read and "approvals_deploymentpolicy" not in read
    assert "registry_deployment" not in read  # nothing the kept sections show is read again
    request = client.get(reverse("audit", args=[audit.pk])).wsgi_request
    fresh = render_to_string("audits/report.html", views._report_context(audit.pk), request=request)
    assert _comparable(second) == _comparable(first)
    assert _comparable(second) == _comparable(fresh)


def test_a_deployment_shows_on_the_next_view(client, engineer, audit):
    assert "never deployed" in _section(_page(client, engineer, audit), "lineage", "evidence")
    deployment_start(actor=engineer, model_version=audit.model_version, environment="staging")
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
    dataset_metadata_update(actor=engineer, dataset=audit.model_version.dataset_version.dataset,
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
                           dataset_version=audit.dataset_version)  # stays queued: the job is never sent here
    page = _page(client, engineer, queued)
    assert "No verdict yet: the audit is queued." in page and 'class="progress' in page
    assert DEPLOY_BUTTON not in page
