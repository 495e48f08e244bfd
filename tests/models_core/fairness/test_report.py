"""models_core.fairness against fairlearn (the independent reference) and against a row bootstrap."""

from __future__ import annotations

import functools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, precision_score

from models_core.data.synthetic import hiring_rows
from models_core.errors import InputError
from models_core.fairness.bootstrap import percentile_interval
from models_core.fairness.group_metrics import DISPARITY_NAMES, METRIC_NAMES
from models_core.fairness.report import GROUP_SEPARATOR, fairness_report
from models_core.fairness.rules import evaluate_thresholds

TOL = 1e-9


# fairlearn's own metrics as its documentation uses them: an empty denominator gives 0, no rewriting.
REFERENCE_METRICS = {
    "count": count,
    "selection_rate": selection_rate,
    "accuracy": accuracy_score,
    "precision": functools.partial(precision_score, zero_division=0),
    "true_positive_rate": true_positive_rate,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
}


def _close(ours, reference) -> bool:
    """Ours is JSON (None for undefined); the reference is a float that may be NaN."""
    if reference is None or (isinstance(reference, float) and math.isnan(reference)):
        return ours is None
    return ours is not None and abs(ours - float(reference)) <= TOL


def _assert_matches_fairlearn(report, y_true, y_pred, sensitive, disparity_functions_on=None, sample_weight=None):
    """Every number of `report` equals fairlearn's, compared directly. fairlearn's disparity functions (one
    MetricFrame each, slow) are called on the groupings named in `disparity_functions_on` (default: all);
    the others are checked through the grouping's MetricFrame difference()/ratio(), which is what those
    functions return. With `sample_weight`, every metric but count gets it through `sample_params`."""
    frame = pd.DataFrame({k: list(v) for k, v in sensitive.items()})
    weighted = sample_weight is not None
    params = {m: {"sample_weight": np.asarray(sample_weight)} for m in REFERENCE_METRICS if m != "count"} \
        if weighted else None
    overall = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the empty denominators it counts as 0
        for name, grouping in report["groupings"].items():
            columns = grouping["attributes"]
            assert name == GROUP_SEPARATOR.join(columns)
            features = frame[columns[0]] if len(columns) == 1 else frame[columns]
            mf = MetricFrame(metrics=REFERENCE_METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=features,
                             sample_params=params)
            overall = mf.overall
            by_group = mf.by_group
            assert len(grouping["groups"]) == len(by_group)
            for key, group in grouping["groups"].items():
                values = tuple(group["values"][c] for c in columns)
                assert key == GROUP_SEPARATOR.join(values)
                ref = by_group.loc[values[0] if len(values) == 1 else values]
                if math.isnan(ref["count"]):  # an empty intersection: fairlearn has NaN everywhere
                    assert group["count"] == 0 and all(v["value"] is None for v in group["metrics"].values())
                    continue
                assert group["count"] == ref["count"]
                for m in METRIC_NAMES:
                    assert _close(group["metrics"][m]["value"], ref[m]), (name, key, m)

            disparities = {d: v["value"] for d, v in grouping["disparities"].items()}
            assert set(disparities) == set(DISPARITY_NAMES)
            diff, ratio = mf.difference(), mf.ratio()
            assert _close(disparities["demographic_parity_difference"], diff["selection_rate"])
            assert _close(disparities["demographic_parity_ratio"], ratio["selection_rate"])
            assert _close(disparities["equal_opportunity_difference"], diff["true_positive_rate"])
            assert _close(disparities["equal_opportunity_ratio"], ratio["true_positive_rate"])
            # fairlearn's equalized_odds_* take Python max()/min() over the Series [tpr, fpr].
            assert _close(disparities["equalized_odds_difference"],
                          max(diff[["true_positive_rate", "false_positive_rate"]]))
            assert _close(disparities["equalized_odds_ratio"],
                          min(ratio[["true_positive_rate", "false_positive_rate"]]))
            if disparity_functions_on is not None and name not in disparity_functions_on:
                continue
            kwargs = {"sensitive_features": features, "sample_weight": sample_weight}
            for d, function in DISPARITY_FUNCTIONS.items():
                assert _close(disparities[d], function(y_true, y_pred, **kwargs)), (name, d)

    assert report["overall"]["count"] == overall["count"]
    for m in METRIC_NAMES:
        assert _close(report["overall"]["metrics"][m]["value"], overall[m]), m


DISPARITY_FUNCTIONS = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equalized_odds_ratio": equalized_odds_ratio,
    "equal_opportunity_difference": equal_opportunity_difference,
    "equal_opportunity_ratio": equal_opportunity_ratio,
}


@st.composite
def labelled_rows(draw):
    n = draw(st.integers(min_value=1, max_value=120))
    n_attrs = draw(st.integers(min_value=1, max_value=3))
    sensitive = {}
    max_levels = 3 if n_attrs < 3 else 2  # keeps the reference (fairlearn, per group) fast
    for a in range(n_attrs):
        levels = [f"{'abc'[a]}{i}" for i in range(draw(st.integers(min_value=1, max_value=max_levels)))]
        sensitive[f"attr{a}"] = draw(st.lists(st.sampled_from(levels), min_size=n, max_size=n))
    bit = st.integers(min_value=0, max_value=1)
    # Skewed label rates, so that groups with no positives or no negatives are common.
    rate = draw(st.sampled_from([0.05, 0.5, 0.95]))
    y_true = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))) < rate
    y_true = y_true.astype(int)
    y_pred = np.array(draw(st.lists(bit, min_size=n, max_size=n)))
    return y_true, y_pred, sensitive


def _has_one_class_group(y_true, sensitive) -> bool:
    frame = pd.DataFrame(sensitive).assign(y=y_true)
    spans = frame.groupby(list(sensitive))["y"].agg(["min", "max"])
    return bool((spans["min"] == spans["max"]).any())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(labelled_rows(), st.booleans())
# TPR ratio 0/0 makes fairlearn's equalized odds ratio NaN; FPR ratio 0/0 (a perfect predictor) does not.
@example((np.array([0, 1]), np.array([1, 0]), {"attr0": ["a0", "a0"]}), False)
@example((np.array([0, 1, 0, 1]), np.array([0, 1, 0, 1]), {"attr0": ["a0", "a0", "a1", "a1"]}), True)
# a group with no positives (b1) and a group with no negatives (b2)
@example((np.array([1, 0, 0, 0, 1, 1]), np.array([1, 1, 0, 1, 0, 1]), {"attr0": ["b0", "b0", "b1", "b1", "b2", "b2"]}),
         True)
def test_every_number_equals_fairlearn_including_intersections_and_one_class_groups(data, weighted):
    y_true, y_pred, sensitive = data
    weights = np.random.default_rng(len(y_true)).choice([0.25, 1.0, 1.5, 3.0], len(y_true)) if weighted else None
    report = fairness_report(y_true, y_pred, sensitive, n_boot=0, sample_weight=weights)
    n_attrs = len(sensitive)
    assert len(report["groupings"]) == 2 ** n_attrs - 1  # each attribute and every intersection
    assert report["weighted"] is weighted
    names = list(report["groupings"])
    _assert_matches_fairlearn(report, y_true, y_pred, sensitive, disparity_functions_on={names[0], names[-1]},
                              sample_weight=weights)
    json.dumps(report, allow_nan=False)


def test_random_data_with_one_class_groups_equals_fairlearn_weighted_and_not():
    rng = np.random.default_rng(18)
    seen_one_class = 0
    for trial in range(6):
        n = 60
        sensitive = {"g": rng.choice(["p", "q", "r", "s"], n).tolist(), "h": rng.choice(["u", "v"], n).tolist()}
        y_true = (rng.random(n) < [0.03, 0.97, 0.5][trial % 3]).astype(int)
        y_pred = rng.integers(0, 2, n)
        seen_one_class += _has_one_class_group(y_true, sensitive)
        weights = rng.uniform(0.1, 4.0, n)
        for w in (None, weights):
            report = fairness_report(y_true, y_pred, sensitive, n_boot=0, sample_weight=w)
            _assert_matches_fairlearn(report, y_true, y_pred, sensitive, sample_weight=w)
    assert seen_one_class >= 3


def test_fixed_case_with_empty_cells_matches_fairlearn_and_is_json_safe():
    # Group b1 has no positives (TPR, FNR undefined), group a0 × b1 never occurs.
    y_true = np.array([1, 0, 1, 0, 0, 0, 1, 1])
    y_pred = np.array([1, 1, 0, 0, 0, 1, 1, 0])
    sensitive = {"a": ["a0", "a0", "a0", "a1", "a1", "a1", "a1", "a1"],
                 "b": ["b0", "b0", "b0", "b1", "b1", "b0", "b0", "b0"]}
    report = fairness_report(y_true, y_pred, sensitive, n_boot=200, seed=3)
    _assert_matches_fairlearn(report, y_true, y_pred, sensitive)
    b1 = report["groupings"]["b"]["groups"]["b1"]
    assert b1["metrics"]["true_positive_rate"] == {"value": 0.0, "ci": [0.0, 0.0], "undefined": "no positive labels"}
    assert report["groupings"]["a × b"]["groups"]["a0 × b1"]["count"] == 0
    assert report["groupings"]["a × b"]["groups"]["a0 × b1"]["too_small"] is True
    json.dumps(report, allow_nan=False)


def test_string_labels_and_positive_label():
    y_true = ["yes", "no", "yes", "no", "yes"]
    y_pred = ["yes", "yes", "no", "no", "yes"]
    report = fairness_report(y_true, y_pred, {"g": ["x", "x", "y", "y", "y"]}, positive_label="yes", n_boot=0)
    numeric = fairness_report([int(v == "yes") for v in y_true], [int(v == "yes") for v in y_pred],
                              {"g": ["x", "x", "y", "y", "y"]}, n_boot=0)
    assert report["labels"] == ["no", "yes"] and report["positive_label"] == "yes"
    assert report["groupings"] == numeric["groupings"]
    with pytest.raises(InputError):
        fairness_report(y_true, y_pred, {"g": ["x"] * 5}, n_boot=0)  # positive_label=1 is not a label


def test_multiclass_is_one_vs_rest_per_class():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 3, 400), rng.integers(0, 3, 400)
    sensitive = {"g": rng.choice(["p", "q"], 400).tolist(), "h": rng.choice(["r", "s", "t"], 400).tolist()}
    report = fairness_report(y_true, y_pred, sensitive, n_boot=100, seed=1)
    assert report["task"] == "multiclass_ovr" and set(report["classes"]) == {"0", "1", "2"}
    for k in range(3):
        binary = fairness_report((y_true == k).astype(int), (y_pred == k).astype(int), sensitive, n_boot=0)
        ours = report["classes"][str(k)]
        assert ours["overall"]["count"] == binary["overall"]["count"]
        for name, grouping in binary["groupings"].items():
            for key, group in grouping["groups"].items():
                for m in METRIC_NAMES:
                    assert ours["groupings"][name]["groups"][key]["metrics"][m]["value"] == \
                        group["metrics"][m]["value"]
            for d in DISPARITY_NAMES:
                assert ours["groupings"][name]["disparities"][d]["value"] == grouping["disparities"][d]["value"]
        _assert_matches_fairlearn(
            {"overall": ours["overall"], "groupings": ours["groupings"]},
            (y_true == k).astype(int), (y_pred == k).astype(int), sensitive)


def test_bootstrap_is_reproducible_with_a_seed():
    rng = np.random.default_rng(11)
    y_true, y_pred = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    sensitive = {"g": rng.choice(["p", "q"], 500).tolist()}
    first = json.dumps(fairness_report(y_true, y_pred, sensitive, seed=4))
    assert first == json.dumps(fairness_report(y_true, y_pred, sensitive, seed=4))
    assert first != json.dumps(fairness_report(y_true, y_pred, sensitive, seed=5))


def test_count_multinomial_ci_matches_row_resampling_bootstrap():
    rng = np.random.default_rng(2024)
    n = 2000
    group = rng.choice(np.array(["p", "q"]), n, p=[0.3, 0.7])
    y_true = rng.integers(0, 2, n)
    y_pred = (rng.random(n) < np.where(group == "p", 0.35, 0.5)).astype(int)
    report = fairness_report(y_true, y_pred, {"g": group}, n_boot=2000, seed=0)

    # Reference: resample rows, recompute on each replicate.
    n_rep = 2000
    idx = np.random.default_rng(99).integers(0, n, size=(n_rep, n))
    is_p, pred, true = (group == "p")[idx], y_pred[idx], y_true[idx]
    rate_p = (pred & is_p).sum(1) / is_p.sum(1)
    rate_q = (pred & ~is_p).sum(1) / (~is_p).sum(1)
    acc_p = ((pred == true) & is_p).sum(1) / is_p.sum(1)
    reference = {
        ("groups", "p", "selection_rate"): rate_p,
        ("groups", "q", "selection_rate"): rate_q,
        ("groups", "p", "accuracy"): acc_p,
        ("disparities", None, "demographic_parity_difference"): np.abs(rate_p - rate_q),
        ("disparities", None, "demographic_parity_ratio"): np.minimum(rate_p, rate_q) / np.maximum(rate_p, rate_q),
    }
    grouping = report["groupings"]["g"]
    for (section, key, metric), samples in reference.items():
        entry = grouping["disparities"][metric] if section == "disparities" else \
            grouping["groups"][key]["metrics"][metric]
        low, high = np.percentile(samples, [2.5, 97.5])
        spread = samples.std()
        # Monte-Carlo error of a 2.5% quantile with 2000 replicates is about 0.07 standard deviations.
        assert abs(entry["ci"][0] - low) < 0.3 * spread, (metric, entry["ci"], low, high)
        assert abs(entry["ci"][1] - high) < 0.3 * spread, (metric, entry["ci"], low, high)
        assert entry["ci"][0] <= entry["value"] <= entry["ci"][1]


def test_ci_excludes_zero_for_injected_hiring_gap_with_perfect_predictor():
    rows = hiring_rows()
    labels = [int(r["hired"] == "yes") for r in rows]
    sensitive = {"gender": [r["gender"] for r in rows], "age_band": [r["age_band"] for r in rows]}
    report = fairness_report(labels, labels, sensitive, n_boot=1000, seed=0)
    gender = report["groupings"]["gender"]
    female = gender["groups"]["female"]["metrics"]["selection_rate"]
    male = gender["groups"]["male"]["metrics"]["selection_rate"]
    assert 0.22 < female["value"] < 0.28 and 0.41 < male["value"] < 0.47
    assert female["ci"][1] < male["ci"][0]
    dp = gender["disparities"]["demographic_parity_difference"]
    assert dp["ci"][0] > 0.1 and dp["ci"][0] <= dp["value"] <= dp["ci"][1]
    # A perfect predictor has no error-rate gap, so equalized odds is exactly 0 in every replicate.
    assert gender["disparities"]["equalized_odds_difference"] == {"value": 0.0, "ci": [0.0, 0.0], "left_out": [],
                                                                  "undefined_groups": []}
    assert report["groupings"]["age_band"]["disparities"]["demographic_parity_difference"]["value"] < 0.1


def test_percentile_interval_equals_numpy_nanpercentile():
    rng = np.random.default_rng(0)
    samples = rng.random((1000, 7))
    samples[rng.random((1000, 7)) < 0.2] = np.nan
    samples[:, 3] = np.nan
    samples[:-1, 5] = np.nan  # a single defined replicate
    low, high = percentile_interval(samples, 0.9)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanpercentile(samples, [5, 95], axis=0)
    np.testing.assert_allclose(low, expected[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, expected[1], rtol=0, atol=1e-12)


def test_progress_reports_stages_up_to_100_percent():
    seen = []
    fairness_report([0, 1, 1, 0], [0, 1, 0, 0], {"g": ["a", "a", "b", "b"]}, n_boot=50, progress=seen.append)
    percents = [e["percent"] for e in seen]
    assert all(e["stage"] == "fairness" for e in seen)
    assert percents == sorted(percents) and percents[-1] == 100.0


def test_input_errors_are_domain_errors():
    with pytest.raises(InputError):
        fairness_report([0, 1], [0], {"g": ["a", "b"]})
    with pytest.raises(InputError):
        fairness_report([0, 1], [0, 1], {"g": ["a"]})
    with pytest.raises(InputError):
        fairness_report([0, 1], [0, 1], {})
    with pytest.raises(InputError):
        fairness_report([], [], {"g": []})


@pytest.fixture(scope="module")
def hiring_report():
    rows = hiring_rows()
    labels = [int(r["hired"] == "yes") for r in rows]
    rng = np.random.default_rng(0)
    noisy = [y if rng.random() < 0.85 else 1 - y for y in labels]
    sensitive = {"gender": [r["gender"] for r in rows], "age_band": [r["age_band"] for r in rows]}
    return fairness_report(labels, noisy, sensitive, n_boot=1000, seed=0)


def test_threshold_rules_judge_point_or_interval_ends(hiring_report):
    results = evaluate_thresholds(hiring_report, [
        {"metric": "demographic_parity_difference", "grouping": "*", "max": 0.1, "judge_on": "upper"},
        {"metric": "accuracy", "min": 0.7, "judge_on": "lower"},
        {"metric": "demographic_parity_difference", "grouping": "gender", "max": 0.5},
    ])
    by_grouping = {r["grouping"]: r for r in results[:3]}
    assert set(by_grouping) == {"gender", "age_band", "gender × age_band"}
    gender_dp = hiring_report["groupings"]["gender"]["disparities"]["demographic_parity_difference"]
    assert by_grouping["gender"]["compared"] == gender_dp["ci"][1] and by_grouping["gender"]["passed"] is False
    accuracy = results[3]
    assert accuracy["grouping"] == "overall" and accuracy["bound"] == "lower"
    assert accuracy["compared"] == hiring_report["overall"]["metrics"]["accuracy"]["ci"][0]
    assert accuracy["passed"] is (accuracy["compared"] >= 0.7) is True
    assert results[4]["compared"] == gender_dp["value"] and results[4]["passed"] is True
    json.dumps(results, allow_nan=False)


def test_threshold_rule_on_every_group_counts_undefined_as_zero_or_fails_when_asked(hiring_report):
    per_group = evaluate_thresholds(hiring_report, [
        {"metric": "selection_rate", "grouping": "gender", "min": 0.4}])
    assert {r["group"]: r["passed"] for r in per_group} == {"female": False, "male": True}

    report = fairness_report([0, 0, 1, 1], [0, 0, 1, 1], {"g": ["a", "a", "b", "b"]}, n_boot=0)
    results = evaluate_thresholds(report, [
        {"metric": "equal_opportunity_difference", "grouping": "g", "max": 0.1},
        {"metric": "demographic_parity_difference", "grouping": "g", "max": 1.0, "judge_on": "upper"}])
    # Group a has no positives: its TPR counts as 0 (fairlearn), and the result names it.
    assert results[0]["value"] == 1.0 and results[0]["passed"] is False
    assert results[0]["undefined_groups"][0]["group"] == "a" and "counted as 0" in results[0]["note"]
    assert results[1]["passed"] is False and "n_boot=0" in results[1]["note"]
    undefined = evaluate_thresholds(report, [{"metric": "true_positive_rate", "grouping": "g", "min": 0.5}])
    assert {r["group"]: r["passed"] for r in undefined} == {"a": False, "b": True}

    # Both TPRs 0 (a: no positives, counted as 0): passes by default, fails with "undefined": "fail".
    silent = fairness_report([0, 0, 1, 1], [0, 0, 0, 0], {"g": ["a", "a", "b", "b"]}, n_boot=0)
    rule = {"metric": "equal_opportunity_difference", "grouping": "g", "max": 0.1}
    default, strict = evaluate_thresholds(silent, [rule, {**rule, "undefined": "fail"}])
    assert default["value"] == 0.0 and default["passed"] is True and default["undefined"] == "zero"
    assert strict["passed"] is False and "a (no positive labels)" in strict["note"]
    per_group = evaluate_thresholds(silent, [{"metric": "false_negative_rate", "grouping": "g", "max": 1.0,
                                              "undefined": "fail"}])
    assert {r["group"]: r["passed"] for r in per_group} == {"a": False, "b": True}
    with pytest.raises(InputError):
        evaluate_thresholds(silent, [{**rule, "undefined": "ignore"}])
    with pytest.raises(InputError):
        evaluate_thresholds(report, [{"metric": "nonsense", "max": 1}])
    with pytest.raises(InputError):
        evaluate_thresholds(report, [{"metric": "demographic_parity_difference", "max": 1}])
    with pytest.raises(InputError):
        evaluate_thresholds(report, [{"metric": "accuracy", "grouping": "missing", "min": 0}])


def test_numpy_strings_object_arrays_lists_and_many_levels_give_the_same_report():
    rng = np.random.default_rng(8)
    n = 3000
    y_true, y_pred = rng.integers(0, 2, n), rng.integers(0, 2, n)
    few = rng.choice(np.array(["z", "a", "m"]), n)
    many = rng.choice(np.array([f"level{i:03d}" for i in range(80)]), n)  # beyond the fast path
    reports = [fairness_report(y_true, y_pred, {"few": convert(few), "many": convert(many)}, n_boot=20)
               for convert in (lambda a: a, lambda a: a.astype(object), lambda a: a.tolist())]
    assert reports[0] == reports[1] == reports[2]
    assert list(reports[0]["groupings"]["few"]["groups"]) == ["a", "m", "z"]
    assert len(reports[0]["groupings"]["many"]["groups"]) == 80
    assert reports[0]["groupings"]["few"]["groups"]["m"]["count"] == int((few == "m").sum())
