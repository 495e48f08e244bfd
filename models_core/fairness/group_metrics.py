"""Per-group confusion counts, rates and disparities: the arithmetic under `fairness_report`.

Rows are factorised into integer codes and counted, in one vectorised pass (`np.bincount`), into a tensor
of shape ``(L_1, ..., L_k, C, C)``: one axis per sensitive attribute (its sorted levels), then true class x
predicted class. Every grouping is a sum of that tensor over the other attribute axes, and every rate and
disparity is a closed-form function of the per-group counts [TP, FP, TN, FN] (`models_core.metrics`).

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

# ----------------------------------------------------------------------------- encoding


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


def confusion_tensor(group_codes: list[np.ndarray], level_sizes: list[int], yt: np.ndarray,
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


def one_vs_rest(tensor: np.ndarray, k: int) -> np.ndarray:
    """(..., C, C) counts -> (..., 4) counts [TP, FP, TN, FN] for class k against the rest."""
    tp = tensor[..., k, k]
    actual = tensor[..., k, :].sum(axis=-1)
    predicted = tensor[..., :, k].sum(axis=-1)
    total = tensor.sum(axis=(-2, -1))
    return np.stack([tp, predicted - tp, total - actual - predicted + tp, actual - tp], axis=-1)


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
    out = {"overall": rates_from_counts(overall), "groupings": []}
    for axes in groupings:
        per_group = rates_from_counts(grouping_counts(cells, axes, n_attrs))
        out["groupings"].append((per_group, disparities_from_metrics(per_group)))
    return out
