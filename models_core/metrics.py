"""Classification metrics from confusion counts: the one implementation that training (model selection),
audits (performance), fairness (per-group rates and disparities) and mitigation (validation figures) use.

Every number is a closed-form function of integer counts, so it is exact and equal to the reference
libraries the tests compare with: `classification_summary`, `accuracy` and `macro_f1` equal scikit-learn's
`precision_recall_fscore_support`, `f1_score(average="macro")`, `accuracy_score` and `confusion_matrix`
with ``zero_division=0``; `rates_from_counts`, `spread` and `demographic_parity_difference` equal
fairlearn's `MetricFrame` rates and disparity functions (`rates_from_counts(..., undefined=0.0)` is
fairlearn's convention that a rate with a zero denominator counts as 0; the default leaves it NaN).

Takes numpy arrays or sequences of labels; returns numpy arrays, floats or plain dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

RATE_NAMES = ("selection_rate", "accuracy", "precision", "true_positive_rate",
              "false_positive_rate", "false_negative_rate")


def safe_divide(num: Any, den: Any, undefined: float = np.nan) -> np.ndarray:
    """num / den elementwise in float64; `undefined` where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), undefined)
    np.divide(num, den, out=out, where=den != 0)
    return out


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray,
                     n_labels: int) -> np.ndarray:
    """(n_labels, n_labels) int64 counts [true class, predicted class] of integer labels in [0, n_labels)."""
    yt = np.asarray(y_true, dtype=np.int64)
    yp = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(yt * n_labels + yp, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def _per_class(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, predicted counts, true counts) per class of a confusion matrix."""
    return np.diagonal(matrix).copy(), matrix.sum(axis=0), matrix.sum(axis=1)


def _f1(tp: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    # 2 TP / (2 TP + FP + FN), written as scikit-learn does: 2.0 * TP / (true count + predicted count).
    return safe_divide(2.0 * tp, actual + predicted, undefined=0.0)


def macro_f1(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray,
             labels: Sequence[Any] | None = None) -> float:
    """Macro-averaged F1 over `labels`, by default the labels present in y_true or y_pred (scikit-learn's
    default); a label with no true and no predicted row scores 0."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    classes = np.union1d(yt, yp) if labels is None else np.asarray(list(labels))
    yt_codes = np.searchsorted(classes, yt) if labels is None else _codes(yt, classes)
    yp_codes = np.searchsorted(classes, yp) if labels is None else _codes(yp, classes)
    matrix = confusion_matrix(yt_codes, yp_codes, len(classes))
    return float(np.mean(_f1(*_per_class(matrix))))


def _codes(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    index = {v: i for i, v in enumerate(classes.tolist())}
    return np.fromiter((index[v] for v in values.tolist()), dtype=np.int64, count=len(values))


def accuracy(y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray) -> float:
    """Share of rows whose prediction equals the truth (scikit-learn's accuracy_score)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def classification_summary(y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, the majority-class baseline, per-class precision/recall/F1/support and the
    confusion matrix of integer labels indexing `label_names` (plain JSON)."""
    labels = range(len(label_names))
    matrix = confusion_matrix(y_true, y_pred, len(label_names))
    tp, predicted, actual = _per_class(matrix)
    precision = safe_divide(tp, predicted, undefined=0.0)
    recall = safe_divide(tp, actual, undefined=0.0)
    f1 = _f1(tp, predicted, actual)
    n = len(y_true)
    return {
        "n": n,
        "accuracy": accuracy(y_true, y_pred),
        "f1_macro": float(np.mean(f1)),
        "majority_baseline_accuracy": int(actual.max(initial=0)) / max(1, n),
        "per_class": [{"label": label_names[i], "precision": float(precision[i]), "recall": float(recall[i]),
                       "f1": float(f1[i]), "support": int(actual[i])} for i in labels],
        "confusion_matrix": matrix.tolist(),
        "label_names": list(label_names),
    }


def rates_from_counts(counts: np.ndarray, undefined: float = np.nan) -> dict[str, np.ndarray]:
    """(..., 4) counts [TP, FP, TN, FN] (integer or weighted) -> each of RATE_NAMES with shape (...);
    `undefined` where a denominator is zero."""
    tp, fp, tn, fn = (counts[..., i] for i in range(4))
    count = tp + fp + tn + fn
    return {
        "selection_rate": safe_divide(tp + fp, count, undefined),
        "accuracy": safe_divide(tp + tn, count, undefined),
        "precision": safe_divide(tp, tp + fp, undefined),
        "true_positive_rate": safe_divide(tp, tp + fn, undefined),
        "false_positive_rate": safe_divide(fp, fp + tn, undefined),
        "false_negative_rate": safe_divide(fn, tp + fn, undefined),
    }


def spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max - min and min / max over the last axis, skipping NaN (NaN if nothing is defined): the
    difference and ratio of a disparity across groups."""
    hi = np.fmax.reduce(values, axis=-1)
    lo = np.fmin.reduce(values, axis=-1)
    return hi - lo, safe_divide(lo, hi)


def selection_rates(y_pred: Sequence[int] | np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """Share of rows predicted 1 in each group (groups in sorted order) of binary 0/1 predictions."""
    pred = np.asarray(y_pred)
    _, codes = np.unique(np.asarray(groups, dtype=object), return_inverse=True)
    codes = codes.reshape(-1)
    size = int(codes.max(initial=-1)) + 1
    return safe_divide(np.bincount(codes[pred == 1], minlength=size), np.bincount(codes, minlength=size))


def demographic_parity_difference(y_pred: Sequence[int] | np.ndarray, groups: Sequence[Any]) -> float:
    """Largest minus smallest selection rate across groups (fairlearn's demographic_parity_difference)."""
    difference, _ = spread(selection_rates(y_pred, groups))
    return float(difference)
