"""Per-group confusion counts, rates and disparities: the arithmetic under `fairness_report`.

Rows are factorised into integer codes and counted, in one vectorised pass (`np.bincount`, with the sample
weights as `weights` when given), into a tensor of shape ``(L_1, ..., L_k, C, C)``: one axis per sensitive
attribute (its sorted levels), then true class x predicted class. Every grouping is a sum of that tensor over
the other attribute axes, and every rate and disparity is a closed-form function of the per-group counts
[TP, FP, TN, FN] (`models_core.metrics`).

Convention (fairlearn's: MetricFrame's scikit-learn metrics give 0 for an empty denominator): a rate whose
denominator is empty in a group that has rows counts as 0, and `undefined_rates` says which ones were; only
a group with no rows (an empty intersection) or no weight has undefined (NaN) rates, and disparities leave
such groups out, as fairlearn does. A missing attribute value (None, NaN, an empty or blank string) is the
explicit group `MISSING`, never "".

Takes numpy arrays or sequences; returns numpy arrays. Imports only numpy and models_core.metrics/errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError
from models_core.metrics import RATE_NAMES, rates_from_counts, spread

METRIC_NAMES = RATE_NAMES
DISPARITY_NAMES = ("demographic_parity_difference", "demographic_parity_ratio",
                   "equalized_odds_difference", "equalized_odds_ratio",
                   "equal_opportunity_difference", "equal_opportunity_ratio")
MISSING = "(missing)"
# The rates each disparity compares across groups.
DISPARITY_RATES = {"demographic_parity": ("selection_rate",),
                   "equalized_odds": ("true_positive_rate", "false_positive_rate"),
                   "equal_opportunity": ("true_positive_rate",)}
# Why a rate of a non-empty group has an empty denominator.
UNDEFINED_REASONS = {"precision": "no predicted positives", "true_positive_rate": "no positive labels",
                     "false_negative_rate": "no positive labels", "false_positive_rate": "no negative labels"}

# ----------------------------------------------------------------------------- encoding


def with_missing(values: Sequence[Any] | np.ndarray) -> tuple[Sequence[Any] | np.ndarray, int]:
    """`values` with every missing value (None, NaN, "" or blank) replaced by `MISSING`, and how many were.
    When some are missing and the others are not strings, every value becomes its str (so they sort)."""
    arr = values if isinstance(values, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iub":
        return arr, 0
    if arr is not None and arr.dtype.kind in "US":
        blank = np.char.strip(arr.astype(str)) == ""
        n_missing = int(blank.sum())
        return (np.where(blank, MISSING, arr.astype(str)) if n_missing else arr), n_missing
    seq = arr.tolist() if arr is not None else list(values)
    missing = [_is_missing(v) for v in seq]
    n_missing = sum(missing)
    if not n_missing:
        return values, 0
    as_str = any(not isinstance(v, str) for v, m in zip(seq, missing) if not m)
    return [MISSING if m else (str(native(v)) if as_str else v) for v, m in zip(seq, missing)], n_missing


def factorize_groups(values: Sequence[Any] | np.ndarray, name: str) -> tuple[np.ndarray, list[Any], int]:
    """`factorize` of a sensitive attribute with its missing values as the level `MISSING`: (codes, sorted
    levels, number of missing rows). String arrays are factorised first and only their few levels checked."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "US":
        codes, levels = factorize(values, name)
        blank = [i for i, level in enumerate(levels) if not str(level).strip()]
        if not blank:
            return codes, levels, 0
        kept = [level for i, level in enumerate(levels) if i not in blank]
        merged = sorted([*kept, MISSING])
        remap = np.array([merged.index(MISSING) if i in blank else merged.index(level)
                          for i, level in enumerate(levels)], dtype=np.intp)
        n_missing = int(np.bincount(codes, minlength=len(levels))[blank].sum())
        return remap[codes], merged, n_missing
    cleaned, n_missing = with_missing(values)
    codes, levels = factorize(cleaned, name)
    return codes, levels, n_missing


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def factorize(values: Sequence[Any] | np.ndarray, name: str) -> tuple[np.ndarray, list[Any]]:
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
            return lut[shifted], [native(v + lo) for v in present]
    if arr is not None and arr.dtype.kind in "if":
        uniques, codes = np.unique(arr, return_inverse=True)
        if arr.dtype.kind == "f" and np.isnan(uniques).any():
            raise InputError(f"{name} contains NaN")
        return codes.astype(np.intp, copy=False), [native(v) for v in uniques]
    if arr is not None and arr.dtype.kind in "US":
        peeled = _peel(arr)
        if peeled is not None:
            return peeled
        uniques, codes = np.unique(arr, return_inverse=True)
        return codes.astype(np.intp, copy=False), [native(v) for v in uniques]
    # Other hashables (lists of str, object arrays): a dict pass, hashing instead of sorting n items.
    seq = arr.tolist() if arr is not None else list(values)
    first_seen = list(dict.fromkeys(seq))
    try:
        ordered = sorted(first_seen)
    except TypeError as exc:
        raise InputError(f"{name} mixes values that cannot be ordered: {exc}") from exc
    rank = {v: i for i, v in enumerate(ordered)}
    codes = np.fromiter(map(rank.__getitem__, seq), dtype=np.intp, count=len(seq))
    return codes, [native(v) for v in ordered]


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
        found.append(native(value))
        first = int(unassigned.argmax())
    order = sorted(range(len(found)), key=found.__getitem__)
    rank = np.empty(len(found), dtype=np.intp)
    rank[order] = np.arange(len(found))
    return rank[codes], [found[i] for i in order]


def native(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON-able for ints, floats, str, bool)."""
    return value.item() if isinstance(value, np.generic) else value


def encode_labels(y_true, y_pred, labels, n) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    if labels is not None:
        classes = [native(v) for v in labels]
        if len(set(classes)) != len(classes) or not classes:
            raise InputError("labels must be a non-empty list of distinct values")
        index = {v: i for i, v in enumerate(classes)}
        try:
            yt = np.fromiter((index[native(v)] for v in y_true), dtype=np.intp, count=n)
            yp = np.fromiter((index[native(v)] for v in y_pred), dtype=np.intp, count=n)
        except KeyError as exc:
            raise InputError(f"label {exc.args[0]!r} is not in labels={classes}") from exc
        return yt, yp, classes
    yt_arr, yp_arr = np.asarray(y_true), np.asarray(y_pred)
    if yt_arr.dtype.kind in "iub" and yp_arr.dtype.kind in "iub" or (
            yt_arr.dtype.kind in "U" and yp_arr.dtype.kind in "U"):
        both = np.concatenate([yt_arr, yp_arr])
    else:
        both = np.concatenate([yt_arr.astype(object), yp_arr.astype(object)])
    codes, classes = factorize(both, "labels")
    return codes[:n], codes[n:], classes


# ----------------------------------------------------------------------------- counting


def cell_index(group_codes: list[np.ndarray], level_sizes: list[int], yt: np.ndarray, yp: np.ndarray,
               n_classes: int) -> np.ndarray:
    """Each row's flat index into the (*level_sizes, C, C) tensor."""
    flat = np.zeros(yt.shape[0], dtype=np.int64)
    for codes, size in zip(group_codes, level_sizes, strict=True):
        flat *= size
        flat += codes
    flat *= n_classes
    flat += yt
    flat *= n_classes
    flat += yp
    return flat


def confusion_tensor(flat: np.ndarray, shape: tuple[int, ...], weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (int64; float64 sums of `weights` when given) of shape (*level_sizes, C, C) from `cell_index`."""
    return np.bincount(flat, weights=weights, minlength=math.prod(shape)).reshape(shape)


def one_vs_rest(tensor: np.ndarray, k: int) -> np.ndarray:
    """(..., C, C) counts -> (..., 4) counts [TP, FP, TN, FN] for class k against the rest."""
    tp = tensor[..., k, k]
    actual = tensor[..., k, :].sum(axis=-1)
    predicted = tensor[..., :, k].sum(axis=-1)
    total = tensor.sum(axis=(-2, -1))
    return np.stack([tp, predicted - tp, total - actual - predicted + tp, actual - tp], axis=-1)


def group_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Rates with fairlearn's convention: an empty denominator counts as 0, except in a group with no rows
    (or no weight), whose rates are all NaN (fairlearn's MetricFrame has NaN for an empty intersection)."""
    rates = rates_from_counts(counts, undefined=0.0)
    empty = counts.sum(axis=-1) == 0
    return {name: np.where(empty, np.nan, value) for name, value in rates.items()}


def undefined_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """(..., 4) counts -> for each rate of UNDEFINED_REASONS, where a non-empty group's denominator is empty
    (the rate `group_rates` counted as 0)."""
    tp, fp, tn, fn = (counts[..., i] for i in range(4))
    present = counts.sum(axis=-1) > 0
    positives, negatives = tp + fn == 0, fp + tn == 0
    return {"precision": present & (tp + fp == 0), "true_positive_rate": present & positives,
            "false_negative_rate": present & positives, "false_positive_rate": present & negatives}


def disparities_from_metrics(metrics: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-group metrics with groups on the last axis -> disparities over that axis."""
    dp_diff, dp_ratio = spread(metrics["selection_rate"])
    tpr_diff, tpr_ratio = spread(metrics["true_positive_rate"])
    fpr_diff, fpr_ratio = spread(metrics["false_positive_rate"])
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


def grouping_counts(cells: np.ndarray, axes: tuple[int, ...], n_attrs: int) -> np.ndarray:
    """cells (*lead, L_1..L_k, 4) -> (*lead, G, 4) for the grouping over attribute `axes`."""
    lead = cells.ndim - n_attrs - 1
    drop = tuple(lead + a for a in range(n_attrs) if a not in axes)
    summed = cells.sum(axis=drop) if drop else cells
    return summed.reshape(*cells.shape[:lead], -1, 4)


def statistics(cells: np.ndarray, groupings: list[tuple[int, ...]], n_attrs: int) -> dict:
    """All metrics and disparities for cells of shape (*lead, L_1..L_k, 4)."""
    lead = cells.ndim - n_attrs - 1
    overall = cells.reshape(*cells.shape[:lead], -1, 4).sum(axis=-2)
    out = {"overall": group_rates(overall), "groupings": []}
    for axes in groupings:
        per_group = group_rates(grouping_counts(cells, axes, n_attrs))
        out["groupings"].append((per_group, disparities_from_metrics(per_group)))
    return out
