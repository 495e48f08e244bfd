"""Post-processing mitigation: per-group randomised thresholds from fairlearn's ThresholdOptimizer.

`fit_thresholds` fits `fairlearn.postprocessing.ThresholdOptimizer` (prefit, on the positive-class
scores of a validation split) and exports the fitted per-group rule as plain JSON, so that a new
model version can carry it in its artifact metadata. `apply_thresholds` reproduces
`ThresholdOptimizer.predict(X, sensitive_features=groups, random_state=seed)` exactly from that JSON,
without fairlearn or pandas.

The rule for group g selects a row with score s with probability

    q = p0 * [s op0 t0] + p1 * [s op1 t1]                       (op is ">" or "<")
    q = p_ignore * prediction_constant + (1 - p_ignore) * q     (equalized odds only)

and a row is predicted positive when ``q >= u``, ``u = RandomState(seed).rand(n)[row]``.

Threshold JSON (thresholds of +-infinity are written as the strings "inf" / "-inf")::

    {"schema_version": 1, "method": "fairlearn.postprocessing.ThresholdOptimizer",
     "fairlearn_version": "0.15.0", "constraints": "demographic_parity",
     "objective": "accuracy_score", "grid_size": 1000, "flip": false, "n_validation": 1200,
     "groups": {"female": {"p0": 0.61, "operation0": {"operator": ">", "threshold": 0.42},
                           "p1": 0.39, "operation1": {"operator": ">", "threshold": 0.37}},
                "male": {...}},            # equalized odds adds "p_ignore", "prediction_constant"
     "validation": {"selection_rate": {"female": 0.31, "male": 0.31},   # expected, on the split
                    "demographic_parity_difference": 0.0}}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from models_core.errors import InputError

SCHEMA_VERSION = 1
CONSTRAINTS = ("demographic_parity", "equalized_odds")

Progress = Callable[[dict], None] | None


class ScoreEstimator(ClassifierMixin, BaseEstimator):
    """A prefit 'estimator' whose single feature is already the positive-class score."""

    classes_ = np.array([0, 1])

    def fit(self, X, y=None):  # noqa: ARG002 - sklearn protocol; nothing to learn
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict_proba(self, X) -> np.ndarray:
        scores = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0]
        return np.column_stack([1.0 - scores, scores])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _threshold_json(value: float) -> float | str:
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _threshold_value(value: float | str) -> float:
    return float(value)  # float("inf") and float("-inf") parse the exported strings


def _validate(scores, groups) -> tuple[np.ndarray, list[str]]:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or not np.isfinite(s).all():
        raise InputError("scores must be a one-dimensional array of finite numbers")
    g = [str(v) for v in groups]
    if len(g) != s.shape[0]:
        raise InputError(f"{s.shape[0]} scores but {len(g)} group values")
    return s, g


def threshold_optimizer(scores: Sequence[float], y_true: Sequence[int], groups: Sequence[Any],
                        constraints: str = "demographic_parity", objective: str = "accuracy_score",
                        grid_size: int = 1000, flip: bool = False):
    """The fitted fairlearn ThresholdOptimizer (for notebooks; the worker uses `fit_thresholds`)."""
    from fairlearn.postprocessing import ThresholdOptimizer

    s, g = _validate(scores, groups)
    y = np.asarray(y_true)
    if y.shape != s.shape or not np.isin(y, (0, 1)).all():
        raise InputError("y_true must hold one 0/1 label per score")
    if constraints not in CONSTRAINTS:
        raise InputError(f"constraints must be one of {CONSTRAINTS}, got {constraints!r}")
    optimizer = ThresholdOptimizer(estimator=ScoreEstimator(), constraints=constraints, objective=objective,
                                   grid_size=grid_size, flip=flip, prefit=True,
                                   predict_method="predict_proba")
    try:
        return optimizer.fit(s[:, None], y.astype(int), sensitive_features=np.asarray(g, dtype=object))
    except ValueError as exc:
        raise InputError(f"ThresholdOptimizer could not fit: {exc}") from exc


def export_thresholds(optimizer) -> dict[str, dict]:
    """The fitted optimizer's per-group interpolated threshold rules as JSON-able dicts."""
    rules = {}
    for group, rule in optimizer.interpolated_thresholder_.interpolation_dict.items():
        entry: dict[str, Any] = {}
        for i in (0, 1):
            op = rule[f"operation{i}"]
            entry[f"p{i}"] = float(rule[f"p{i}"])
            entry[f"operation{i}"] = {"operator": op.operator, "threshold": _threshold_json(op.threshold)}
        if "p_ignore" in rule:
            entry["p_ignore"] = float(rule["p_ignore"])
            entry["prediction_constant"] = float(rule["prediction_constant"])
        rules[str(group)] = entry
    return rules


def fit_thresholds(scores: Sequence[float], y_true: Sequence[int], groups: Sequence[Any],
                   constraints: str = "demographic_parity", objective: str = "accuracy_score",
                   grid_size: int = 1000, flip: bool = False, progress: Progress = None) -> dict:
    """Fit ThresholdOptimizer on a validation split and return its rule as JSON (module docstring).

    `scores` are the model's positive-class probabilities, `y_true` 0/1 labels, `groups` one
    sensitive value per row (join several attributes into one string for intersections).
    """
    import fairlearn

    if progress:
        progress({"stage": "mitigation", "percent": 0.0})
    optimizer = threshold_optimizer(scores, y_true, groups, constraints, objective, grid_size, flip)
    thresholds = {
        "schema_version": SCHEMA_VERSION,
        "method": "fairlearn.postprocessing.ThresholdOptimizer",
        "fairlearn_version": fairlearn.__version__,
        "constraints": constraints,
        "objective": objective,
        "grid_size": int(grid_size),
        "flip": bool(flip),
        "n_validation": len(scores),
        "groups": export_thresholds(optimizer),
    }
    s, g = _validate(scores, groups)
    q = selection_probabilities(s, g, thresholds)
    codes = np.array(g, dtype=object)
    rates = {group: float(q[codes == group].mean()) for group in sorted(thresholds["groups"])}
    thresholds["validation"] = {"selection_rate": rates,
                                "demographic_parity_difference": max(rates.values()) - min(rates.values())}
    if progress:
        progress({"stage": "mitigation", "percent": 100.0})
    return thresholds


def selection_probabilities(scores: Sequence[float], groups: Sequence[Any], thresholds: dict) -> np.ndarray:
    """Per-row probability of a positive prediction under the exported rule (fairlearn's pmf)."""
    s, g = _validate(scores, groups)
    rules = thresholds["groups"]
    codes = np.array(g, dtype=object)
    unknown = set(g) - set(rules)
    if unknown:
        raise InputError(f"no threshold rule for groups {sorted(unknown)}; known: {sorted(rules)}")
    q = np.zeros(s.shape[0], dtype=np.float64)
    for group, rule in rules.items():
        mask = codes == group
        if not mask.any():
            continue
        part = s[mask]
        # Same operations in the same order as InterpolatedThresholder._pmf_predict: bit-equal.
        value = (rule["p0"] * _compare(part, rule["operation0"])
                 + rule["p1"] * _compare(part, rule["operation1"]))
        if "p_ignore" in rule:
            value = rule["p_ignore"] * rule["prediction_constant"] + (1 - rule["p_ignore"]) * value
        q[mask] = value
    return q


def _compare(scores: np.ndarray, operation: dict) -> np.ndarray:
    threshold = _threshold_value(operation["threshold"])
    if operation["operator"] == ">":
        return scores > threshold
    if operation["operator"] == "<":
        return scores < threshold
    raise InputError(f"unknown threshold operator {operation['operator']!r}")


def apply_thresholds(scores: Sequence[float], groups: Sequence[Any], thresholds: dict, seed: int) -> np.ndarray:
    """0/1 predictions equal to ThresholdOptimizer.predict(..., random_state=seed) on the same rows.

    Raises InputError for a group the rule does not know (fairlearn would silently predict 0).
    """
    q = selection_probabilities(scores, groups, thresholds)
    draws = np.random.RandomState(seed).rand(q.shape[0])  # sklearn's check_random_state(int)
    return (q >= draws).astype(int)
