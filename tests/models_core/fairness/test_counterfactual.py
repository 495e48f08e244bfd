"""models_core.fairness.counterfactual: token swaps and the flip rate of a model that reads "she"."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from models_core.data.synthetic import hiring_rows
from models_core.errors import InputError
from models_core.fairness.counterfactual import TokenSwapper, counterfactual_report


class SheReader:
    """Toy model: P(positive) = 0.9 if the text contains the word "she", else 0.2. Counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        p = np.array([0.9 if re.search(r"\bshe\b", t, re.IGNORECASE) else 0.2 for t in texts])
        return np.column_stack([1 - p, p])


def test_swap_is_whole_word_case_preserving_and_handles_apostrophes():
    swap = TokenSwapper({"she": "he", "her": "his", "women's": "men's", "girls'": "boys'"})
    assert swap("She said her sister, SHE and Her.") == "He said his sister, HE and His."
    assert swap("There, the shed is here; she's fine") == "There, the shed is here; he's fine"
    assert swap("the women's club and a girls' camp") == "the men's club and a boys' camp"
    assert swap("Women's rugby") == "Men's rugby"


def test_flip_rate_of_a_model_that_depends_on_she():
    texts = [
        "She led the team.",                  # she -> he: flips (0.9 -> 0.2)
        "Her work on the audit was strong.",  # her -> his: no change
        "She mentored her colleagues.",       # flips
        "He delivered a platform.",           # he -> she in the other direction: flips
        "His skills: sql.",                   # his -> her: no change
        "No identity words here.",            # unchanged in both directions
    ]
    model = SheReader()
    report = counterfactual_report(texts, model, n_worst=2)
    assert model.calls == 1  # one batched call on originals and every variant
    f2m, m2f = report["directions"]["female→male"], report["directions"]["male→female"]
    assert f2m["n_changed"] == 3 and f2m["n_flipped"] == 2
    assert f2m["flip_rate"] == pytest.approx(2 / 3)
    assert f2m["mean_abs_change"] == pytest.approx((0.7 + 0.7 + 0) / 3)
    assert f2m["mean_change"] == pytest.approx(-1.4 / 3)
    assert m2f["n_changed"] == 2 and m2f["flip_rate"] == pytest.approx(0.5)
    assert m2f["mean_change"] == pytest.approx(0.35)
    worst = f2m["worst"]
    assert len(worst) == 2 and {w["index"] for w in worst} == {0, 2}
    assert worst[0]["original"] == "She led the team." and worst[0]["swapped"] == "He led the team."
    assert worst[0]["p_original"] == pytest.approx(0.9) and worst[0]["p_swapped"] == pytest.approx(0.2)
    assert worst[0]["flipped"] is True
    json.dumps(report, allow_nan=False)


def test_synthetic_hiring_texts_all_carry_gendered_terms():
    rows = hiring_rows()[:200]
    texts = [r["text"] for r in rows]
    model = SheReader()
    report = counterfactual_report(texts, model)
    women = sum(r["gender"] == "female" for r in rows)
    assert report["directions"]["female→male"]["n_changed"] == women
    assert report["directions"]["female→male"]["flip_rate"] == 1.0
    assert report["directions"]["male→female"]["n_changed"] == len(rows) - women
    assert model.calls == 1


def test_custom_pairs_and_one_dimensional_probabilities():
    report = counterfactual_report(["Mr Smith", "Ms Jones", "nobody"], lambda ts: np.array(
        [0.8 if t.startswith("Ms") else 0.4 for t in ts]), word_pairs=[("ms", "mr")], groups=("f", "m"))
    assert report["directions"]["f→m"] == {**report["directions"]["f→m"], "n_changed": 1, "n_flipped": 1}
    assert report["directions"]["m→f"]["worst"][0]["swapped"] == "Ms Smith"
    empty = counterfactual_report(["nobody"], SheReader())
    assert empty["directions"]["female→male"]["flip_rate"] is None


def test_bad_configuration_is_an_input_error():
    with pytest.raises(InputError):
        counterfactual_report(["x"], SheReader(), word_pairs=[])
    with pytest.raises(InputError):
        counterfactual_report(["x"], SheReader(), word_pairs=[("she", "he"), ("he", "him")])
    with pytest.raises(InputError):
        counterfactual_report(["she"], lambda ts: np.zeros((1, 2)))  # wrong number of rows
