"""The fairness gate and groups with nothing to measure (issue 18): by default an empty denominator counts as 0
(fairlearn's convention) and the verdict names the group; a rule with "undefined": "fail" fails on it."""

from __future__ import annotations

import hashlib

import pytest
from django.utils import timezone

from governance.audits.models import Audit, AuditResult, AuditStatus
from governance.audits.services import result_hash
from governance.auditlog.chain import canonical_json
from tests.governance.approvals.evidence import _json, ready_version
from tests.governance.approvals.test_gates import _gates, _policy, _request
from models_core.fairness.report import fairness_report

pytestmark = pytest.mark.django_db
EOD = {"metric": "equal_opportunity_difference", "grouping": "gender", "max": 0.2}


def _audit_with_a_group_without_positives(version) -> Audit:
    """Women: no positive label at all (their TPR has no denominator); men: 50 positives, none found (TPR 0).
    The model selects nobody, so the TPR difference is 0 only because the women's TPR counts as 0."""
    y_true = [0] * 100 + [1] * 50 + [0] * 50
    y_pred = [0] * 200
    sensitive = {"gender": ["female"] * 100 + ["male"] * 100}
    results = {"metrics": {"accuracy": 0.75, "n": 200},
               "fairness": fairness_report(y_true, y_pred, sensitive, n_boot=100, seed=1),
               "explanations": {"rows": [{"text": "x", "shap": [0.1]}]}}
    results = {k: _json(v) for k, v in results.items()}
    now = timezone.now()
    audit = Audit.objects.create(model_version=version, dataset_version=version.dataset_version,
                                 status=AuditStatus.COMPLETE, requested_by=version.created_by,
                                 artifact_digest=version.artifact_digest, started_at=now, finished_at=now,
                                 summary={"accuracy": 0.75, "n": 200}, result_hash=result_hash(results))
    AuditResult.objects.bulk_create(
        AuditResult(audit=audit, kind=kind, data=data, sha256=hashlib.sha256(canonical_json(data).encode()).hexdigest())
        for kind, data in results.items())
    return audit


def test_by_default_the_gate_counts_the_group_as_zero_and_names_it(engineer, officer):
    _policy(officer, fairness_rules=[EOD])
    gate = _gates(_request(engineer, _audit_with_a_group_without_positives(ready_version(engineer))))["fairness"]
    assert gate["passed"] is True
    assert "female (no positive labels)" in gate["detail"] and "counted as 0" in gate["detail"]
    check = gate["checks"][0]
    assert check["undefined"] == "zero" and check["undefined_groups"][0]["group"] == "female"


def test_undefined_fail_fails_the_gate_when_a_group_has_nothing_to_measure(engineer, officer):
    _policy(officer, fairness_rules=[{**EOD, "undefined": "fail"}])
    request = _request(engineer, _audit_with_a_group_without_positives(ready_version(engineer)))
    gate = _gates(request)["fairness"]
    assert gate["passed"] is False and gate["blocking"] is True
    assert "female (no positive labels)" in gate["detail"] and "allows no undefined group" in gate["detail"]


def test_the_policy_api_accepts_undefined_fail_and_refuses_other_values(api_client, officer):
    api_client.force_authenticate(officer)
    ok = api_client.put("/api/deployment-policies/staging/",
                        {"required_approvals": 1, "fairness_rules": [{**EOD, "undefined": "fail"}]}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["fairness_rules"] == [{**EOD, "undefined": "fail"}]
    bad = api_client.put("/api/deployment-policies/staging/",
                         {"required_approvals": 1, "fairness_rules": [{**EOD, "undefined": "skip"}]}, format="json")
    assert bad.status_code == 400 and "fairness_rules" in bad.json()


def test_the_policy_form_accepts_undefined_fail(client, officer):
    from tests.factories import PASSWORD

    client.login(username=officer.username, password=PASSWORD)
    ok = client.post("/approvals/policies/staging/", {
        "required_approvals": 1, "fairness_rules": '[{"metric": "equal_opportunity_difference", "grouping": "*", '
                                                   '"max": 0.1, "undefined": "fail"}]'})
    assert ok.status_code == 302
    bad = client.post("/approvals/policies/staging/", {
        "required_approvals": 1, "fairness_rules": '[{"metric": "equal_opportunity_difference", "max": 0.1, '
                                                    '"undefined": "maybe"}]'})
    assert bad.status_code == 400 and b"undefined" in bad.content
