"""The robustness gate: judged on upper interval bounds, and an audit that measured less never passes more
easily (no robustness results, a suite left out, no expectation, no attack)."""

from __future__ import annotations

import pytest

from governance.approvals.services import deployment_policy_update, deployment_request_create
from governance.errors import ValidationFailed
from tests.governance.approvals.evidence import completed_audit, ready_version
from tests.governance.robustness_evidence import brittle_model, robustness_result

pytestmark = pytest.mark.django_db
LIMITS = {"max_invariance_flip_rate": 0.05, "max_directional_failure_rate": 0.05, "max_attack_success_rate": 0.95}


def _policy(officer, **limits):
    return deployment_policy_update(actor=officer, environment="staging", required_approvals=1,
                                    max_audit_age_days=None, require_explanations=False,
                                    require_dpia_for_personal_data=False, require_lawful_basis=False, **limits)


def _audit(engineer, robustness: dict | None):
    return completed_audit(ready_version(engineer), robustness=robustness)


def _gate(engineer, audit) -> dict:
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="Pilot.")
    return next(g for g in request.gate_results if g["gate"] == "robustness")


def test_a_steady_model_passes_every_robustness_limit(engineer, officer):
    _policy(officer, **LIMITS)
    gate = _gate(engineer, _audit(engineer, robustness_result()))
    assert gate["passed"], gate
    checks = {c["check"]: c for c in gate["checks"]}
    assert "invariance: typos" in checks and "adversarial: attack success rate" in checks
    assert "Person names swapped across origins" not in gate["detail"]  # the texts name people: measured
    assert gate["measured"] == {c["check"]: c["bound"] for c in gate["checks"]}


def test_a_brittle_model_fails_on_the_upper_bound_and_a_waiver_binds_to_the_measured_values(engineer, officer):
    _policy(officer, max_invariance_flip_rate=0.05)
    result = robustness_result(brittle_model)
    gate = _gate(engineer, _audit(engineer, result))
    assert not gate["passed"] and gate["blocking"]
    failing = {c["check"] for c in gate["checks"] if not c["passed"]}
    assert {"invariance: casing", "invariance: names"} <= failing
    names = next(c for c in gate["checks"] if c["check"] == "invariance: names")
    assert names["bound"] == result["suites"]["names"]["flip_rate"]["ci"][1] > 0.05
    assert gate["measured"]["invariance: names"] == names["bound"]  # what a waiver binds to (approvals.gates)


def test_the_gate_is_judged_on_the_upper_bound_not_the_point_estimate(engineer, officer):
    result = robustness_result(brittle_model)
    casing = result["suites"]["casing"]["flip_rate"]
    limit = round((casing["value"] + casing["ci"][1]) / 2, 4)  # above the estimate, below the upper bound
    assert casing["value"] < limit < casing["ci"][1]
    _policy(officer, max_invariance_flip_rate=limit)
    gate = _gate(engineer, _audit(engineer, result))
    casing_check = next(c for c in gate["checks"] if c["check"] == "invariance: casing")
    assert not casing_check["passed"]


@pytest.mark.parametrize("what, robustness, limits, message", [
    ("an audit without the robustness tests", None, {"max_invariance_flip_rate": 0.5}, "no robustness results"),
    ("an audit that left the name swaps out", "narrowed", {"max_invariance_flip_rate": 0.5}, "not run by this audit"),
    ("an audit without expectations", "no-expectations", {"max_directional_failure_rate": 0.5},
     "no directional expectation"),
    ("an audit without the attack", "no-attack", {"max_attack_success_rate": 0.9}, "switched off"),
])
def test_an_engineer_cannot_pass_by_measuring_less(engineer, officer, what, robustness, limits, message):
    _policy(officer, **limits)
    result = {None: None, "narrowed": lambda: robustness_result(suites=["typos", "casing"]),
              "no-expectations": lambda: robustness_result(directional=[]),
              "no-attack": lambda: robustness_result(adversarial={"enabled": False})}[robustness]
    gate = _gate(engineer, _audit(engineer, result() if result else None))
    assert not gate["passed"] and gate["blocking"], what
    assert message in gate["detail"]


def test_no_limit_no_gate_and_limits_are_checked(engineer, officer):
    _policy(officer)
    audit = _audit(engineer, None)
    request = deployment_request_create(actor=engineer, model_version=audit.model_version, environment="staging",
                                        audit=audit, justification="Pilot.")
    assert "robustness" not in {g["gate"] for g in request.gate_results}
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValidationFailed) as caught:
            _policy(officer, max_attack_success_rate=bad)
        assert caught.value.field == "max_attack_success_rate"
