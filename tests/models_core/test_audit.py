"""models_core.audit: one call computes every result of an audit, equal to what the pieces compute."""

from __future__ import annotations

import numpy as np
import pytest

from models_core.audit import ComputedAudit, compute_audit, stability_count
from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.encoder.bundle import bundle_from_pretrained
from models_core.encoder.inference import predict_dataset
from models_core.encoder.quantized import perturbation_scorer
from models_core.errors import InputError
from models_core.explain.global_view import select_sample
from models_core.explain.sample import explain_sample, stability_sample
from models_core.fairness.calibration import calibration_report
from models_core.fairness.counterfactual import DEFAULT_GROUPS, DEFAULT_WORD_PAIRS, counterfactual_report
from models_core.fairness.mitigation import apply_thresholds, fit_thresholds
from models_core.fairness.report import fairness_report
from models_core.fairness.rules import evaluate_thresholds
from models_core.metrics import classification_summary
from models_core.mitigate import compute_threshold_mitigation

LABELS = ["no", "yes"]
RULES = [{"metric": "demographic_parity_difference", "grouping": "*", "max": 0.2},
         {"metric": "accuracy", "min": 0.5}]
CONFIG = {"n_boot": 50, "seed": 3, "explain_rows": 0, "fairness_rules": RULES,
          "counterfactual": {"word_pairs": [list(p) for p in DEFAULT_WORD_PAIRS], "groups": list(DEFAULT_GROUPS),
                             "n_worst": 3}}


@pytest.fixture(scope="module")
def tiny_classifier(tiny_bert_dir):
    return bundle_from_pretrained(tiny_bert_dir, num_labels=2, label_names=LABELS, max_length=64, seed=7)


@pytest.fixture(scope="module")
def rows():
    return hiring_rows(SyntheticSpec(n_rows=60))


def _columns(rows):
    texts = [r["text"] for r in rows]
    labels = [r["hired"] for r in rows]
    groups = {"gender": [r["gender"] for r in rows], "age_band": [r["age_band"] for r in rows]}
    return texts, labels, groups


def test_results_equal_what_the_pieces_compute(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    audit = compute_audit(tiny_classifier, texts, labels, groups, CONFIG, label_names=LABELS, positive_label="yes")

    assert isinstance(audit, ComputedAudit)
    assert list(audit.results) == ["metrics", "compute", "fairness", "calibration", "counterfactual",
                                   "fairness_verdict"]
    inference = predict_dataset(tiny_classifier, texts)
    y_true = [LABELS.index(label) for label in labels]
    y_pred = inference.predictions.tolist()
    assert audit.predictions == y_pred
    np.testing.assert_array_equal(audit.probabilities, inference.probabilities)
    assert audit.results["metrics"] == {**classification_summary(y_true, y_pred, LABELS),
                                        "decision": {"rule": "argmax"}}
    fairness = fairness_report(y_true, y_pred, groups, labels=[0, 1], positive_label=1, n_boot=50, seed=3)
    assert audit.results["fairness"] == {**fairness, "weighting": {"weighted": False}}
    calibration = calibration_report(np.asarray(y_true), inference.probabilities[:, 1], groups, n_boot=50, seed=3)
    assert audit.results["calibration"] == {
        "task": "binary", "positive_label": "yes", "weighting": {"weighted": False},
        "scores": "the model's probability of the class (before any group thresholds)", **calibration}
    assert audit.results["fairness_verdict"] == evaluate_thresholds(fairness, RULES)
    counterfactual = counterfactual_report(texts, tiny_classifier.predict_proba, word_pairs=DEFAULT_WORD_PAIRS,
                                           groups=DEFAULT_GROUPS, positive_class=1, n_worst=3)
    assert audit.results["counterfactual"] == {
        **counterfactual, "decision": "argmax of the model's probabilities (before any group thresholds)"}
    assert audit.results["compute"]["flops"] > 0


def test_explanations_cover_the_stratified_sample_and_progress_runs_through_every_stage(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    seen = []
    config = {**CONFIG, "explain_rows": 4, "explain_methods": ["shap", "ig"], "explain_scoring": "fp32"}
    audit = compute_audit(tiny_classifier, texts, labels, groups, config, label_names=LABELS, positive_label="yes",
                          progress=seen.append)

    y_true = [LABELS.index(label) for label in labels]
    correct = [t == p for t, p in zip(y_true, audit.predictions)]
    sample = select_sample(groups["gender"], correct, n=4, seed=3)
    # fp32 scoring: the explainer sees the bundle itself, scored in padding-free batches
    scorer, note = perturbation_scorer(tiny_classifier, [], kind=None)
    expected = explain_sample(scorer, [texts[i] for i in sample], [audit.predictions[i] for i in sample],
                              {a: [v[i] for i in sample] for a, v in groups.items()}, methods=("shap", "ig"), seed=3,
                              stability=stability_sample(4, stability_count(4)))
    explanations = audit.results["explanations"]
    assert explanations["row_indices"] == sample
    assert explanations["texts"] == expected["texts"]
    assert explanations["config"]["scoring"] == note and note["scoring"] == "fp32"
    stages = list(dict.fromkeys(p["stage"] for p in seen))
    assert stages == ["inference", "fairness", "calibration", "counterfactual", "explanations"]
    percents = [p["percent"] for p in seen]
    assert percents == sorted(percents) and 5 <= percents[0] and percents[-1] <= 95


def test_a_mitigated_model_decides_with_its_group_thresholds(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    scores = predict_dataset(tiny_classifier, texts).probabilities[:, 1]
    y = [int(label == "yes") for label in labels]
    thresholds = fit_thresholds(scores, y, groups["gender"], constraints="demographic_parity")
    mitigation = {"attribute": "gender", "positive_label": "yes", "thresholds": thresholds, "seed": 5}
    audit = compute_audit(tiny_classifier, texts, labels, groups, CONFIG, label_names=LABELS, positive_label="yes",
                          mitigation=mitigation)

    assert audit.predictions == [int(c) for c in apply_thresholds(scores, groups["gender"], thresholds, seed=5)]
    assert audit.results["metrics"]["decision"] == {"rule": "group thresholds", "constraint": "demographic_parity",
                                                    "attribute": "gender", "seed": 5}


def test_labels_the_model_does_not_know_are_refused(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    with pytest.raises(InputError, match="maybe"):
        compute_audit(tiny_classifier, texts, labels[:-1] + ["maybe"], groups, CONFIG, label_names=LABELS)
    with pytest.raises(InputError, match="one value per row"):
        compute_audit(tiny_classifier, texts, labels[:-1], groups, CONFIG, label_names=LABELS)


def test_threshold_mitigation_equals_fitting_and_applying_the_thresholds(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    y = [int(label == "yes") for label in labels]
    computed = compute_threshold_mitigation(tiny_classifier, texts, y, groups["gender"], positive=1,
                                            constraint="demographic_parity", seed=2)

    inference = predict_dataset(tiny_classifier, texts)
    thresholds = fit_thresholds(inference.probabilities[:, 1], y, groups["gender"], constraints="demographic_parity")
    decided = apply_thresholds(inference.probabilities[:, 1], groups["gender"], thresholds, seed=2)
    assert computed.thresholds == thresholds
    assert computed.metrics["val_accuracy"] == float(np.mean(decided == np.asarray(y)))
    assert computed.metrics["val_accuracy_before"] == float(np.mean(inference.predictions == np.asarray(y)))
    assert computed.metrics["n_validation"] == len(texts)
    assert 0.0 <= computed.metrics["val_dp_difference"] <= 1.0


def test_weighted_rows_weight_fairness_and_calibration_and_say_where_the_weights_come_from(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    weights = [1.5 if label == "yes" else 0.75 for label in labels]
    weighting = {"column": "weight", "source": "Reweighed v1"}
    audit = compute_audit(tiny_classifier, texts, labels, groups, CONFIG, label_names=LABELS, positive_label="yes",
                          sample_weight=weights, weighting=weighting)
    y_true = [LABELS.index(label) for label in labels]
    fairness = fairness_report(y_true, audit.predictions, groups, labels=[0, 1], positive_label=1, n_boot=50, seed=3,
                               sample_weight=weights)
    assert audit.results["fairness"] == {**fairness, "weighting": {"weighted": True, **weighting}}
    assert audit.results["fairness"]["weighted"] is True
    calibration = audit.results["calibration"]
    assert calibration["weighted"] is True and calibration["weighting"]["source"] == "Reweighed v1"
    assert calibration["groupings"]["gender"]["groups"]["female"]["weight"] == pytest.approx(
        sum(w for w, g in zip(weights, groups["gender"]) if g == "female"))


def test_results_come_stage_by_stage_and_the_verdict_only_at_the_end(tiny_classifier, rows):
    """Results as they come (issue 19): every stage's result is sent as soon as it is computed, the explanations
    chunk by chunk (each a prefix of the final ones), never the verdict; the events carry an ETA."""
    texts, labels, groups = _columns(rows)
    config = {**CONFIG, "explain_rows": 12, "explain_methods": ["shap", "lime"], "explain_scoring": "fp32"}
    sent, seen = [], []
    audit = compute_audit(tiny_classifier, texts, labels, groups, config, label_names=LABELS, positive_label="yes",
                          progress=seen.append, on_stage=lambda kind, data: sent.append((kind, data)))

    kinds = [kind for kind, _ in sent]
    assert kinds == ["metrics", "compute", "fairness", "calibration", "counterfactual", "explanations"]
    assert "fairness_verdict" not in kinds and "fairness_verdict" in audit.results
    for kind, data in sent[:-1]:
        assert data == audit.results[kind]
    partial, final = sent[-1][1], audit.results["explanations"]
    assert partial["partial"] == {"explained": 10, "of": 12} and "partial" not in final
    assert len(partial["texts"]) == 10 and partial["texts"] == final["texts"][:10]
    assert partial["row_indices"] == final["row_indices"][:10]
    assert [t["index"] for t in final["texts"]] == list(range(12))
    assert final["global"]["n_texts"] == 12
    # the stability re-run on a fifth of the explained texts (at least 3), spread over both chunks
    assert final["config"]["stability"] == {"perturbation": True, "seed": 3, "rows": [0, 6, 11], "sampled": True}
    assert [t["index"] for t in final["texts"] if t["stability"]["perturbation"]] == [0, 6, 11]
    assert all(t["stability"]["seeds"] for t in final["texts"])  # the rest: LIME's second seed
    assert [stability_count(n) for n in (1, 3, 12, 16, 20, 50, 500)] == [1, 3, 3, 4, 4, 10, 10]
    # chunking changes nothing per text: the same as one call on all twelve
    scorer, _ = perturbation_scorer(tiny_classifier, [], kind=None)
    rows_ = final["row_indices"]
    whole = explain_sample(scorer, [texts[i] for i in rows_], [audit.predictions[i] for i in rows_],
                           {a: [v[i] for i in rows_] for a, v in groups.items()}, methods=("shap", "lime"), seed=3)
    # chunking changes nothing per text but which strings share a batch (float rounding of the matrix products)
    for ours, one_call in zip(final["texts"], whole["texts"]):
        assert ours["tokens"] == one_call["tokens"] and ours["target"] == one_call["target"]
        for method in ("shap", "lime"):
            np.testing.assert_allclose(ours["attributions"][method], one_call["attributions"][method], atol=1e-5)
    assert [t["token"] for t in final["global"]["top_tokens"]] == [t["token"] for t in whole["global"]["top_tokens"]]
    etas = [p["eta_s"] for p in seen if "eta_s" in p]
    assert etas and all(e >= 0 for e in etas)


def test_an_unknown_scoring_choice_is_refused(tiny_classifier, rows):
    texts, labels, groups = _columns(rows)
    with pytest.raises(InputError, match="explain_scoring"):
        compute_audit(tiny_classifier, texts, labels, groups, {**CONFIG, "explain_scoring": "int4"},
                      label_names=LABELS, positive_label="yes")
