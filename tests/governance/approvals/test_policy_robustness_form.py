"""The robustness limits in the browser and the API: the policy form saves them (logged), the policy list and
API show them; the audit form refuses a malformed expectation at its field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.approvals.models import DeploymentPolicy
from governance.auditlog.models import AuditLogEntry
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_compliance_officer_sets_the_robustness_limits_in_the_form(client, officer):
    client.login(username=officer.username, password=PASSWORD)
    response = client.post(reverse("deployment-policy-edit", args=["staging"]), {
        "required_approvals": 1, "max_audit_age_days": 30, "fairness_rules": "[]",
        "max_invariance_flip_rate": "0.05", "max_attack_success_rate": "0.3"})
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = DeploymentPolicy.objects.get(environment="staging")
    assert (policy.max_invariance_flip_rate, policy.max_directional_failure_rate, policy.max_attack_success_rate) == (
        0.05, None, 0.3)
    entry = AuditLogEntry.objects.filter(action="deployment_policy.updated").latest("seq")
    assert entry.payload["max_invariance_flip_rate"] == 0.05
    page = client.get(reverse("deployment-policies")).content.decode()
    assert "flip rate ≤ 0.05" in page and "attack success ≤ 0.3" in page
    bad = client.post(reverse("deployment-policy-edit", args=["staging"]), {
        "required_approvals": 1, "fairness_rules": "[]", "max_invariance_flip_rate": "1.5"})
    assert bad.status_code == 400 and DeploymentPolicy.objects.get(environment="staging").max_invariance_flip_rate == 0.05


def test_the_policy_api_reads_and_writes_the_limits(api_client, officer):
    api_client.force_authenticate(officer)
    response = api_client.put("/api/deployment-policies/staging/", {
        "required_approvals": 1, "max_directional_failure_rate": 0.1}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["max_directional_failure_rate"] == 0.1 and response.json()["max_invariance_flip_rate"] is None
    assert api_client.put("/api/deployment-policies/staging/", {"required_approvals": 1,
                                                                 "max_attack_success_rate": -1},
                          format="json").status_code == 400


def test_the_audit_form_refuses_a_malformed_expectation_at_its_field(client, engineer):
    client.login(username=engineer.username, password=PASSWORD)
    response = client.post(reverse("audit-new"), {"explain_rows": 0, "robustness": "on",
                                                  "robustness_expectations": "Two missed payments. | sideways"})
    assert response.status_code == 400
    form = response.context["form"]
    assert "robustness_expectations" in form.errors and "Line 1" in form.errors["robustness_expectations"][0]
    page = client.get(reverse("audit-new")).content.decode()
    assert 'name="robustness"' in page and "checked" in page[page.index('name="robustness"') - 200:
                                                              page.index('name="robustness"') + 200]
