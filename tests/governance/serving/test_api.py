"""Service tokens, serving policies and the decision log through the API and the pages: a token is shown
once and stored hashed; roles and projects scope every operation; bad input is a 400 at the field."""

from __future__ import annotations

import pytest

from governance.auditlog.models import AuditLogEntry
from governance.roles import AUDITOR, COMPLIANCE_OFFICER, REVIEWER
from governance.serving.models import ServiceToken, ServingPolicy
from governance.serving.tokens import token_sha256
from tests.factories import make_project, make_user
from tests.governance.serving.served import predict


def test_a_token_created_through_the_api_is_shown_once_and_serves(served, api_client):
    api_client.force_authenticate(served["engineer"])
    response = api_client.post("/api/service-tokens/", {"model": served["model"].pk, "environment": "staging",
                                                        "name": "loan intake"}, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    row = ServiceToken.objects.get(pk=response.json()["id"])
    assert row.token_sha256 == token_sha256(token) and token not in str(ServiceToken.objects.values().get(pk=row.pk))
    listed = api_client.get("/api/service-tokens/", {"model": served["model"].pk}).json()["results"]
    assert all("token" not in t for t in listed) and {t["prefix"] for t in listed} >= {token[:12]}
    assert AuditLogEntry.objects.filter(action="service_token.created", object_id=str(row.pk)).exists()
    api_client.force_authenticate(None)
    assert predict(api_client, served["model"].pk, token, ["a text"]).status_code == 200


def test_tokens_of_another_project_are_invisible_and_cannot_be_made(served, api_client):
    outsider = make_user(project=make_project("other-team"))
    api_client.force_authenticate(outsider)
    assert api_client.get("/api/service-tokens/").json()["count"] == 0
    response = api_client.post("/api/service-tokens/", {"model": served["model"].pk, "environment": "staging",
                                                        "name": "x"}, format="json")
    assert response.status_code == 400 and response.json()["model"] == ["No such model."]  # as an unknown id
    row = ServiceToken.objects.get(model=served["model"])
    assert api_client.post(f"/api/service-tokens/{row.pk}/revoke/").status_code == 404


def test_a_production_token_takes_a_reviewer(served, api_client):
    api_client.force_authenticate(served["engineer"])
    response = api_client.post("/api/service-tokens/", {"model": served["model"].pk, "environment": "production",
                                                        "name": "prod"}, format="json")
    assert response.status_code == 403
    api_client.force_authenticate(served["reviewer"])
    assert api_client.post("/api/service-tokens/", {"model": served["model"].pk, "environment": "production",
                                                    "name": "prod"}, format="json").status_code == 201


@pytest.mark.parametrize("body, field", [({"environment": "staging", "name": "x"}, "model"),
                                         ({"model": 1, "environment": "moon", "name": "x"}, "environment"),
                                         ({"model": 1, "environment": "staging", "name": ""}, "name")])
def test_bad_token_input_is_a_400_at_its_field(served, api_client, body, field):
    api_client.force_authenticate(served["engineer"])
    response = api_client.post("/api/service-tokens/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_the_page_creates_a_token_shows_it_once_and_revokes_it(served, client):
    client.force_login(served["engineer"])
    page = client.post("/serving/tokens/new/", {"model": served["model"].pk, "environment": "staging",
                                                "name": "from the browser"})
    assert page.status_code == 201
    row = ServiceToken.objects.get(name="from the browser")
    html = page.content.decode()
    start = html.index('value="gst_') + len('value="')
    token = html[start:html.index('"', start)]
    assert token_sha256(token) == row.token_sha256
    again = client.get("/serving/").content.decode()
    assert token not in again and row.prefix in again
    assert client.post(f"/serving/tokens/{row.pk}/revoke/").status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_serving_policy_by_compliance_officers_only_with_the_six_month_floor(served, api_client):
    api_client.force_authenticate(served["engineer"])
    assert api_client.put("/api/serving-policies/staging/", {"store_text": True}, format="json").status_code == 403
    api_client.force_authenticate(make_user(COMPLIANCE_OFFICER))
    short = api_client.put("/api/serving-policies/staging/", {"retention_days": 182}, format="json")
    assert short.status_code == 400 and "retention_days" in short.json()
    rules = api_client.put("/api/serving-policies/staging/", {"fairness_rules": [{"metric": "nonsense", "max": 1}]},
                           format="json")
    assert rules.status_code == 400 and "fairness_rules" in rules.json()
    ok = api_client.put("/api/serving-policies/staging/", {"store_text": True, "retention_days": 365,
                                                           "auto_suspend": True}, format="json")
    assert ok.status_code == 200 and ok.json()["store_text"] is True
    assert ServingPolicy.objects.get(environment="staging").retention_days == 365
    assert AuditLogEntry.objects.filter(action="serving_policy.updated").exists()
    assert api_client.get("/api/serving-policies/moon/").status_code == 404


def test_the_decision_log_lists_no_text_and_only_the_projects_one_sees(served, api_client):
    from governance.serving.decision_queue import decisions_flush_all

    predict(api_client, served["model"].pk, served["token"], [{"text": "a", "subject_id": "S-9"}])
    decisions_flush_all()
    api_client.force_authenticate(make_user(AUDITOR))
    rows = api_client.get("/api/decisions/", {"model": served["model"].pk}).json()["results"]
    assert len(rows) == 1 and "text" not in rows[0] and "subject_id" not in rows[0]
    api_client.force_authenticate(make_user(REVIEWER, project=make_project("elsewhere")))
    assert api_client.get("/api/decisions/").json()["count"] == 0
    assert api_client.get("/api/decisions/", {"ordering": "nonsense"}).status_code == 400
