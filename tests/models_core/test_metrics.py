"""models_core.metrics, the one implementation of classification and group metrics, against scikit-learn
and fairlearn (the independent references): equal to the last bit, not approximately."""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference as fairlearn_dpd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from models_core.metrics import (accuracy, classification_summary, demographic_parity_difference, macro_f1,
                                 rates_from_counts, spread)


@pytest.mark.parametrize("seed,n_labels,n", [(0, 2, 500), (1, 3, 257), (2, 5, 40), (3, 4, 3)])
def test_classification_summary_equals_scikit_learn_exactly(seed, n_labels, n):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_labels, n).tolist()
    y_pred = rng.integers(0, n_labels - 1, n).tolist()  # the last class is never predicted
    names = [f"c{i}" for i in range(n_labels)]
    labels = list(range(n_labels))
    summary = classification_summary(y_true, y_pred, names)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert summary["n"] == n
    assert summary["accuracy"] == float(accuracy_score(y_true, y_pred))
    assert summary["f1_macro"] == float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert summary["majority_baseline_accuracy"] == max(y_true.count(i) for i in labels) / n
    assert summary["per_class"] == [{"label": names[i], "precision": float(precision[i]), "recall": float(recall[i]),
                                     "f1": float(f1[i]), "support": int(support[i])} for i in labels]
    assert summary["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert summary["label_names"] == names


def test_a_class_absent_from_truth_and_predictions_counts_zero_in_the_macro_average():
    y_true, y_pred = [0, 1, 1, 0], [0, 1, 0, 0]
    summary = classification_summary(y_true, y_pred, ["a", "b", "c"])
    assert summary["f1_macro"] == f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0)
    assert summary["per_class"][2] == {"label": "c", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_and_accuracy_equal_scikit_learn_defaults(seed):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(1, 5, 300)  # labels 0 and 4 each on one side only
    assert macro_f1(y_true, y_pred) == f1_score(y_true, y_pred, average="macro")
    assert macro_f1(y_true, y_pred, labels=[0, 1, 2, 3, 4, 5]) == f1_score(
        y_true, y_pred, labels=[0, 1, 2, 3, 4, 5], average="macro", zero_division=0)
    assert accuracy(y_true, y_pred) == accuracy_score(y_true, y_pred)


@pytest.mark.parametrize("seed", range(5))
def test_demographic_parity_difference_equals_fairlearn(seed):
    rng = np.random.default_rng(seed)
    groups = rng.choice(["female", "male", "nonbinary"], 400, p=[0.45, 0.45, 0.1]).tolist()
    y_pred = rng.integers(0, 2, 400)
    assert demographic_parity_difference(y_pred, groups) == pytest.approx(
        fairlearn_dpd(np.zeros(400), y_pred, sensitive_features=groups), abs=1e-15)
    # the figure the mitigation job reported before it used this module: max - min of per-group means
    g = np.asarray(groups, dtype=object)
    rates = [float(np.mean(y_pred[g == level])) for level in sorted(set(groups))]
    assert demographic_parity_difference(y_pred, groups) == max(rates) - min(rates)


def test_rates_are_undefined_where_their_denominator_is_zero_and_spread_skips_them():
    counts = np.array([[3, 1, 4, 2], [0, 0, 5, 0]])  # [TP, FP, TN, FN]; group 2 has no positive at all
    rates = rates_from_counts(counts)
    assert rates["selection_rate"].tolist() == [0.4, 0.0]
    assert rates["true_positive_rate"][0] == 0.6 and np.isnan(rates["true_positive_rate"][1])
    difference, ratio = spread(rates["true_positive_rate"])
    assert difference == 0.0 and ratio == 1.0
