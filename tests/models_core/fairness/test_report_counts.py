"""`fairness_report(..., counts=...)`: cells with their counts (a GROUP BY's answer) give the report of the
expanded rows, bootstrap intervals included; missing values counted by rows."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from models_core.errors import InputError
from models_core.fairness.report import fairness_report


def _rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male", None], size=n, p=[0.45, 0.5, 0.05]).tolist()
    band = rng.choice(["18-29", "30-44", "45+"], size=n).tolist()
    y_true = rng.choice(["no", "yes"], size=n).tolist()
    y_pred = [t if rng.random() < 0.8 else ("no" if t == "yes" else "yes") for t in y_true]
    return y_true, y_pred, gender, band


@pytest.mark.parametrize("seed", [0, 1])
def test_counts_give_the_report_of_the_expanded_rows(seed):
    y_true, y_pred, gender, band = _rows(3000, seed)
    expected = fairness_report(y_true, y_pred, {"gender": gender, "age_band": band}, labels=["no", "yes"],
                               positive_label="yes", n_boot=300, seed=5)
    cells = Counter(zip(y_true, y_pred, gender, band))
    keys = list(cells)
    got = fairness_report([k[0] for k in keys], [k[1] for k in keys],
                          {"gender": [k[2] for k in keys], "age_band": [k[3] for k in keys]}, labels=["no", "yes"],
                          positive_label="yes", n_boot=300, seed=5, counts=[cells[k] for k in keys])
    assert len(keys) < 40 and got["n"] == 3000 and got["missing_values"]["gender"] == gender.count(None)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("counts", [[1, -1], [0, 0], [1.5, 1], [1]])
def test_bad_counts_are_refused(counts):
    with pytest.raises(InputError):
        fairness_report(["a", "b"], ["a", "b"], {"g": ["x", "y"]}, positive_label="a", n_boot=0, counts=counts)


def test_counts_and_weights_together_are_refused():
    with pytest.raises(InputError, match="not both"):
        fairness_report(["a", "b"], ["a", "b"], {"g": ["x", "y"]}, positive_label="a", n_boot=0, counts=[1, 2],
                        sample_weight=[1.0, 1.0])
