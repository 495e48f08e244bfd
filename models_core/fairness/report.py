"""Group fairness metrics with bootstrap confidence intervals, computed from confusion counts.

One vectorised pass (`np.bincount` over integer codes) counts every row into a tensor of shape
``(L_1, ..., L_k, C, C)``: one axis per declared sensitive attribute (its sorted levels), then true
class x predicted class. Every grouping (each attribute alone and every intersection of two or more)
is a sum of that tensor over the other attribute axes, and every metric and disparity is a
closed-form function of the per-group counts TP, FP, TN, FN. Multiclass labels are reported one
class against the rest. The numbers equal fairlearn's `MetricFrame` and disparity functions, except
that a rate whose denominator is zero is undefined (null) instead of scikit-learn's 0, and undefined
groups are skipped by the disparities (fairlearn skips empty intersections the same way).

Confidence intervals come from a nonparametric bootstrap that resamples the COUNTS: resampling n rows
with replacement is the same as one multinomial draw of n over the finest cells (intersection group x
true class x predicted class) with the observed cell shares as probabilities, so replicates cost
nothing per row: ``rng.multinomial(n, p, size=n_boot)``. Intervals are percentile intervals (numpy's
``linear`` method) over the replicates where the statistic is defined.

Report schema (all plain JSON: str keys, float/int/bool/None values; NaN is written as null)::

    {
      "schema_version": 1,
      "task": "binary" | "multiclass_ovr",
      "n": 3000,                                  # rows
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
          "disparities": {"demographic_parity_difference": {"value": 0.19, "ci": [0.16, 0.22]},
                          ...}},
        "gender × age_band": {"attributes": ["gender", "age_band"],
                              "groups": {"female × 18-29": {"values": {"gender": "female",
                                                                       "age_band": "18-29"}, ...}}}
      }
    }

Every metric is ``{"value": float | None, "ci": [low, high] | None}``; ``ci`` is None when
``n_boot == 0`` and its ends are None when no replicate defines the statistic. Intersection groups
include every combination of the declared levels, also empty ones (count 0, metrics null, as in
fairlearn's `MetricFrame.by_group`); ``too_small`` is ``count < min_group_size``. Disparities use
every group with a defined value (small groups included, as fairlearn does): difference = max - min,
ratio = min / max (null for 0/0, as fairlearn); equalized odds takes the larger TPR/FPR difference
(the smaller ratio) and, like fairlearn, is null when the TPR part is null and skips a null FPR part;
equal opportunity is the TPR difference (ratio).

`evaluate_thresholds(report, rules)` judges policy rules against such a report.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError

SCHEMA_VERSION = 1
GROUP_SEPARATOR = " × "
METRIC_NAMES = ("selection_rate", "accuracy", "precision", "true_positive_rate",
                "false_positive_rate", "false_negative_rate")
DISPARITY_NAMES = ("demographic_parity_difference", "demographic_parity_ratio",
                   "equalized_odds_difference", "equalized_odds_ratio",
                   "equal_opportunity_difference", "equal_opportunity_ratio")
# Bootstrap replicates are drawn in chunks so that one chunk holds at most this many cell counts.
_MAX_CELLS_PER_CHUNK = 4_000_000

Progress = Callable[[dict], None] | None


# ----------------------------------------------------------------------------- encoding


def _factorize(values: Sequence[Any] | np.ndarray, name: str) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (intp) and the sorted distinct values, in O(n) for the common inputs."""
    arr = values if isinstance(values, np.ndarray) else None
    if arr is not None and arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr is not None and arr.dtype.kind in "iub" and arr.size:
        # Small-range integers: a lookup table indexed by value, no sort of n items.
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo < 1_000_000:
            shifted = arr.astype(np.int64) - lo
            present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
            lut = np.empty(hi - lo + 1, dtype=np.intp)
            lut[present] = np.arange(present.size)
            return lut[shifted], [_native(v + lo) for v in present]
    if arr is not None and arr.dtype.kind in "if":
        uniques, codes = np.unique(arr, return_inverse=True)
        if arr.dtype.kind == "f" and np.isnan(uniques).any():
            raise InputError(f"{name} contains NaN")
        return codes.astype(np.intp, copy=False), [_native(v) for v in uniques]
    if arr is not None and arr.dtype.kind in "US":
        peeled = _peel(arr)
        if peeled is not None:
            return peeled
        uniques, codes = np.unique(arr, return_inverse=True)
        return codes.astype(np.intp, copy=False), [_native(v) for v in uniques]
    # Other hashables (lists of str, object arrays): a dict pass, hashing instead of sorting n items.
    seq = arr.tolist() if arr is not None else list(values)
    first_seen = list(dict.fromkeys(seq))
    try:
        ordered = sorted(first_seen)
    except TypeError as exc:
        raise InputError(f"{name} mixes values that cannot be ordered: {exc}") from exc
    rank = {v: i for i, v in enumerate(ordered)}
    codes = np.fromiter(map(rank.__getitem__, seq), dtype=np.intp, count=len(seq))
    return codes, [_native(v) for v in ordered]


def _peel(arr: np.ndarray, max_levels: int = 64) -> tuple[np.ndarray, list[Any]] | None:
    """Codes for a fixed-width string array with few distinct values: one vectorised equality test
    per distinct value, O(n * levels) instead of a sort. None when there are more than `max_levels`."""
    n = arr.shape[0]
    codes = np.zeros(n, dtype=np.intp)
    unassigned = np.ones(n, dtype=bool)
    found: list[Any] = []
    first = 0
    while n and unassigned[first]:
        if len(found) == max_levels:
            return None
        value = arr[first]
        equal = arr == value
        np.add(codes, len(found), out=codes, where=equal)
        unassigned &= ~equal
        found.append(_native(value))
        first = int(unassigned.argmax())
    order = sorted(range(len(found)), key=found.__getitem__)
    rank = np.empty(len(found), dtype=np.intp)
    rank[order] = np.arange(len(found))
    return rank[codes], [found[i] for i in order]


def _native(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON-able for ints, floats, str, bool)."""
    return value.item() if isinstance(value, np.generic) else value


def _encode_labels(y_true, y_pred, labels, n) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    if labels is not None:
        classes = [_native(v) for v in labels]
        if len(set(classes)) != len(classes) or not classes:
            raise InputError("labels must be a non-empty list of distinct values")
        index = {v: i for i, v in enumerate(classes)}
        try:
            yt = np.fromiter((index[_native(v)] for v in y_true), dtype=np.intp, count=n)
            yp = np.fromiter((index[_native(v)] for v in y_pred), dtype=np.intp, count=n)
        except KeyError as exc:
            raise InputError(f"label {exc.args[0]!r} is not in labels={classes}") from exc
        return yt, yp, classes
    yt_arr, yp_arr = np.asarray(y_true), np.asarray(y_pred)
    if yt_arr.dtype.kind in "iub" and yp_arr.dtype.kind in "iub" or (
            yt_arr.dtype.kind in "U" and yp_arr.dtype.kind in "U"):
        both = np.concatenate([yt_arr, yp_arr])
    else:
        both = np.concatenate([yt_arr.astype(object), yp_arr.astype(object)])
    codes, classes = _factorize(both, "labels")
    return codes[:n], codes[n:], classes


# ----------------------------------------------------------------------------- counting


def _confusion_tensor(group_codes: list[np.ndarray], level_sizes: list[int], yt: np.ndarray,
                      yp: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of shape (*level_sizes, C, C): [levels..., true class, predicted class]."""
    flat = np.zeros(yt.shape[0], dtype=np.int64)
    for codes, size in zip(group_codes, level_sizes, strict=True):
        flat *= size
        flat += codes
    flat *= n_classes
    flat += yt
    flat *= n_classes
    flat += yp
    n_cells = math.prod(level_sizes) * n_classes * n_classes
    return np.bincount(flat, minlength=n_cells).reshape(*level_sizes, n_classes, n_classes)


def _one_vs_rest(tensor: np.ndarray, k: int) -> np.ndarray:
    """(..., C, C) counts -> (..., 4) counts [TP, FP, TN, FN] for class k against the rest."""
    tp = tensor[..., k, k]
    actual = tensor[..., k, :].sum(axis=-1)
    predicted = tensor[..., :, k].sum(axis=-1)
    total = tensor.sum(axis=(-2, -1))
    return np.stack([tp, predicted - tp, total - actual - predicted + tp, actual - tp], axis=-1)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _metrics_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """(..., 4) [TP, FP, TN, FN] -> each metric with shape (...); NaN where undefined."""
    tp, fp, tn, fn = (counts[..., i] for i in range(4))
    count = tp + fp + tn + fn
    return {
        "selection_rate": _safe_divide(tp + fp, count),
        "accuracy": _safe_divide(tp + tn, count),
        "precision": _safe_divide(tp, tp + fp),
        "true_positive_rate": _safe_divide(tp, tp + fn),
        "false_positive_rate": _safe_divide(fp, fp + tn),
        "false_negative_rate": _safe_divide(fn, tp + fn),
    }


def _spread(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max - min and min / max over the last axis, skipping NaN (NaN if nothing is defined)."""
    hi = np.fmax.reduce(values, axis=-1)
    lo = np.fmin.reduce(values, axis=-1)
    return hi - lo, _safe_divide(lo, hi)


def _disparities_from_metrics(metrics: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-group metrics with groups on the last axis -> disparities over that axis."""
    dp_diff, dp_ratio = _spread(metrics["selection_rate"])
    tpr_diff, tpr_ratio = _spread(metrics["true_positive_rate"])
    fpr_diff, fpr_ratio = _spread(metrics["false_positive_rate"])
    return {
        "demographic_parity_difference": dp_diff,
        "demographic_parity_ratio": dp_ratio,
        # As fairlearn's max()/min() over the Series [tpr, fpr]: undefined when the TPR part is,
        # otherwise an undefined FPR part is skipped (e.g. FPR ratio 0/0 for a perfect predictor).
        "equalized_odds_difference": np.where(np.isnan(tpr_diff), np.nan, np.fmax(tpr_diff, fpr_diff)),
        "equalized_odds_ratio": np.where(np.isnan(tpr_ratio), np.nan, np.fmin(tpr_ratio, fpr_ratio)),
        "equal_opportunity_difference": tpr_diff,
        "equal_opportunity_ratio": tpr_ratio,
    }


def _grouping_counts(cells: np.ndarray, axes: tuple[int, ...], n_attrs: int) -> np.ndarray:
    """cells (*lead, L_1..L_k, 4) -> (*lead, G, 4) for the grouping over attribute `axes`."""
    lead = cells.ndim - n_attrs - 1
    drop = tuple(lead + a for a in range(n_attrs) if a not in axes)
    summed = cells.sum(axis=drop) if drop else cells
    return summed.reshape(*cells.shape[:lead], -1, 4)


# ----------------------------------------------------------------------------- statistics


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """NaN-skipping percentile interval over axis 0, equal to np.nanpercentile(method="linear")."""
    ordered = np.sort(samples, axis=0)  # NaN sorts last
    valid = np.sum(~np.isnan(samples), axis=0)
    alpha = 1.0 - confidence
    ends = []
    for q in (alpha / 2.0, 1.0 - alpha / 2.0):
        pos = q * np.maximum(valid - 1, 0)
        below = np.floor(pos).astype(np.intp)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        frac = pos - below
        lo = np.take_along_axis(ordered, below[None, ...], axis=0)[0]
        hi = np.take_along_axis(ordered, above[None, ...], axis=0)[0]
        # numpy's _lerp form, so the result matches np.nanpercentile bit for bit.
        diff = hi - lo
        value = np.where(frac >= 0.5, hi - diff * (1 - frac), lo + diff * frac)
        ends.append(np.where(valid > 0, value, np.nan))
    return ends[0], ends[1]


def _statistics(cells: np.ndarray, groupings: list[tuple[int, ...]], n_attrs: int) -> dict:
    """All metrics and disparities for cells of shape (*lead, L_1..L_k, 4)."""
    lead = cells.ndim - n_attrs - 1
    overall = cells.reshape(*cells.shape[:lead], -1, 4).sum(axis=-2)
    out = {"overall": _metrics_from_counts(overall), "groupings": []}
    for axes in groupings:
        per_group = _metrics_from_counts(_grouping_counts(cells, axes, n_attrs))
        out["groupings"].append((per_group, _disparities_from_metrics(per_group)))
    return out


def _bootstrap(tensor: np.ndarray, class_indices: list[int], groupings: list[tuple[int, ...]],
               n_attrs: int, n_boot: int, seed: int, progress: Progress) -> list[dict]:
    """Replicate statistics per reported class: lists of arrays with replicates on axis 0."""
    n = int(tensor.sum())
    shape = tensor.shape
    p = tensor.ravel() / n
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _MAX_CELLS_PER_CHUNK // max(p.size, 1)))
    parts: list[list[dict]] = []
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = rng.multinomial(n, p, size=size).reshape(size, *shape)
        parts.append([_statistics(_one_vs_rest(draws, k), groupings, n_attrs) for k in class_indices])
        done += size
        _report(progress, 10.0 + 85.0 * done / n_boot, replicates=done)
    return [_concat([part[i] for part in parts]) for i in range(len(class_indices))]


def _concat(stats: list[dict]) -> dict:
    """Concatenate replicate chunks of `_statistics` output along axis 0."""
    first = stats[0]
    overall = {m: np.concatenate([s["overall"][m] for s in stats]) for m in first["overall"]}
    groupings = []
    for g in range(len(first["groupings"])):
        per_group = {m: np.concatenate([s["groupings"][g][0][m] for s in stats])
                     for m in first["groupings"][g][0]}
        disp = {d: np.concatenate([s["groupings"][g][1][d] for s in stats])
                for d in first["groupings"][g][1]}
        groupings.append((per_group, disp))
    return {"overall": overall, "groupings": groupings}


# ----------------------------------------------------------------------------- JSON output


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _stat(point: Any, low: Any = None, high: Any = None, with_ci: bool = False) -> dict:
    return {"value": _num(point), "ci": [_num(low), _num(high)] if with_ci else None}


def _confusion_dict(counts: np.ndarray) -> dict[str, int]:
    return {"tp": int(counts[0]), "fp": int(counts[1]), "tn": int(counts[2]), "fn": int(counts[3])}


def _class_report(cells: np.ndarray, point: dict, boot: dict | None, confidence: float,
                  groupings: list[tuple[int, ...]], attr_names: list[str],
                  levels: list[list[Any]], min_group_size: int) -> dict:
    n_attrs = len(attr_names)
    with_ci = boot is not None

    def interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _percentile_interval(samples, confidence)

    overall_counts = cells.reshape(-1, 4).sum(axis=0)
    overall_metrics = {}
    for m in METRIC_NAMES:
        lo, hi = interval(boot["overall"][m]) if with_ci else (None, None)
        overall_metrics[m] = _stat(point["overall"][m], lo, hi, with_ci)
    report = {"overall": {"count": int(overall_counts.sum()),
                          "confusion": _confusion_dict(overall_counts),
                          "metrics": overall_metrics},
              "groupings": {}}

    for index, axes in enumerate(groupings):
        per_group, disparities = point["groupings"][index]
        counts = _grouping_counts(cells, axes, n_attrs)
        names = [attr_names[a] for a in axes]
        metric_ci = {m: interval(boot["groupings"][index][0][m]) for m in METRIC_NAMES} if with_ci else {}
        groups = {}
        for g, combo in enumerate(itertools.product(*(levels[a] for a in axes))):
            count = int(counts[g].sum())
            metrics = {}
            for m in METRIC_NAMES:
                lo, hi = (metric_ci[m][0][g], metric_ci[m][1][g]) if with_ci else (None, None)
                metrics[m] = _stat(per_group[m][g], lo, hi, with_ci)
            groups[GROUP_SEPARATOR.join(str(v) for v in combo)] = {
                "values": dict(zip(names, combo, strict=True)),
                "count": count,
                "too_small": count < min_group_size,
                "confusion": _confusion_dict(counts[g]),
                "metrics": metrics,
            }
        disp = {}
        for d in DISPARITY_NAMES:
            lo, hi = interval(boot["groupings"][index][1][d]) if with_ci else (None, None)
            disp[d] = _stat(disparities[d], lo, hi, with_ci)
        report["groupings"][GROUP_SEPARATOR.join(names)] = {
            "attributes": names, "groups": groups, "disparities": disp}
    return report


def _report(progress: Progress, percent: float, **extra: Any) -> None:
    if progress is not None:
        progress({"stage": "fairness", "percent": round(float(percent), 2), **extra})


# ----------------------------------------------------------------------------- public API


def fairness_report(y_true: Sequence[Any], y_pred: Sequence[Any], sensitive: Mapping[str, Sequence[Any]],
                    labels: list | None = None, positive_label: Any = 1, n_boot: int = 1000,
                    seed: int = 0, min_group_size: int = 30, confidence: float = 0.95,
                    progress: Progress = None) -> dict:
    """Per-group metrics and disparities with bootstrap CIs; see the module docstring for the schema.

    `sensitive` maps each attribute name to one value per row. Groupings are every attribute alone
    and every intersection of two or more attributes. With two classes (or `labels` of length 2 or
    less) the task is binary and `positive_label` is the positive class; with more classes each
    class is reported against the rest. `n_boot=0` skips the bootstrap (all "ci" are None).
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
    _report(progress, 0.0)

    group_codes, levels = [], []
    for name, values in sensitive.items():
        if len(values) != n:
            raise InputError(f"sensitive attribute {name!r} has {len(values)} rows, expected {n}")
        codes, uniques = _factorize(values, f"sensitive[{name!r}]")
        group_codes.append(codes)
        levels.append(uniques)
    yt, yp, classes = _encode_labels(y_true, y_pred, labels, n)

    if len(classes) <= 2:
        task = "binary"
        positive = _native(positive_label)
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
    tensor = _confusion_tensor(group_codes, level_sizes, yt, yp, len(classes))
    n_attrs = len(attr_names)
    groupings = [axes for r in range(1, n_attrs + 1) for axes in itertools.combinations(range(n_attrs), r)]
    _report(progress, 10.0)

    cells_per_class = [_one_vs_rest(tensor, k) for k in class_indices]
    points = [_statistics(cells, groupings, n_attrs) for cells in cells_per_class]
    boots = _bootstrap(tensor, class_indices, groupings, n_attrs, n_boot, seed, progress) if n_boot \
        else [None] * len(class_indices)

    class_reports = [
        _class_report(cells, point, boot, confidence, groupings, attr_names, levels, min_group_size)
        for cells, point, boot in zip(cells_per_class, points, boots, strict=True)]
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "n": n,
        "labels": classes,
        "positive_label": classes[class_indices[0]] if task == "binary" else None,
        "sensitive_attributes": attr_names,
        "settings": {"n_boot": int(n_boot), "seed": int(seed), "confidence": float(confidence),
                     "min_group_size": int(min_group_size),
                     "ci_method": "percentile bootstrap over multinomial-resampled cell counts"},
        "metric_names": list(METRIC_NAMES),
        "disparity_names": list(DISPARITY_NAMES),
    }
    if task == "binary":
        report.update(class_reports[0])
    else:
        report["classes"] = {str(classes[k]): r for k, r in zip(class_indices, class_reports, strict=True)}
    _report(progress, 100.0)
    return report


def evaluate_thresholds(report: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Judge policy rules against a `fairness_report` output.

    A rule is a dict with
      - "metric": a disparity name (judged per grouping) or a metric name (judged on "overall", or
        on every non-empty group of a grouping when "grouping" is given);
      - "grouping": a grouping name such as "gender" or "gender × age_band", "*" for every grouping,
        or "overall" / absent (metrics only);
      - "max" and/or "min": the bound(s) the value must respect (inclusive);
      - "judge_on": "point" (default), "upper" or "lower" — which number is compared: the point
        estimate or an end of its confidence interval ("upper" with "max" is the cautious reading);
      - "class": for multiclass reports, one label (as str) or "*" (default: every class);
      - "skip_small": if true, per-group metric rules ignore groups flagged too_small.
    Returns one result per judged value: the rule, class, grouping, group, value, bound used
    ("point"/"upper"/"lower"), the compared number, passed (bool). An undefined number fails
    (closed gate) with a "note".
    """
    results = []
    for rule in rules:
        metric = rule.get("metric")
        if metric not in METRIC_NAMES and metric not in DISPARITY_NAMES:
            raise InputError(f"unknown metric {metric!r} in rule {dict(rule)!r}")
        if "max" not in rule and "min" not in rule:
            raise InputError(f"rule {dict(rule)!r} has neither 'max' nor 'min'")
        judge_on = rule.get("judge_on", "point")
        if judge_on not in ("point", "upper", "lower"):
            raise InputError(f"judge_on must be 'point', 'upper' or 'lower', got {judge_on!r}")
        for class_key, class_report in _classes_for_rule(report, rule):
            for grouping, group, stat in _targets_for_rule(class_report, rule, metric):
                results.append(_judge(rule, class_key, grouping, group, stat, judge_on))
    return results


def _classes_for_rule(report: Mapping[str, Any], rule: Mapping[str, Any]) -> list[tuple[str | None, Mapping]]:
    if report.get("task") != "multiclass_ovr":
        return [(None, report)]
    wanted = rule.get("class", "*")
    if wanted == "*":
        return list(report["classes"].items())
    if str(wanted) not in report["classes"]:
        raise InputError(f"class {wanted!r} is not in the report")
    return [(str(wanted), report["classes"][str(wanted)])]


def _targets_for_rule(class_report: Mapping, rule: Mapping, metric: str) -> list[tuple]:
    grouping = rule.get("grouping")
    if metric in METRIC_NAMES and grouping in (None, "overall"):
        return [("overall", None, class_report["overall"]["metrics"][metric])]
    if grouping in (None, "overall"):
        raise InputError(f"disparity {metric!r} needs a grouping (a name or '*')")
    names = list(class_report["groupings"]) if grouping == "*" else [grouping]
    targets = []
    for name in names:
        if name not in class_report["groupings"]:
            raise InputError(f"grouping {name!r} is not in the report")
        entry = class_report["groupings"][name]
        if metric in DISPARITY_NAMES:
            targets.append((name, None, entry["disparities"][metric]))
            continue
        for group, data in entry["groups"].items():
            if data["count"] == 0 or (rule.get("skip_small") and data["too_small"]):
                continue
            targets.append((name, group, data["metrics"][metric]))
    return targets


def _judge(rule: Mapping, class_key: str | None, grouping: str, group: str | None, stat: Mapping,
           judge_on: str) -> dict:
    value = stat["value"]
    note = None
    if judge_on == "point":
        compared = value
    elif stat.get("ci") is None:
        compared, note = None, "no confidence interval in the report (n_boot=0)"
    else:
        compared = stat["ci"][1] if judge_on == "upper" else stat["ci"][0]
    if compared is None:
        passed = False
        note = note or "value undefined for this data"
    else:
        passed = (("max" not in rule or compared <= rule["max"])
                  and ("min" not in rule or compared >= rule["min"]))
    return {"rule": dict(rule), "metric": rule["metric"], "class": class_key, "grouping": grouping,
            "group": group, "value": value, "ci": stat.get("ci"), "bound": judge_on,
            "compared": compared, "max": rule.get("max"), "min": rule.get("min"),
            "passed": bool(passed), "note": note}
