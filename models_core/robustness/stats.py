"""Bootstrap intervals of the robustness figures: rates and means over perturbed variants, resampling TEXTS.

A suite may rewrite one text into several variants (the name swap: one per other origin), and the variants
of one text are not independent, so the bootstrap resamples texts with replacement (a cluster bootstrap)
and each figure is a ratio: the sum over the drawn texts' variants of the value (a flip, |Δp|, Δp, a
failure) over the number of their variants. A replicate draws n text positions uniformly with replacement
and sums each column of the per-text sums over them.
Intervals are models_core.fairness.bootstrap's percentile intervals (numpy's ``linear`` method, replicates
with no variant skipped), the same convention as the fairness report.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models_core.fairness.bootstrap import percentile_interval

_MAX_CELLS_PER_CHUNK = 4_000_000


def interval_figures(sums: Mapping[str, np.ndarray], sizes: np.ndarray, *, n_boot: int, seed: int,
                     confidence: float = 0.95) -> dict[str, dict]:
    """``{name: {"value", "ci": [low, high]}}`` for each per-text sum in `sums` divided by the variants per
    text (`sizes`), over the texts with at least one variant; value and interval None when there is none."""
    keep = np.asarray(sizes) > 0
    sizes = np.asarray(sizes, dtype=np.float64)[keep]
    arrays = {name: np.asarray(values, dtype=np.float64)[keep] for name, values in sums.items()}
    n = int(sizes.size)
    if n == 0:
        return {name: {"value": None, "ci": [None, None]} for name in sums}
    total = sizes.sum()
    values = {name: float(a.sum() / total) for name, a in arrays.items()}
    if n_boot <= 0:
        return {name: {"value": values[name], "ci": [None, None]} for name in sums}
    rng = np.random.default_rng(seed)
    stacked = np.column_stack([arrays[name] for name in sums] + [sizes])  # (n, k + 1)
    chunk = max(1, min(n_boot, _MAX_CELLS_PER_CHUNK // n))
    parts, done = [], 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        drawn_rows = rng.integers(0, n, size=(size, n))  # (size, n) text positions
        drawn = np.stack([np.take(stacked[:, j], drawn_rows).sum(axis=1) for j in range(stacked.shape[1])],
                         axis=1)  # (size, k + 1)
        parts.append(drawn[:, :-1] / drawn[:, -1:])  # every text has a variant: the denominator is > 0
        done += size
    replicates = np.vstack(parts)
    low, high = percentile_interval(replicates, confidence)
    return {name: {"value": values[name], "ci": [float(low[i]), float(high[i])]} for i, name in enumerate(sums)}


def group_seed(seed: int, *parts: str) -> int:
    """A seed for one (suite, attribute, group) derived from the audit's seed and the names, stable across
    runs and processes (no Python hash randomisation)."""
    digest = 0
    for part in parts:
        for ch in part.encode():
            digest = (digest * 131 + ch) % (2 ** 31 - 1)
    return (int(seed) * 1_000_003 + digest) % (2 ** 32)
