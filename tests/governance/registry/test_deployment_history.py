"""Deployment history: which version served where from when to when, rollbacks, retirements, and
"what was in production at time T"."""

from __future__ import annotations

import pytest
from django.utils import timezone

from governance.approvals.services import deployment_request_approve, deployment_request_create
from governance.auditlog.models import AuditLogEntry
from governance.errors import InvalidState, NotAllowed, ValidationFailed
from governance.registry.models import Deployment
from governance.registry.services import deployment_retire, deployment_rollback
from tests.governance.approvals.evidence import completed_audit, next_version, ready_version
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(officer, reviewers):
    from governance.approvals.services import deployment_policy_update

    return deployment_policy_update(actor=officer, environment="production", required_approvals=2,
                                    max_audit_age_days=None, require_explanations=False,
                                    require_dpia_for_personal_data=False, require_lawful_basis=False)


@pytest.fixture
def officer(db):
    from governance.roles import COMPLIANCE_OFFICER
    from tests.factories import make_user

    return make_user(COMPLIANCE_OFFICER)


@pytest.fixture
def reviewers(db):
    from governance.roles import REVIEWER
    from tests.factories import make_user

    return [make_user(REVIEWER), make_user(REVIEWER)]


def _deploy(engineer, reviewers, version):
    audit = completed_audit(version)
    request = deployment_request_create(actor=engineer, model_version=version, environment="production",
                                        audit=audit, justification="Go")
    for reviewer in reviewers:
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    return request


def _at(api_client, when, **params):
    response = api_client.get("/api/deployments/at/", {"at": when.isoformat(), "environment": "production",
                                                       **params})
    assert response.status_code == 200, response.content
    return [(d["model"], d["version"], d["kind"]) for d in response.json()["deployments"]]


def test_the_history_answers_what_served_in_production_at_any_time(api_client, engineer, reviewers, production):
    v1 = ready_version(engineer)
    v2 = next_version(v1)
    name = v1.model.name
    before = timezone.now()
    _deploy(engineer, reviewers, v1)
    t1 = timezone.now()
    _deploy(engineer, reviewers, v2)
    t2 = timezone.now()
    deployment_rollback(actor=engineer, model=v1.model, environment="production", reason="v2 drifted")
    t3 = timezone.now()
    deployment_retire(actor=reviewers[0], model=v1.model, environment="production", reason="Replaced by vendor")
    t4 = timezone.now()
    api_client.force_authenticate(make_auditor())
    assert _at(api_client, before) == []
    assert _at(api_client, t1) == [(name, 1, "approved")]
    assert _at(api_client, t2) == [(name, 2, "approved")]
    assert _at(api_client, t3) == [(name, 1, "rollback")]
    assert _at(api_client, t4) == []
    assert _at(api_client, t2, model=v1.model_id) == [(name, 2, "approved")]
    periods = list(Deployment.objects.filter(environment="production").order_by("started_at"))
    assert [(d.model_version.version, d.kind) for d in periods] == [(1, "approved"), (2, "approved"), (1, "rollback")]
    assert periods[0].ended_reason == "replaced by v2" and periods[1].ended_reason.startswith("rolled back to v1")
    assert periods[2].ended_reason == "retired: Replaced by vendor"
    assert all(a.ended_at == b.started_at for a, b in zip(periods, periods[1:]))  # no gap, no overlap
    actions = list(AuditLogEntry.objects.filter(action__startswith="deployment.").values_list("action", flat=True))
    assert actions.count("deployment.started") == 2 and "deployment.rolled_back" in actions
    assert "deployment.retired" in actions


def make_auditor():
    from governance.roles import AUDITOR
    from tests.factories import make_user

    return make_user(AUDITOR)


def test_bad_times_are_refused_with_a_field_message(api_client, engineer):
    api_client.force_authenticate(engineer)
    response = api_client.get("/api/deployments/at/", {"at": "yesterday-ish"})
    assert response.status_code == 400 and "at" in response.json()
    response = api_client.get("/api/deployments/at/", {"at": timezone.now().isoformat(), "environment": "moon"})
    assert response.status_code == 400 and "environment" in response.json()


def test_rollback_and_retirement_rules(api_client, engineer, reviewers, production):
    v1 = ready_version(engineer)
    with pytest.raises(InvalidState, match="not serving"):
        deployment_retire(actor=reviewers[0], model=v1.model, environment="production", reason="x")
    _deploy(engineer, reviewers, v1)
    with pytest.raises(InvalidState, match="No earlier version"):
        deployment_rollback(actor=engineer, model=v1.model, environment="production", reason="x")
    with pytest.raises(ValidationFailed):
        deployment_retire(actor=reviewers[0], model=v1.model, environment="production", reason=" ")
    with pytest.raises(NotAllowed, match="needs a reviewer"):  # production: a reviewer retires, not the maker
        deployment_retire(actor=engineer, model=v1.model, environment="production", reason="x")
    with pytest.raises(NotAllowed):
        deployment_retire(actor=make_auditor(), model=v1.model, environment="production", reason="x")
    api_client.force_authenticate(reviewers[0])
    response = api_client.post("/api/deployments/retire/", {"model": v1.model_id, "environment": "production",
                                                            "reason": "End of pilot"}, format="json")
    assert response.status_code == 200 and response.json()["ended_reason"] == "retired: End of pilot"


def test_the_timeline_page_shows_each_period(client, engineer, reviewers, production):
    from tests.factories import PASSWORD

    v1 = ready_version(engineer)
    v2 = next_version(v1)
    _deploy(engineer, reviewers, v1)
    _deploy(engineer, reviewers, v2)
    client.login(username=engineer.username, password=PASSWORD)
    page = client.get(f"/models/{v1.model_id}/timeline/").content.decode()
    assert "Production" in page and "replaced by v2" in page and "serving" in page
    response = client.post(f"/models/{v1.model_id}/deployments/rollback/", {"environment": "production",
                                                                           "reason": ""})
    assert response.status_code == 400
    response = client.post(f"/models/{v1.model_id}/deployments/rollback/", {"environment": "production",
                                                                           "reason": "v2 misbehaves"})
    assert response.status_code == 302
    page = client.get(f"/models/{v1.model_id}/timeline/").content.decode()
    assert "Rollback to an earlier version" in page and "rolled back to v1: v2 misbehaves" in page
    assert client.post(f"/models/{v1.model_id}/deployments/explode/", {}).status_code == 404
