"""models_core.fairness.report: fairlearn's empty-denominator convention and the groups each disparity names,
missing attribute values, and sample weights (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import equalized_odds_difference

from models_core.errors import InputError
from models_core.fairness.report import fairness_report

TOL = 1e-9


def test_eight_row_case_counts_the_group_without_positives_as_fairlearn_and_lists_it():
    # Issue 18: group b has no positive labels; its TPR counts as 0 (fairlearn: EOD 0.5, not 0.25).
    y_true = np.array([1, 1, 0, 0, 0, 0, 1, 0])
    y_pred = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    groups = ["a", "a", "a", "a", "b", "b", "c", "c"]
    report = fairness_report(y_true, y_pred, {"g": groups}, n_boot=0)
    eod = report["groupings"]["g"]["disparities"]["equalized_odds_difference"]
    assert eod["value"] == 1.0  # TPR 0.5 (a), 0 (b, no positives), 1 (c); skipping b would give 0.5
    assert eod["value"] == pytest.approx(equalized_odds_difference(y_true, y_pred, sensitive_features=groups),
                                         abs=TOL)
    assert eod["undefined_groups"] == [{"group": "b", "rates": ["true_positive_rate"],
                                        "reason": "no positive labels", "counted_as": 0.0}]
    assert eod["left_out"] == []
    b = report["groupings"]["g"]["groups"]["b"]["metrics"]["true_positive_rate"]
    assert b["value"] == 0.0 and b["undefined"] == "no positive labels"
    dp = report["groupings"]["g"]["disparities"]["demographic_parity_difference"]
    assert dp["undefined_groups"] == [] and dp["left_out"] == []


def test_missing_attribute_values_are_an_explicit_counted_group_never_empty():
    y_true, y_pred = [1, 0, 1, 0, 1, 0], [1, 0, 0, 0, 1, 1]
    for gender in (["f", "", "m", None, "  ", "f"], np.array(["f", "", "m", "", " ", "f"]),
                   np.array(["f", None, "m", float("nan"), "", "f"], dtype=object)):
        report = fairness_report(y_true, y_pred, {"gender": gender, "age": [1, 2, 1, 2, 1, 2]}, n_boot=0)
        assert report["missing_values"] == {"gender": 3, "age": 0}
        groups = report["groupings"]["gender"]["groups"]
        assert set(groups) == {"(missing)", "f", "m"} and "" not in groups
        assert groups["(missing)"]["count"] == 3 and groups["(missing)"]["missing"] is True
        assert "missing" not in groups["f"]
        assert report["groupings"]["gender × age"]["groups"]["(missing) × 1"]["missing"] is True
    numeric = fairness_report(y_true, y_pred, {"band": [1.0, float("nan"), 2.0, 1.0, 2.0, 1.0]}, n_boot=0)
    assert set(numeric["groupings"]["band"]["groups"]) == {"(missing)", "1.0", "2.0"}


def test_empty_intersections_are_left_out_of_every_disparity_with_the_reason():
    y_true, y_pred = [1, 0, 1, 0], [1, 1, 0, 0]
    report = fairness_report(y_true, y_pred, {"a": ["x", "x", "y", "y"], "b": ["u", "u", "v", "v"]}, n_boot=0)
    for d in report["groupings"]["a × b"]["disparities"].values():
        assert d["left_out"] == [{"group": "x × v", "reason": "no rows"}, {"group": "y × u", "reason": "no rows"}]


def test_weighted_bootstrap_resamples_rows_then_weights_them():
    rng = np.random.default_rng(77)
    n = 1500
    group = rng.choice(np.array(["p", "q"]), n, p=[0.4, 0.6])
    y_true = rng.integers(0, 2, n)
    y_pred = (rng.random(n) < np.where(group == "p", 0.3, 0.55)).astype(int)
    weights = np.where(y_true == 1, np.where(group == "p", 1.6, 0.8), np.where(group == "p", 0.7, 1.2))
    report = fairness_report(y_true, y_pred, {"g": group}, n_boot=2000, seed=0, sample_weight=weights)
    assert report["weighted"] is True and "then weighted" in report["settings"]["ci_method"]
    assert report == fairness_report(y_true, y_pred, {"g": group}, n_boot=2000, seed=0, sample_weight=weights)

    idx = np.random.default_rng(5).integers(0, n, size=(2000, n))  # rows resampled, then weighted
    w, pred, is_p = weights[idx], y_pred[idx], (group == "p")[idx]
    rate_p = (w * pred * is_p).sum(1) / (w * is_p).sum(1)
    rate_q = (w * pred * ~is_p).sum(1) / (w * ~is_p).sum(1)
    grouping = report["groupings"]["g"]
    for entry, samples in ((grouping["groups"]["p"]["metrics"]["selection_rate"], rate_p),
                           (grouping["groups"]["q"]["metrics"]["selection_rate"], rate_q),
                           (grouping["disparities"]["demographic_parity_difference"], np.abs(rate_p - rate_q))):
        low, high = np.percentile(samples, [2.5, 97.5])
        assert abs(entry["ci"][0] - low) < 0.3 * samples.std() and abs(entry["ci"][1] - high) < 0.3 * samples.std()
    sel_p = grouping["groups"]["p"]["metrics"]["selection_rate"]["value"]
    mask = group == "p"
    assert sel_p == pytest.approx((weights * y_pred)[mask].sum() / weights[mask].sum(), abs=TOL)
    assert grouping["groups"]["p"]["weight"] == pytest.approx(weights[mask].sum())


def test_bad_sample_weights_are_input_errors():
    for bad in ([1.0, -1.0], [1.0], [float("nan"), 1.0], [0.0, 0.0]):
        with pytest.raises(InputError):
            fairness_report([0, 1], [0, 1], {"g": ["a", "b"]}, n_boot=0, sample_weight=bad)


def test_rules_on_a_schema_1_report_find_the_groups_it_skipped():
    """Audits stored before fairlearn's convention: an undefined rate was null and the disparity skipped the
    group without saying so. The rules still find it, so "undefined": "fail" can fail on old evidence."""
    from models_core.fairness.rules import evaluate_thresholds

    report = fairness_report([0, 0, 1, 1], [0, 0, 1, 1], {"g": ["a", "a", "b", "b"]}, n_boot=0)
    entry = report["groupings"]["g"]
    entry["groups"]["a"]["metrics"]["true_positive_rate"] = {"value": None, "ci": None}
    for d in entry["disparities"].values():
        d.pop("left_out")
        d.pop("undefined_groups")
    entry["disparities"]["equal_opportunity_difference"]["value"] = 0.0  # b alone, as schema 1 computed it
    rule = {"metric": "equal_opportunity_difference", "grouping": "g", "max": 0.1}
    lenient, strict = evaluate_thresholds(report, [rule, {**rule, "undefined": "fail"}])
    assert lenient["passed"] is True and lenient["undefined_groups"][0]["group"] == "a"
    assert strict["passed"] is False
