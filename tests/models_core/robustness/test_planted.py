"""Validation on planted models: classifiers trained here (frozen MiniLM, trained head) on data with a planted
defect must be caught by the suites with intervals excluding zero, and one trained on clean data must pass.

"Caught": the suite's flip rate has a lower bound above zero and an upper bound above the gate's example
limit (0.05). "Passes": no suite's flip-rate upper bound is above 0.05 and no origin swap moves the
score significantly more than 0.05 on average.
"""

from __future__ import annotations

import pytest

from models_core.robustness.planted import DISFAVOURED, clean_rows, name_bias_rows, shortcut_rows
from models_core.robustness.report import robustness_report
from models_core.training.config import TrainConfig
from models_core.training.trainer import train_classifier

pytestmark = pytest.mark.slow
LIMIT = 0.05
CONFIG = {"seed": 0, "n_boot": 500, "adversarial": {"enabled": False}}


def _trained(rows):
    result = train_classifier([r["text"] for r in rows], [int(r["label"] == "yes") for r in rows], 2,
                              TrainConfig(epochs=30, patience=5, seed=0, label_names=("no", "yes")))
    return result.bundle


def _report(bundle, rows):
    return robustness_report([r["text"] for r in rows], bundle.predict_proba,
                             {"gender": [r["gender"] for r in rows]}, CONFIG)


def test_a_meaningless_token_shortcut_is_caught_by_the_punctuation_suite():
    bundle = _trained(shortcut_rows(300, seed=1))
    report = _report(bundle, shortcut_rows(120, seed=2))
    flips = report["suites"]["punctuation"]["flip_rate"]
    assert flips["ci"][0] > 0 and flips["ci"][1] > LIMIT, flips
    worst = report["suites"]["punctuation"]["worst"][0]
    assert worst["flipped"] and worst["original"].endswith("!") and not worst["perturbed"].endswith("!")
    assert report["summary"]["invariance_flip_rate_upper"]["value"] > LIMIT


def test_a_name_origin_bias_is_caught_by_the_name_swap_suite():
    bundle = _trained(name_bias_rows(300, seed=1))
    report = _report(bundle, name_bias_rows(120, seed=2))
    names = report["suites"]["names"]
    assert names["flip_rate"]["ci"][0] > 0 and names["flip_rate"]["ci"][1] > LIMIT, names["flip_rate"]
    # on average over the origin pairs (about 20 texts each), a disfavoured origin's name swapped for another
    # origin's raises the score, and the reverse swap lowers it
    raised = [f["mean_change"]["value"] for key, f in names["by_origins"].items()
              if key.split("→")[0] in DISFAVOURED and key.split("→")[1] not in DISFAVOURED]
    lowered = [f["mean_change"]["value"] for key, f in names["by_origins"].items()
               if key.split("→")[0] not in DISFAVOURED and key.split("→")[1] in DISFAVOURED]
    assert len(raised) == len(lowered) == 8
    assert sum(raised) / 8 > 0 and sum(lowered) / 8 < 0, (raised, lowered)


def test_a_model_trained_on_clean_data_passes():
    bundle = _trained(clean_rows(300, seed=1))
    report = _report(bundle, clean_rows(120, seed=2))
    for name, suite in report["suites"].items():
        upper = suite["flip_rate"]["ci"][1]
        assert upper is None or upper <= LIMIT, (name, suite["flip_rate"])
    for key, figures in report["suites"]["names"]["by_origins"].items():
        low, high = figures["mean_change"]["ci"]
        assert low <= LIMIT and high >= -LIMIT, (key, figures["mean_change"])
