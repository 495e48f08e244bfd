"""models_core.fairness.mitigation reproduces fairlearn's ThresholdOptimizer exactly from stored JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference
from fairlearn.postprocessing import ThresholdOptimizer

from models_core.data.synthetic import hiring_rows
from models_core.errors import InputError
from models_core.fairness.mitigation import ScoreEstimator, apply_thresholds, fit_thresholds
from models_core.fairness.report import fairness_report


@pytest.fixture(scope="module")
def biased_hiring():
    """Synthetic hiring labels and a score that also favours men (a biased model)."""
    rows = hiring_rows()
    y = np.array([int(r["hired"] == "yes") for r in rows])
    gender = np.array([r["gender"] for r in rows])
    rng = np.random.default_rng(0)
    score = np.clip(0.5 * y + 0.4 * rng.random(y.size) + 0.12 * (gender == "male"), 0.0, 1.0)
    return score, y, gender


def _fairlearn_predict(score, y, groups, constraints, test_score, test_groups, seed):
    optimizer = ThresholdOptimizer(estimator=ScoreEstimator(), constraints=constraints, prefit=True,
                                   predict_method="predict_proba")
    optimizer.fit(score[:, None], y, sensitive_features=groups)
    return optimizer.predict(test_score[:, None], sensitive_features=test_groups, random_state=seed)


@pytest.mark.parametrize("constraints", ["demographic_parity", "equalized_odds"])
def test_apply_thresholds_reproduces_fairlearn_predict_exactly(biased_hiring, constraints):
    score, y, gender = biased_hiring
    val, test = slice(0, 1500), slice(1500, None)
    thresholds = json.loads(json.dumps(fit_thresholds(score[val], y[val], gender[val], constraints=constraints),
                                       allow_nan=False))
    if constraints == "demographic_parity":
        # The rule is randomised for some group (else exactness would be trivial).
        assert any(0 < rule["p0"] < 1 for rule in thresholds["groups"].values())
    for seed in (0, 123):
        for part in (val, test):
            expected = _fairlearn_predict(score[val], y[val], gender[val], constraints, score[part],
                                          gender[part], seed)
            np.testing.assert_array_equal(apply_thresholds(score[part], gender[part], thresholds, seed), expected)


def test_equalized_odds_randomisation_with_p_ignore_is_reproduced():
    rng = np.random.default_rng(3)
    n = 2000
    groups = rng.choice(np.array(["a", "b"]), n)
    y = rng.integers(0, 2, n)
    # Group a's score separates the classes much better, so equalized odds must blur it.
    informative = np.where(groups == "a", 0.7, 0.15)
    score = np.clip(informative * y + (1 - informative) * rng.random(n), 0, 1)
    thresholds = fit_thresholds(score, y, groups, constraints="equalized_odds")
    assert any(rule["p_ignore"] > 0 for rule in thresholds["groups"].values())
    for seed in (1, 2):
        expected = _fairlearn_predict(score, y, groups, "equalized_odds", score, groups, seed)
        np.testing.assert_array_equal(apply_thresholds(score, groups, thresholds, seed), expected)


def test_mitigation_lowers_demographic_parity_difference_on_held_out_data(biased_hiring):
    score, y, gender = biased_hiring
    val, test = slice(0, 1500), slice(1500, None)
    thresholds = fit_thresholds(score[val], y[val], gender[val], constraints="demographic_parity")
    before = (score[test] >= 0.5).astype(int)
    after = apply_thresholds(score[test], gender[test], thresholds, seed=0)
    dp_before = demographic_parity_difference(y[test], before, sensitive_features=gender[test])
    dp_after = demographic_parity_difference(y[test], after, sensitive_features=gender[test])
    assert dp_before > 0.15 and dp_after < 0.06 and dp_after < dp_before / 3, (dp_before, dp_after)
    assert thresholds["validation"]["demographic_parity_difference"] < 1e-9
    report = fairness_report(y[test], after, {"gender": gender[test]}, n_boot=0)
    assert report["groupings"]["gender"]["disparities"]["demographic_parity_difference"]["value"] == \
        pytest.approx(dp_after, abs=1e-12)


def test_unknown_group_and_bad_labels_are_input_errors(biased_hiring):
    score, y, gender = biased_hiring
    thresholds = fit_thresholds(score[:500], y[:500], gender[:500])
    with pytest.raises(InputError):
        apply_thresholds(score[:3], ["female", "male", "nonbinary"], thresholds, seed=0)
    with pytest.raises(InputError):
        fit_thresholds(score[:10], np.full(10, 2), gender[:10])
    with pytest.raises(InputError):
        fit_thresholds(score[:10], y[:10], gender[:10], constraints="calibration")
