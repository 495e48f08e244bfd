"""Calibration and threshold-free performance by group: `calibration_report`.

For a binary score (the model's probability of the positive class) and the true labels, per group of each
sensitive attribute and every intersection (as `report.fairness_report` groups them):

- expected calibration error (ECE) over ``n_bins`` equal-width bins of the score, ``[0, 1/B), ...,
  [(B-1)/B, 1]``: ``ECE = sum_b |sum_{i in b} w_i (s_i - y_i)| / sum_i w_i``, the weighted mean over bins of
  |mean score - observed positive rate| weighted by each bin's share (w = 1 without sample weights);
- the reliability curve: per bin its rows, weight, mean score and observed positive rate (null when empty);
- ROC AUC, equal to scikit-learn's ``roc_auc_score`` (with ``sample_weight``): the probability that a
  positive scores above a negative, ties counting one half. It is undefined (null, with the reason) in a
  group that has only one class: no pair of a positive and a negative to rank.

Intervals are percentile bootstrap intervals, the same resampling as the fairness report's weighted one:
rows are resampled uniformly with replacement (one multinomial draw of n per replicate), each drawn row then
counts with its weight; the statistics are recomputed per replicate from per-(group, bin) and per-(group,
score) sums (`np.add.reduceat` over rows sorted once). A replicate in which a statistic is undefined (a
group with no rows or one class) is skipped. Deterministic for a seed.

Takes numpy arrays or sequences; returns plain JSON (NaN written as null). Imports numpy and, from
models_core, only `errors` and the fairness package's encoding and interval helpers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError
from models_core.fairness.bootstrap import percentile_interval
from models_core.fairness.group_metrics import MISSING, factorize_groups

SCHEMA = "models_core.calibration/1"
GROUP_SEPARATOR = " × "
# Bootstrap row multiplicities are drawn in chunks of at most this many (replicate, row) cells.
_MAX_CELLS_PER_CHUNK = 4_000_000


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class _Grouping:
    """Rows sorted once by (group, bin) and by (group, score): the segments every statistic sums over."""

    def __init__(self, codes: np.ndarray, n_groups: int, bins: np.ndarray, n_bins: int, scores: np.ndarray,
                 y: np.ndarray):
        self.n_groups, self.n_bins = n_groups, n_bins
        key = codes * n_bins + bins
        self.bin_order = np.argsort(key, kind="stable")
        self.bin_starts, self.bin_keys = _segments(key[self.bin_order])
        self.bin_s, self.bin_y = scores[self.bin_order], y[self.bin_order]
        self.auc_order = np.lexsort((scores, codes))
        g_sorted, s_sorted = codes[self.auc_order], scores[self.auc_order]
        new = np.ones(len(codes), dtype=bool)
        new[1:] = (g_sorted[1:] != g_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
        self.auc_starts = np.flatnonzero(new)
        self.auc_group = g_sorted[self.auc_starts]
        self.auc_y = y[self.auc_order]

    def stats(self, mass: np.ndarray) -> dict[str, np.ndarray]:
        """`mass` (size, n): each row's weight in each replicate -> per-group arrays of shape (size, G[, B])."""
        size = mass.shape[0]
        cells = self.n_groups * self.n_bins
        m = mass[:, self.bin_order]
        sums = {}
        for name, values in (("w", m), ("s", m * self.bin_s), ("y", m * self.bin_y)):
            dense = np.zeros((size, cells))
            if self.bin_keys.size:
                dense[:, self.bin_keys] = np.add.reduceat(values, self.bin_starts, axis=1)
            sums[name] = dense.reshape(size, self.n_groups, self.n_bins)
        weight = sums["w"].sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ece = np.abs(sums["s"] - sums["y"]).sum(axis=2) / weight
            mean_predicted = sums["s"] / sums["w"]
            observed = sums["y"] / sums["w"]
        ece[weight == 0] = np.nan
        return {"weight": weight, "ece": ece, "bin_weight": sums["w"], "mean_predicted": mean_predicted,
                "observed_rate": observed, "roc_auc": self._auc(mass)}

    def _auc(self, mass: np.ndarray) -> np.ndarray:
        m = mass[:, self.auc_order]
        pos = np.add.reduceat(m * self.auc_y, self.auc_starts, axis=1) if self.auc_starts.size else m[:, :0]
        neg = np.add.reduceat(m * (1 - self.auc_y), self.auc_starts, axis=1) if self.auc_starts.size else m[:, :0]
        out = np.full((mass.shape[0], self.n_groups), np.nan)
        for g in range(self.n_groups):
            sl = self.auc_group == g
            p, q = pos[:, sl], neg[:, sl]  # score levels ascending
            p_tot, q_tot = p.sum(axis=1), q.sum(axis=1)
            above = p_tot[:, None] - np.cumsum(p, axis=1)  # positive mass strictly above each level
            with np.errstate(invalid="ignore", divide="ignore"):
                auc = (q * (above + 0.5 * p)).sum(axis=1) / (p_tot * q_tot)
            out[:, g] = np.where((p_tot > 0) & (q_tot > 0), auc, np.nan)
        return out


def _segments(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not sorted_keys.size:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    new = np.ones(sorted_keys.size, dtype=bool)
    new[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(new)
    return starts, sorted_keys[starts]


def calibration_report(y_true: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray,
                       sensitive: Mapping[str, Sequence[Any]], *, sample_weight: Sequence[float] | None = None,
                       n_bins: int = 10, n_boot: int = 1000, seed: int = 0, confidence: float = 0.95,
                       min_group_size: int = 30) -> dict:
    """ECE, reliability curve and ROC AUC per group with bootstrap intervals; see the module docstring.

    `y_true`: 1 for the positive class, 0 otherwise; `scores`: the positive class's probability in [0, 1].
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    n = y.shape[0]
    if n == 0 or s.shape != (n,):
        raise InputError("calibration_report needs one score per row and at least one row")
    if not np.isin(y, (0, 1)).all():
        raise InputError("y_true must be 0/1 (1: the positive class)")
    if not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise InputError("scores must be probabilities in [0, 1]")
    if not sensitive or n_bins < 1 or n_boot < 0 or not 0 < confidence < 1:
        raise InputError("declare a sensitive attribute; n_bins >= 1, n_boot >= 0, 0 < confidence < 1")
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n,) or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError("sample weights must be one per row, finite, >= 0 and not all 0")
    y = y.astype(np.float64)
    bins = np.minimum((s * n_bins).astype(np.intp), n_bins - 1)

    names = [str(a) for a in sensitive]
    codes, levels = [], []
    for name, values in sensitive.items():
        if len(values) != n:
            raise InputError(f"sensitive attribute {name!r} has {len(values)} rows, expected {n}")
        c, lv, _ = factorize_groups(values, f"sensitive[{name!r}]")
        codes.append(c)
        levels.append(lv)
    combos = [axes for r in range(1, len(names) + 1) for axes in itertools.combinations(range(len(names)), r)]
    plans = [(None, _Grouping(np.zeros(n, dtype=np.intp), 1, bins, n_bins, s, y))]
    for axes in combos:
        flat = np.zeros(n, dtype=np.intp)
        for a in axes:
            flat = flat * len(levels[a]) + codes[a]
        plans.append((axes, _Grouping(flat, math.prod(len(levels[a]) for a in axes), bins, n_bins, s, y)))

    points = [plan.stats(weights[None, :]) for _, plan in plans]
    intervals: list[dict | None] = [None] * len(plans)
    if n_boot:
        rng = np.random.default_rng(seed)
        chunk = max(1, min(n_boot, _MAX_CELLS_PER_CHUNK // n))
        parts: list[list[dict]] = [[] for _ in plans]
        done = 0
        while done < n_boot:
            size = min(chunk, n_boot - done)
            mass = rng.multinomial(n, np.full(n, 1.0 / n), size=size) * weights
            for i, (_, plan) in enumerate(plans):
                stats = plan.stats(mass)
                parts[i].append({k: stats[k] for k in ("ece", "roc_auc", "observed_rate")})
            done += size
        intervals = [{k: percentile_interval(np.concatenate([p[k] for p in part]), confidence)
                      for k in part[0]} for part in parts]

    rows = np.ones(n)
    counts = [plan.stats(rows[None, :]) for _, plan in plans]
    positives = [plan.stats(y[None, :]) for _, plan in plans]
    edges = [round(b / n_bins, 12) for b in range(n_bins + 1)]

    def group_entry(i: int, g: int, values: dict) -> dict:
        point, ci = points[i], intervals[i]
        count, n_pos = int(round(counts[i]["weight"][0, g])), int(round(positives[i]["weight"][0, g]))

        def stat(key: str, *index: int) -> dict:
            out = {"value": _num(point[key][(0, g, *index)]), "ci": None}
            if ci is not None:
                out["ci"] = [_num(ci[key][0][(g, *index)]), _num(ci[key][1][(g, *index)])]
            return out

        auc = stat("roc_auc")
        if count == 0:
            auc["undefined"] = "no rows"
        elif n_pos in (0, count) or auc["value"] is None:
            auc["undefined"] = ("only one class: no positive labels" if n_pos == 0 else
                                "only one class: no negative labels" if n_pos == count else "no weight")
        curve = [{"bin": b, "low": edges[b], "high": edges[b + 1], "count": int(round(counts[i]["bin_weight"][0, g, b])),
                  "weight": float(point["bin_weight"][0, g, b]),
                  "mean_predicted": _num(point["mean_predicted"][0, g, b]),
                  "observed_rate": stat("observed_rate", b)} for b in range(n_bins)]
        entry = {"values": values, "count": count, "positives": n_pos, "too_small": count < min_group_size,
                 "ece": stat("ece"), "roc_auc": auc, "reliability": curve}
        if sample_weight is not None:
            entry["weight"] = float(point["weight"][0, g])
        if MISSING in values.values():
            entry["missing"] = True
        return entry

    groupings = {}
    for i, (axes, _) in enumerate(plans[1:], start=1):
        attrs = [names[a] for a in axes]
        groups = {}
        for g, combo in enumerate(itertools.product(*(levels[a] for a in axes))):
            groups[GROUP_SEPARATOR.join(str(v) for v in combo)] = group_entry(i, g, dict(zip(attrs, combo)))
        groupings[GROUP_SEPARATOR.join(attrs)] = {"attributes": attrs, "groups": groups}
    return {"schema": SCHEMA, "n": n, "weighted": sample_weight is not None, "sensitive_attributes": names,
            "bin_edges": edges,
            "settings": {"n_bins": int(n_bins), "n_boot": int(n_boot), "seed": int(seed),
                         "confidence": float(confidence), "min_group_size": int(min_group_size),
                         "ci_method": "percentile bootstrap: rows resampled uniformly, then weighted"},
            "overall": group_entry(0, 0, {}), "groupings": groupings}
