"""Group fairness metrics with bootstrap confidence intervals, computed from confusion counts.

One vectorised pass (`np.bincount` over integer codes) counts every row into a tensor of shape
``(L_1, ..., L_k, C, C)``: one axis per declared sensitive attribute (its sorted levels), then true
class x predicted class. Every grouping (each attribute alone and every intersection of two or more)
is a sum of that tensor over the other attribute axes, and every metric and disparity is a
closed-form function of the per-group counts TP, FP, TN, FN. Multiclass labels are reported one
class against the rest. The numbers equal fairlearn's `MetricFrame` and disparity functions, with
fairlearn's convention: a rate whose denominator is empty (a group with no positive labels has no TPR)
counts as 0, as MetricFrame's scikit-learn metrics do; the group's metric carries ``"undefined": reason``
and every disparity that compares that rate lists the group under ``"undefined_groups"``, so a reader and
a policy rule (``"undefined": "fail"``, `rules.evaluate_thresholds`) can see it. A group with no rows (an
empty intersection; with weights, no weight) has null metrics and is left out of the disparities, as
fairlearn leaves it out; each disparity lists it under ``"left_out"`` with the reason. A missing attribute
value (None, NaN, empty or blank) is the group "(missing)", counted in ``"missing_values"`` and flagged
``"missing": true`` on its groups.

Sample weights (``sample_weight``, one per row, >= 0) weight every count: the metrics and disparities
equal fairlearn's MetricFrame with ``sample_params={metric: {"sample_weight": w}}``; ``count`` and
``confusion`` stay row counts, and each group adds ``"weight"`` (its sum of weights) and
``"weighted_confusion"``. The bootstrap then resamples rows and weights each drawn row
(`bootstrap.bootstrap_weighted`).

Confidence intervals come from a nonparametric bootstrap that resamples the COUNTS: resampling n rows
with replacement is the same as one multinomial draw of n over the finest cells (intersection group x
true class x predicted class) with the observed cell shares as probabilities, so replicates cost
nothing per row: ``rng.multinomial(n, p, size=n_boot)``. Intervals are percentile intervals (numpy's
``linear`` method) over the replicates where the statistic is defined.

Report schema (all plain JSON: str keys, float/int/bool/None values; NaN is written as null)::

    {
      "schema_version": 2,
      "task": "binary" | "multiclass_ovr",
      "n": 3000,                                  # rows
      "weighted": false,                          # true: "weight_sum" too, and weighted counts below
      "missing_values": {"gender": 0, "age_band": 12},   # rows whose value is missing, per attribute
      "labels": [0, 1],                           # all classes, sorted unless `labels` was given
      "positive_label": 1,                        # binary only (None for multiclass)
      "sensitive_attributes": ["gender", "age_band"],
      "settings": {"n_boot": 1000, "seed": 0, "confidence": 0.95, "min_group_size": 30,
                   "ci_method": "percentile bootstrap over multinomial-resampled cell counts"},
      "metric_names": ["selection_rate", "accuracy", "precision", "true_positive_rate",
                       "false_positive_rate", "false_negative_rate"],
      "disparity_names": ["demographic_parity_difference", "demographic_parity_ratio",
                          "equalized_odds_difference", "equalized_odds_ratio",
                          "equal_opportunity_difference", "equal_opportunity_ratio"],
      # binary: the report for `positive_label`; multiclass: these two keys live in
      # "classes": {"<str(label)>": {"overall": ..., "groupings": ...}} instead.
      "overall": {"count": 3000, "confusion": {"tp": 1, "fp": 0, "tn": 2, "fn": 0},
                  "metrics": {"selection_rate": {"value": 0.33, "ci": [0.31, 0.35]}, ...}},
      "groupings": {
        "gender": {
          "attributes": ["gender"],
          "groups": {
            "female": {"values": {"gender": "female"}, "count": 1480, "too_small": false,
                       "confusion": {"tp": ..., "fp": ..., "tn": ..., "fn": ...},
                       "metrics": {"selection_rate": {"value": 0.25, "ci": [0.23, 0.27]}, ...}},
            "male": {...}},
          "disparities": {"demographic_parity_difference": {"value": 0.19, "ci": [0.16, 0.22],
                                                            "left_out": [], "undefined_groups": []},
                          "equal_opportunity_difference": {..., "left_out": [{"group": "a0 × b1",
                                                                               "reason": "no rows"}],
                                                           "undefined_groups": [{"group": "b1",
                              "rates": ["true_positive_rate"], "reason": "no positive labels",
                              "counted_as": 0.0}]}, ...}},
        "gender × age_band": {"attributes": ["gender", "age_band"],
                              "groups": {"female × 18-29": {"values": {"gender": "female",
                                                                       "age_band": "18-29"}, ...}}}
      }
    }

Every metric is ``{"value": float | None, "ci": [low, high] | None}`` (plus ``"undefined": reason`` where
the value is an empty denominator counted as 0); ``ci`` is None when
``n_boot == 0`` and its ends are None when no replicate defines the statistic. Intersection groups
include every combination of the declared levels, also empty ones (count 0, metrics null, as in
fairlearn's `MetricFrame.by_group`); ``too_small`` is ``count < min_group_size``. Disparities use
every group with rows (small groups included, as fairlearn does): difference = max - min,
ratio = min / max (null for 0/0, as fairlearn); equalized odds takes the larger TPR/FPR difference
(the smaller ratio) and, like fairlearn, is null when the TPR ratio is 0/0 and skips a null FPR part;
equal opportunity is the TPR difference (ratio).

`models_core.fairness.rules.evaluate_thresholds(report, rules)` judges policy rules against such a report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError
from models_core.fairness.bootstrap import (Progress, bootstrap, bootstrap_weighted, percentile_interval,
                                            report_progress)
from models_core.fairness.group_metrics import (DISPARITY_NAMES, DISPARITY_RATES, METRIC_NAMES, MISSING,
                                                UNDEFINED_REASONS, cell_index, confusion_tensor, encode_labels,
                                                factorize_groups, grouping_counts, native, one_vs_rest, statistics,
                                                undefined_rates)

SCHEMA_VERSION = 2
GROUP_SEPARATOR = " × "


# ----------------------------------------------------------------------------- JSON output


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _stat(point: Any, low: Any = None, high: Any = None, with_ci: bool = False) -> dict:
    return {"value": _num(point), "ci": [_num(low), _num(high)] if with_ci else None}


def _confusion_dict(counts: np.ndarray) -> dict[str, int | float]:
    kind = int if counts.dtype.kind in "iu" else float
    return {"tp": kind(counts[0]), "fp": kind(counts[1]), "tn": kind(counts[2]), "fn": kind(counts[3])}


def _disparity_groups(name: str, keys: list[str], counts: np.ndarray, rows: np.ndarray,
                      undefined: dict[str, np.ndarray]) -> tuple[list[dict], list[dict]]:
    """The groups a disparity leaves out (no rows, or no weight) and those whose compared rate had an empty
    denominator and counted as 0, each with the reason."""
    rates = DISPARITY_RATES[name.rsplit("_", 1)[0]]
    left_out, counted_as_zero = [], []
    for g, key in enumerate(keys):
        if counts[g].sum() == 0:
            left_out.append({"group": key, "reason": "no rows" if rows[g].sum() == 0 else "no weight"})
            continue
        which = [r for r in rates if r in undefined and undefined[r][g]]
        if which:
            reasons = sorted({UNDEFINED_REASONS[r] for r in which})
            counted_as_zero.append({"group": key, "rates": which, "reason": " and ".join(reasons),
                                    "counted_as": 0.0})
    return left_out, counted_as_zero


def _class_report(cells: np.ndarray, rows: np.ndarray, point: dict, boot: dict | None, confidence: float,
                  groupings: list[tuple[int, ...]], attr_names: list[str], levels: list[list[Any]],
                  min_group_size: int, weighted: bool) -> dict:
    """`cells`: the (weighted) counts the numbers come from; `rows`: the row counts (the same unweighted)."""
    n_attrs = len(attr_names)
    with_ci = boot is not None

    def interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return percentile_interval(samples, confidence)

    def metric_stats(values: Mapping, counts: np.ndarray, index: Any, ci: Mapping | None) -> dict:
        undefined = undefined_rates(counts)
        out = {}
        for m in METRIC_NAMES:
            pick = (lambda a: a) if index is None else (lambda a: a[index])  # noqa: E731
            lo, hi = (pick(ci[m][0]), pick(ci[m][1])) if ci else (None, None)
            out[m] = _stat(pick(values[m]), lo, hi, with_ci)
            if m in undefined and bool(undefined[m]):
                out[m]["undefined"] = UNDEFINED_REASONS[m]
        return out

    overall_counts = cells.reshape(-1, 4).sum(axis=0)
    overall_rows = rows.reshape(-1, 4).sum(axis=0)
    overall_ci = {m: interval(boot["overall"][m]) for m in METRIC_NAMES} if with_ci else None
    overall = {"count": int(overall_rows.sum()), "confusion": _confusion_dict(overall_rows),
               "metrics": metric_stats(point["overall"], overall_counts, None, overall_ci)}
    if weighted:
        overall.update(weight=float(overall_counts.sum()), weighted_confusion=_confusion_dict(overall_counts))
    report = {"overall": overall, "groupings": {}}

    for index, axes in enumerate(groupings):
        per_group, disparities = point["groupings"][index]
        counts = grouping_counts(cells, axes, n_attrs)
        row_counts = grouping_counts(rows, axes, n_attrs)
        names = [attr_names[a] for a in axes]
        metric_ci = {m: interval(boot["groupings"][index][0][m]) for m in METRIC_NAMES} if with_ci else None
        groups, keys = {}, []
        for g, combo in enumerate(itertools.product(*(levels[a] for a in axes))):
            count = int(row_counts[g].sum())
            key = GROUP_SEPARATOR.join(str(v) for v in combo)
            keys.append(key)
            group = {"values": dict(zip(names, combo, strict=True)), "count": count,
                     "too_small": count < min_group_size, "confusion": _confusion_dict(row_counts[g]),
                     "metrics": metric_stats(per_group, counts[g], g, metric_ci)}
            if weighted:
                group.update(weight=float(counts[g].sum()), weighted_confusion=_confusion_dict(counts[g]))
            if MISSING in combo:
                group["missing"] = True
            groups[key] = group
        undefined = undefined_rates(counts)
        disp = {}
        for d in DISPARITY_NAMES:
            lo, hi = interval(boot["groupings"][index][1][d]) if with_ci else (None, None)
            left_out, counted_as_zero = _disparity_groups(d, keys, counts, row_counts, undefined)
            disp[d] = {**_stat(disparities[d], lo, hi, with_ci), "left_out": left_out,
                       "undefined_groups": counted_as_zero}
        report["groupings"][GROUP_SEPARATOR.join(names)] = {
            "attributes": names, "groups": groups, "disparities": disp}
    return report


def check_weights(sample_weight: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray | None:
    """The weights as float64, checked: one per row, finite, >= 0, not all 0 (InputError otherwise)."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,):
        raise InputError(f"sample_weight needs one weight per row ({n}), got shape {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError("sample weights must be finite, >= 0 and not all 0")
    return weights


def _check_counts(counts: Sequence[int] | np.ndarray | None, n: int) -> np.ndarray | None:
    if counts is None:
        return None
    values = np.asarray(counts)
    if values.shape != (n,) or values.dtype.kind not in "iu" or (values < 0).any() or values.sum() <= 0:
        raise InputError(f"counts needs one non-negative integer per row ({n}), not all 0")
    return values.astype(np.int64)


# ----------------------------------------------------------------------------- public API


def fairness_report(y_true: Sequence[Any], y_pred: Sequence[Any], sensitive: Mapping[str, Sequence[Any]],
                    labels: list | None = None, positive_label: Any = 1, n_boot: int = 1000,
                    seed: int = 0, min_group_size: int = 30, confidence: float = 0.95,
                    progress: Progress = None, sample_weight: Sequence[float] | None = None,
                    counts: Sequence[int] | None = None) -> dict:
    """Per-group metrics and disparities with bootstrap CIs; see the module docstring for the schema.

    `sensitive` maps each attribute name to one value per row. Groupings are every attribute alone
    and every intersection of two or more attributes. With two classes (or `labels` of length 2 or
    less) the task is binary and `positive_label` is the positive class; with more classes each
    class is reported against the rest. `n_boot=0` skips the bootstrap (all "ci" are None).
    `sample_weight` (one per row, >= 0) weights every count (module docstring).
    `counts` (one non-negative integer per row) makes each row a cell standing for that many rows, as a
    GROUP BY in the database returns them: the report, bootstrap included, is the one of the expanded rows
    (the bootstrap draws from the same count tensor), at the cost of the cells, not the rows.
    """
    n = len(y_true)
    if n == 0:
        raise InputError("fairness_report needs at least one row")
    if len(y_pred) != n:
        raise InputError(f"y_true has {n} rows but y_pred has {len(y_pred)}")
    if not sensitive:
        raise InputError("declare at least one sensitive attribute")
    attr_names = [str(a) for a in sensitive]
    if len(set(attr_names)) != len(attr_names) or any(GROUP_SEPARATOR in a for a in attr_names):
        raise InputError(f"sensitive attribute names must be distinct and not contain {GROUP_SEPARATOR!r}")
    if not 0.0 < confidence < 1.0:
        raise InputError("confidence must lie strictly between 0 and 1")
    if n_boot < 0:
        raise InputError("n_boot must be >= 0")
    weights = check_weights(sample_weight, n)
    multiplicity = _check_counts(counts, n)
    if multiplicity is not None and weights is not None:
        raise InputError("give sample_weight or counts, not both")
    report_progress(progress, 0.0)

    group_codes, levels, missing = [], [], {}
    for name, values in sensitive.items():
        if len(values) != n:
            raise InputError(f"sensitive attribute {name!r} has {len(values)} rows, expected {n}")
        codes, uniques, missing[str(name)] = factorize_groups(values, f"sensitive[{name!r}]")
        if multiplicity is not None and missing[str(name)]:
            missing[str(name)] = int(multiplicity[codes == uniques.index(MISSING)].sum())
        group_codes.append(codes)
        levels.append(uniques)
    yt, yp, classes = encode_labels(y_true, y_pred, labels, n)

    if len(classes) <= 2:
        task = "binary"
        positive = native(positive_label)
        if positive in classes:
            class_indices = [classes.index(positive)]
        elif len(classes) == 1:  # the positive class never occurs: append it as a column of zeros
            classes = classes + [positive]
            class_indices = [1]
        else:
            raise InputError(f"positive_label={positive!r} is not one of the labels {classes}")
    else:
        task = "multiclass_ovr"
        class_indices = list(range(len(classes)))

    level_sizes = [len(lv) for lv in levels]
    shape = (*level_sizes, len(classes), len(classes))
    flat = cell_index(group_codes, level_sizes, yt, yp, len(classes))
    rows = (confusion_tensor(flat, shape) if multiplicity is None
            else confusion_tensor(flat, shape, multiplicity.astype(np.float64)).round().astype(np.int64))
    tensor = rows if weights is None else confusion_tensor(flat, shape, weights)
    n_attrs = len(attr_names)
    groupings = [axes for r in range(1, n_attrs + 1) for axes in itertools.combinations(range(n_attrs), r)]
    report_progress(progress, 10.0)

    cells_per_class = [one_vs_rest(tensor, k) for k in class_indices]
    points = [statistics(cells, groupings, n_attrs) for cells in cells_per_class]
    if not n_boot:
        boots = [None] * len(class_indices)
    elif weights is None:
        boots = bootstrap(tensor, class_indices, groupings, n_attrs, n_boot, seed, progress)
    else:
        boots = bootstrap_weighted(flat, weights, shape, class_indices, groupings, n_attrs, n_boot, seed, progress)

    class_reports = [
        _class_report(cells, one_vs_rest(rows, k), point, boot, confidence, groupings, attr_names, levels,
                      min_group_size, weights is not None)
        for k, cells, point, boot in zip(class_indices, cells_per_class, points, boots, strict=True)]
    ci_method = ("percentile bootstrap over multinomial-resampled cell counts" if weights is None else
                 "percentile bootstrap: rows resampled uniformly (multinomial over cell x weight), then weighted")
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "n": n if multiplicity is None else int(multiplicity.sum()),
        "weighted": weights is not None,
        "missing_values": missing,
        "labels": classes,
        "positive_label": classes[class_indices[0]] if task == "binary" else None,
        "sensitive_attributes": attr_names,
        "settings": {"n_boot": int(n_boot), "seed": int(seed), "confidence": float(confidence),
                     "min_group_size": int(min_group_size), "ci_method": ci_method,
                     "empty_denominator": "counts as 0 (fairlearn's MetricFrame convention)"},
        "metric_names": list(METRIC_NAMES),
        "disparity_names": list(DISPARITY_NAMES),
    }
    if weights is not None:
        report["weight_sum"] = float(weights.sum())
    if task == "binary":
        report.update(class_reports[0])
    else:
        report["classes"] = {str(classes[k]): r for k, r in zip(class_indices, class_reports, strict=True)}
    report_progress(progress, 100.0)
    return report
