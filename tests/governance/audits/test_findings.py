"""The findings at the top of the report are read from the stored results, one per kind of concern."""

from __future__ import annotations

from governance.audits.selectors import audit_findings


def test_each_concern_in_the_stored_results_becomes_one_finding():
    results = {
        "metrics": {"accuracy": 0.55, "majority_baseline_accuracy": 0.625},
        "fairness_verdict": [{"passed": False}, {"passed": True}, {"passed": False}],
        "fairness": {"groupings": {"gender": {"groups": {"female": {"too_small": False},
                                                           "other": {"too_small": True}}}}},
        "counterfactual": {"directions": {"female→male": {"n_flipped": 3, "n_changed": 40},
                                          "male→female": {"n_flipped": 0, "n_changed": 38}}},
        "explanations": {"texts": [{"flags": ["low_method_agreement"]}, {"flags": []}]},
    }
    findings = audit_findings(results=results)
    assert findings == [
        "Accuracy 0.550 is not above the majority-class baseline 0.625.",
        "2 of 3 fairness rule checks fail (see “Fairness rules”).",
        "1 group(s) too small to judge (gender: other).",
        "Swapping identity words (female→male) changed 3 of 40 decisions.",
        "1 of 2 explanations are flagged (low agreement, instability or truncation).",
    ]


def test_a_clean_audit_has_no_finding():
    results = {"metrics": {"accuracy": 0.9, "majority_baseline_accuracy": 0.6},
               "fairness_verdict": [{"passed": True}],
               "counterfactual": {"directions": {"female→male": {"n_flipped": 0, "n_changed": 10}}},
               "explanations": {"texts": [{"flags": []}]}}
    assert audit_findings(results=results) == []
    assert audit_findings(results={}) == []
