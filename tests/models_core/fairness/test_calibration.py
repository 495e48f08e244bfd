"""models_core.fairness.calibration: ECE against a direct numpy computation, ROC AUC against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from models_core.errors import InputError
from models_core.fairness.calibration import calibration_report

TOL = 1e-9


def _data(n=900, seed=3):
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["f", "m"]), n)
    age = rng.choice(np.array(["young", "old", "mid"]), n)
    scores = np.round(rng.random(n), 2)  # rounded: ties, as real probabilities have
    y = (rng.random(n) < np.where(gender == "f", scores ** 1.5, scores)).astype(int)
    return y, scores, {"gender": gender, "age": age}


def _direct_ece(y, s, w, n_bins=10):
    """Textbook ECE: bins by the score, sum over bins of (bin weight share) x |mean score - positive rate|."""
    total, ece = w.sum(), 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        in_bin = (s >= low) & ((s < high) if b < n_bins - 1 else (s <= high))
        if w[in_bin].sum() == 0:
            continue
        mean_s = np.average(s[in_bin], weights=w[in_bin])
        rate = np.average(y[in_bin], weights=w[in_bin])
        ece += w[in_bin].sum() / total * abs(mean_s - rate)
    return ece


@pytest.mark.parametrize("weighted", [False, True])
def test_ece_and_roc_auc_per_group_equal_numpy_and_sklearn(weighted):
    y, s, sensitive = _data()
    w = np.random.default_rng(1).choice([0.5, 1.0, 2.5], len(y)) if weighted else np.ones(len(y))
    report = calibration_report(y, s, sensitive, sample_weight=w if weighted else None, n_boot=0)
    assert report["weighted"] is weighted
    assert abs(report["overall"]["ece"]["value"] - _direct_ece(y, s, w)) <= TOL
    assert abs(report["overall"]["roc_auc"]["value"] - roc_auc_score(y, s, sample_weight=w)) <= TOL
    checked = 0
    for grouping in report["groupings"].values():
        for group in grouping["groups"].values():
            mask = np.ones(len(y), dtype=bool)
            for attr, value in group["values"].items():
                mask &= sensitive[attr] == value
            assert group["count"] == mask.sum() and group["positives"] == y[mask].sum()
            assert abs(group["ece"]["value"] - _direct_ece(y[mask], s[mask], w[mask])) <= TOL
            assert abs(group["roc_auc"]["value"] - roc_auc_score(y[mask], s[mask], sample_weight=w[mask])) <= TOL
            curve = group["reliability"]
            assert sum(b["count"] for b in curve) == mask.sum()
            checked += 1
    assert checked == 2 + 3 + 6
    json.dumps(report, allow_nan=False)


def test_reliability_curve_bins_and_rates():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.05, 0.15, 0.95, 1.0, 0.5])
    report = calibration_report(y, s, {"g": ["a"] * 5}, n_bins=2, n_boot=0)
    curve = report["groupings"]["g"]["groups"]["a"]["reliability"]
    assert [b["count"] for b in curve] == [2, 3]
    assert curve[0]["mean_predicted"] == pytest.approx(0.1) and curve[0]["observed_rate"]["value"] == 0.5
    assert curve[1]["observed_rate"]["value"] == pytest.approx(2 / 3)
    assert report["bin_edges"] == [0.0, 0.5, 1.0]


def test_roc_auc_is_undefined_with_the_reason_when_a_group_has_one_class():
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.7, 0.4])
    groups = ["pos", "pos", "mix", "mix", "neg", "neg", "mix", "mix"]
    report = calibration_report(y, s, {"g": groups, "h": ["x", "", "x", "x", "x", "x", "x", None]}, n_boot=50)
    g = report["groupings"]["g"]["groups"]
    assert g["pos"]["roc_auc"]["value"] is None and g["pos"]["roc_auc"]["undefined"] == "only one class: no negative labels"
    assert g["neg"]["roc_auc"]["undefined"] == "only one class: no positive labels"
    assert g["pos"]["roc_auc"]["ci"] == [None, None]
    mask = np.array(groups) == "mix"
    assert g["mix"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(y[mask], s[mask]), abs=TOL)
    assert "undefined" not in g["mix"]["roc_auc"]
    assert g["pos"]["ece"]["value"] is not None  # calibration is defined with one class
    h = report["groupings"]["h"]["groups"]
    assert set(h) == {"(missing)", "x"} and h["(missing)"]["missing"] is True and h["(missing)"]["count"] == 2
    empty = report["groupings"]["g × h"]["groups"]["neg × (missing)"]
    assert empty["count"] == 0 and empty["roc_auc"]["undefined"] == "no rows" and empty["ece"]["value"] is None


def test_bootstrap_intervals_are_reproducible_and_cover_the_point():
    y, s, sensitive = _data(n=600, seed=9)
    w = np.random.default_rng(2).choice([0.5, 2.0], len(y))
    first = calibration_report(y, s, sensitive, sample_weight=w, n_boot=300, seed=4)
    assert first == calibration_report(y, s, sensitive, sample_weight=w, n_boot=300, seed=4)
    assert first != calibration_report(y, s, sensitive, sample_weight=w, n_boot=300, seed=5)
    for group in first["groupings"]["gender"]["groups"].values():
        for key in ("ece", "roc_auc"):
            low, high = group[key]["ci"]
            assert low <= high and low - 0.05 <= group[key]["value"] <= high + 0.05
    # The ECE interval against a row bootstrap done directly (resample rows, then weight them).
    f = sensitive["gender"] == "f"
    idx = np.random.default_rng(0).integers(0, len(y), size=(300, len(y)))
    samples = [_direct_ece(y[i][f[i]], s[i][f[i]], w[i][f[i]]) for i in idx]
    low, high = np.percentile(samples, [2.5, 97.5])
    ours = first["groupings"]["gender"]["groups"]["f"]["ece"]["ci"]
    assert abs(ours[0] - low) < 0.35 * np.std(samples) and abs(ours[1] - high) < 0.35 * np.std(samples)


def test_bad_inputs_are_input_errors():
    with pytest.raises(InputError):
        calibration_report([0, 2], [0.1, 0.2], {"g": ["a", "b"]})
    with pytest.raises(InputError):
        calibration_report([0, 1], [0.1, 1.2], {"g": ["a", "b"]})
    with pytest.raises(InputError):
        calibration_report([0, 1], [0.1, 0.2], {})
    with pytest.raises(InputError):
        calibration_report([0, 1], [0.1, 0.2], {"g": ["a", "b"]}, sample_weight=[1, -1])
