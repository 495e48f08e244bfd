"""The deployment requests, policies and webhooks lists: pages, filters, ordering both ways, 400 on bad
filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from governance.roles import ML_ENGINEER
from governance.approvals.models import DeploymentRequest, Webhook
from governance.approvals.services import (deployment_policy_update, deployment_request_approve,
                                           deployment_request_create, deployment_request_reject, webhook_create)
from tests.factories import PASSWORD, make_user
from tests.governance.api_lists import (assert_orders, assert_paginates, assert_refuses, ids, instant, listed)
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version

pytestmark = pytest.mark.django_db

REQUESTS, POLICIES, WEBHOOKS = "/api/deployment-requests/", "/api/deployment-policies/", "/api/webhooks/"


@pytest.fixture
def requests_(api_client, engineer, reviewers, officer):
    """Staging requests a day apart: a1 approved, a2 rejected, b1 pending (by another engineer); production:
    a2 pending."""
    now = timezone.now()
    deployment_policy_update(actor=officer, environment="staging", required_approvals=1, max_audit_age_days=None,
                             require_explanations=False, require_dpia_for_personal_data=False,
                             require_lawful_basis=False)
    olga = make_user(ML_ENGINEER, username="olga")
    a1 = ready_version(engineer)
    a2, b1 = next_version(a1), ready_version(engineer)
    made = {}
    for key, version, environment, actor in (("a1", a1, "staging", engineer), ("a2", a2, "staging", engineer),
                                             ("b1", b1, "staging", olga), ("a2_prod", a2, "production", engineer)):
        made[key] = deployment_request_create(actor=actor, model_version=version, environment=environment,
                                              audit=completed_audit(version), justification="pilot")
    deployment_request_approve(actor=reviewers[0], request_id=made["a1"].pk, password=PASSWORD)
    deployment_request_reject(actor=reviewers[0], request_id=made["a2"].pk, reason="not yet")
    for days, key in ((3, "a1"), (2, "a2"), (1, "b1"), (0, "a2_prod")):
        DeploymentRequest.objects.filter(pk=made[key].pk).update(created_at=now - timedelta(days=days))
    api_client.force_authenticate(engineer)
    return {"now": now, "a1": a1, "a2": a2, "b1": b1, **{f"req_{k}": v.pk for k, v in made.items()}}


def test_the_requests_list_pages_filters_and_orders(api_client, requests_):
    r = requests_
    approved, rejected, pending, production = r["req_a1"], r["req_a2"], r["req_b1"], r["req_a2_prod"]
    assert_paginates(api_client, REQUESTS)
    assert ids(api_client, REQUESTS) == [production, pending, rejected, approved]  # newest first
    assert ids(api_client, REQUESTS, status="pending") == [production, pending]
    assert ids(api_client, REQUESTS, status="approved") == [approved]
    assert ids(api_client, REQUESTS, environment="production") == [production]
    assert ids(api_client, REQUESTS, model=r["a1"].model_id, environment="staging") == [rejected, approved]
    assert ids(api_client, REQUESTS, model_version=r["a2"].pk) == [production, rejected]
    audit = DeploymentRequest.objects.get(pk=pending).audit_id
    assert ids(api_client, REQUESTS, audit=audit) == [pending]
    assert ids(api_client, REQUESTS, requested_by="olga") == [pending]
    assert ids(api_client, REQUESTS, q="OLG") == [pending]
    assert ids(api_client, REQUESTS, q="production") == [production]  # the environment
    assert ids(api_client, REQUESTS, q=f"#{rejected}") == [rejected]  # the request number
    assert ids(api_client, REQUESTS, created_after=instant(r["now"] - timedelta(days=1, hours=1))) \
        == [production, pending]
    assert ids(api_client, REQUESTS, created_before=instant(r["now"] - timedelta(days=2, hours=12))) == [approved]
    assert_orders(api_client, REQUESTS, "created_at")
    assert_orders(api_client, REQUESTS, "status")
    assert_orders(api_client, REQUESTS, "environment")
    assert ids(api_client, REQUESTS, ordering="decided_at")[:2] == [approved, rejected]  # undecided last
    assert ids(api_client, REQUESTS, ordering="-decided_at")[:2] == [rejected, approved]
    assert_refuses(api_client, REQUESTS, status="waiting", environment="qa", model="m", model_version="0",
                   audit="1.0.0", requested_by="r" * 151, created_before="tomorrow", ordering="justification")


def test_the_policies_list_pages_filters_and_orders(api_client, officer):
    api_client.force_authenticate(officer)
    body = listed(api_client, POLICIES)
    # environments in promotion order (staging, then production), not alphabetical
    assert body["count"] == 2 and [p["environment"] for p in body["results"]] == ["staging", "production"]
    assert [p["stored"] for p in body["results"]] == [False, False]
    page = listed(api_client, POLICIES, page_size=1)
    assert page["count"] == 2 and page["next"] and len(page["results"]) == 1
    assert api_client.get(page["next"]).json()["results"][0]["environment"] == "production"
    deployment_policy_update(actor=officer, environment="staging", required_approvals=3)
    assert ids(api_client, POLICIES, "environment", stored="true") == ["staging"]
    assert ids(api_client, POLICIES, "environment", stored="false") == ["production"]
    assert ids(api_client, POLICIES, "environment", environment="production") == ["production"]
    assert ids(api_client, POLICIES, "environment", ordering="-environment") == ["production", "staging"]
    assert ids(api_client, POLICIES, "required_approvals", ordering="required_approvals") == [2, 3]
    assert ids(api_client, POLICIES, "required_approvals", ordering="-required_approvals") == [3, 2]
    assert_refuses(api_client, POLICIES, environment="qa", stored="maybe", ordering="approvers", page_size="x")


def test_the_webhooks_list_pages_filters_and_orders(api_client, admin_user):
    now = timezone.now()
    made = [webhook_create(actor=admin_user, url=url, events=events) for url, events in (
        ("https://ci.example.com/hook", ["request.created"]),
        ("https://chat.example.com/deploys", ["request.approved", "request.rejected"]),
        ("https://audit.example.org/in", ["request.voided", "request.created"]))]
    Webhook.objects.filter(pk=made[1].pk).update(active=False)
    Webhook.objects.filter(pk=made[0].pk).update(created_at=now - timedelta(days=1))
    api_client.force_authenticate(admin_user)
    ci, chat, audit = (hook.pk for hook in made)
    assert_paginates(api_client, WEBHOOKS)
    assert ids(api_client, WEBHOOKS) == [audit, chat, ci]  # by URL
    assert ids(api_client, WEBHOOKS, active="false") == [chat]
    assert ids(api_client, WEBHOOKS, active="true") == [audit, ci]
    assert ids(api_client, WEBHOOKS, event="request.created") == [audit, ci]
    with pytest.MonkeyPatch.context() as patch:  # a database without JSON containment (SQLite, the demo's)
        patch.setattr(connection.features, "supports_json_field_contains", False)
        assert ids(api_client, WEBHOOKS, event="request.created", active="true") == [audit, ci]
    assert ids(api_client, WEBHOOKS, q=".ORG") == [audit]
    assert ids(api_client, WEBHOOKS, created_before=instant(now - timedelta(hours=1))) == [ci]
    assert ids(api_client, WEBHOOKS, created_after=instant(now - timedelta(hours=1))) == [audit, chat]
    assert_orders(api_client, WEBHOOKS, "url")
    assert_orders(api_client, WEBHOOKS, "created_at")
    assert_refuses(api_client, WEBHOOKS, active="2", event="request.deleted", ordering="secret",
                   created_after="1 Jan 2026")


def test_only_an_admin_lists_webhooks_whatever_the_filters(api_client, officer):
    api_client.force_authenticate(officer)
    assert api_client.get(WEBHOOKS, {"active": "true", "ordering": "-url"}).status_code == 403
    assert api_client.get(WEBHOOKS, {"active": "bogus"}).status_code == 403  # the role before the filters


def test_a_requests_comments_list_pages_filters_and_orders(api_client, requests_, engineer, reviewers):
    from governance.approvals.models import RequestComment
    from governance.approvals.services import deployment_request_comment

    request_id, now = requests_["req_a2_prod"], requests_["now"]  # requested by the engineer
    made = [deployment_request_comment(actor=actor, request_id=request_id, body=body).pk for actor, body in (
        (engineer, "Audit attached"), (reviewers[1], "Which threshold?"), (engineer, "0.5, as in staging"))]
    deployment_request_comment(actor=engineer, request_id=requests_["req_a1"], body="elsewhere")
    RequestComment.objects.filter(pk=made[0]).update(created_at=now - timedelta(days=1))
    url = f"{REQUESTS}{request_id}/comments/"
    assert_paginates(api_client, url)
    assert ids(api_client, url) == made  # oldest first: a conversation
    assert ids(api_client, url, author=engineer.username) == [made[0], made[2]]
    assert ids(api_client, url, created_after=instant(now - timedelta(hours=1))) == made[1:]
    assert ids(api_client, url, created_before=instant(now - timedelta(hours=1))) == made[:1]
    assert_orders(api_client, url, "created_at")
    assert_orders(api_client, url, "id")
    assert_refuses(api_client, url, ordering="body", author="a" * 151, created_after="earlier")
