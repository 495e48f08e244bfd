"""compute_audit runs the robustness tests when its config asks: the same report the core computes alone, with
the attack ranking words by the audit's own SHAP values."""

from __future__ import annotations

import numpy as np
import pytest

from models_core.audit import compute_audit, shap_token_importance
from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.encoder.bundle import bundle_from_pretrained
from models_core.robustness.neighbours import EncoderSpace
from models_core.robustness.report import robustness_report

LABELS = ["no", "yes"]
ROBUSTNESS = {"seed": 3, "n_boot": 50, "max_texts": 40, "directional": [{"phrase": "No experience.", "direction": "down"}],
              "adversarial": {"max_texts": 3, "max_words": 2}}


@pytest.fixture(scope="module")
def tiny_classifier(tiny_bert_dir):
    return bundle_from_pretrained(tiny_bert_dir, num_labels=2, label_names=LABELS, max_length=64, seed=7)


def test_the_audit_stores_the_cores_robustness_report_and_attacks_the_explained_rows(tiny_classifier):
    rows = hiring_rows(SyntheticSpec(n_rows=40))
    texts, labels = [r["text"] for r in rows], [r["hired"] for r in rows]
    groups = {"gender": [r["gender"] for r in rows]}
    seen = []
    config = {"n_boot": 50, "seed": 3, "explain_rows": 2, "explain_methods": ["shap"], "robustness": ROBUSTNESS}
    audit = compute_audit(tiny_classifier, texts, labels, groups, config, label_names=LABELS, positive_label="yes",
                          progress=seen.append)
    result = audit.results["robustness"]
    importance = shap_token_importance(audit.results["explanations"], audit.probabilities)
    assert set(importance) == set(audit.results["explanations"]["row_indices"])
    alone = robustness_report(texts, tiny_classifier.predict_proba, groups, ROBUSTNESS, positive_class=1,
                              base_probabilities=audit.probabilities, encoder_space=EncoderSpace(tiny_classifier),
                              token_importance=importance)
    for key in ("suites", "directional", "adversarial", "summary", "config"):
        assert result[key] == alone[key], key
    assert result["config"]["sampled"] is False and result["n_texts"] == 40
    assert result["adversarial"]["importance"] == ["shap"] and result["adversarial"]["n_attacked"] == 2
    assert {e["index"] for e in result["adversarial"]["examples"]} == set(importance)
    stages = list(dict.fromkeys(p["stage"] for p in seen))
    assert stages[-1] == "robustness" and stages[-2] == "explanations"
    percents = [p["percent"] for p in seen]
    assert percents == sorted(percents) and percents[-1] <= 99


def test_shap_values_of_a_row_explained_for_the_other_class_are_turned_round():
    explanations = {"methods": ["shap"], "row_indices": [5, 2],
                    "texts": [{"index": 0, "target": 1, "tokens": [{"start": 0, "end": 3}], "attributions": {"shap": [0.2]}},
                              {"index": 1, "target": 0, "tokens": [{"start": 0, "end": 2}], "attributions": {"shap": [0.3]}}]}
    probabilities = np.array([[0.5, 0.5]] * 2 + [[0.2, 0.8]] + [[0.5, 0.5]] * 2 + [[0.1, 0.9]])
    assert shap_token_importance(explanations, probabilities) == {5: [(0, 3, 0.2)], 2: [(0, 2, -0.3)]}
    assert shap_token_importance(None, probabilities) == {}
    assert shap_token_importance({**explanations, "methods": ["lime"]}, probabilities) == {}
