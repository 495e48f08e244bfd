"""Deployment state follows approval state: a request that loses its approval suspends its deployment at once
(on the timeline, the model and version pages, the API), until it is approved again; a version is deployed
only on an approved request; retiring from production takes a reviewer."""

from __future__ import annotations

import pytest

from governance.approvals.services import deployment_policy_update, deployment_request_approve, deployment_request_create
from governance.auditlog.models import AuditLogEntry
from governance.errors import InvalidState, NotAllowed
from governance.registry.models import Deployment
from governance.registry.services import deployment_retire, deployment_start
from governance.roles import COMPLIANCE_OFFICER, REVIEWER
from tests.factories import PASSWORD, make_user
from tests.governance.approvals.evidence import completed_audit, ready_version

pytestmark = pytest.mark.django_db


def _policy(officer, environment="staging", **gates):
    fields = {"required_approvals": 1 if environment == "staging" else 2, "max_audit_age_days": None,
              "require_explanations": False, "require_dpia_for_personal_data": False, "require_lawful_basis": False}
    return deployment_policy_update(actor=officer, environment=environment, **{**fields, **gates})


def test_a_suspended_deployment_resumes_only_when_its_request_is_approved_again(client, engineer):
    officer, reviewer = make_user(COMPLIANCE_OFFICER), make_user(REVIEWER)
    _policy(officer, min_accuracy=0.8)
    audit = completed_audit(ready_version(engineer), accuracy=0.9)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="pilot")
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    first = Deployment.objects.get(request=request)
    assert first.status == "serving"

    _policy(officer, min_accuracy=0.95)  # the policy tightens: the approved request no longer stands
    first.refresh_from_db()
    assert first.status == "suspended" and first.ended_at is None
    assert "Minimum accuracy" in first.suspended_reason
    client.force_login(engineer)
    model = audit.model_version.model_id
    for url in (f"/models/{model}/timeline/", f"/models/{model}/", f"/models/versions/{audit.model_version_id}/"):
        page = client.get(url).content.decode()
        assert "suspended" in page and "badge bad" in page, url
    assert 'class="suspension"' in client.get(f"/models/{model}/timeline/").content.decode()

    _policy(officer, min_accuracy=0.8)  # relaxing the policy does not resume it: a reviewer must approve again
    first.refresh_from_db()
    assert first.status == "suspended"
    deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    first.refresh_from_db()
    assert first.status == "ended" and first.ended_reason == f"resumed: request #{request.pk} approved again"
    resumed = Deployment.objects.get(request=request, ended_at__isnull=True)
    assert resumed.status == "serving" and resumed.started_at == first.ended_at
    actions = list(AuditLogEntry.objects.filter(action__startswith="deployment.").values_list("action", flat=True))
    assert actions == ["deployment.started", "deployment.suspended", "deployment.started"]


def test_a_version_is_deployed_only_on_an_approved_request(engineer):
    version = ready_version(engineer)
    with pytest.raises(InvalidState, match="approved deployment request"):
        deployment_start(actor=engineer, model_version=version, environment="staging")
    audit = completed_audit(version)
    _policy(make_user(COMPLIANCE_OFFICER))
    pending = deployment_request_create(actor=engineer, model_version=version, environment="staging", audit=audit,
                                        justification="pilot")
    with pytest.raises(InvalidState, match="approved deployment request"):
        deployment_start(actor=engineer, model_version=version, environment="staging", request=pending)
    assert not Deployment.objects.exists()


def test_retiring_from_production_needs_a_reviewer_and_a_reason_even_when_suspended(api_client, engineer):
    officer = make_user(COMPLIANCE_OFFICER)
    reviewers = [make_user(REVIEWER), make_user(REVIEWER)]
    _policy(officer, "production", min_accuracy=0.8)
    audit = completed_audit(ready_version(engineer))
    request = deployment_request_create(actor=engineer, model_version=audit.model_version,
                                        environment="production", audit=audit, justification="go")
    for reviewer in reviewers:
        deployment_request_approve(actor=reviewer, request_id=request.pk, password=PASSWORD)
    _policy(officer, "production", min_accuracy=0.99)
    assert Deployment.objects.get(request=request).status == "suspended"
    body = {"model": audit.model_version.model_id, "environment": "production", "reason": "Withdrawn"}
    api_client.force_authenticate(engineer)
    response = api_client.post("/api/deployments/retire/", body, format="json")
    assert response.status_code == 403 and "reviewer" in response.json()["non_field_errors"][0]
    with pytest.raises(NotAllowed):
        deployment_retire(actor=engineer, model=audit.model_version.model, environment="production", reason="x")
    api_client.force_authenticate(reviewers[0])
    assert api_client.post("/api/deployments/retire/", {**body, "reason": ""}, format="json").status_code == 400
    response = api_client.post("/api/deployments/retire/", body, format="json")
    assert response.status_code == 200 and response.json()["status"] == "ended"
    assert AuditLogEntry.objects.get(action="deployment.retired").payload["was"] == "suspended"
