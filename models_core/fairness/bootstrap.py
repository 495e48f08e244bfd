"""Bootstrap confidence intervals for the group metrics, by resampling counts instead of rows.

Resampling n rows with replacement is the same as one multinomial draw of n over the finest cells
(intersection group x true class x predicted class) with the observed cell shares as probabilities, so a
replicate costs nothing per row: ``rng.multinomial(n, p, size=n_boot)``. Intervals are percentile
intervals (numpy's ``linear`` method) over the replicates where the statistic is defined.

With sample weights (`bootstrap_weighted`) the bootstrap still resamples ROWS uniformly with replacement,
n of them, and then weights each drawn row by its own weight (the replicate's weighted counts are the sums of
the drawn rows' weights per cell): the sampling design is the rows the audit saw, the weights are part of
each row's contribution. In count space this is one multinomial draw of n over the distinct (cell, weight)
pairs with their row shares as probabilities, followed by a sum of draws x weight per cell; exact, and as
cheap as the unweighted draw when weights take few values per cell (reweighing gives one weight per group x
label). With continuous weights every row is its own pair and a replicate costs O(n), like a row bootstrap.
Multinomial draws proportional to the weights were not used: they reflect n rows of equal weight and so
understate the variance that unequal weights add.

Takes the count tensor of `group_metrics.confusion_tensor` (or the rows' cell indices and weights); returns
replicate arrays and intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models_core.fairness.group_metrics import one_vs_rest, statistics

# Bootstrap replicates are drawn in chunks so that one chunk holds at most this many cell counts.
_MAX_CELLS_PER_CHUNK = 4_000_000

Progress = Callable[[dict], None] | None


def report_progress(progress: Progress, percent: float, **extra: Any) -> None:
    if progress is not None:
        progress({"stage": "fairness", "percent": round(float(percent), 2), **extra})


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
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


def bootstrap(tensor: np.ndarray, class_indices: list[int], groupings: list[tuple[int, ...]],
              n_attrs: int, n_boot: int, seed: int, progress: Progress) -> list[dict]:
    """Replicate statistics per reported class: lists of arrays with replicates on axis 0."""
    n = int(tensor.sum())
    shape = tensor.shape
    p = tensor.ravel() / n

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.multinomial(n, p, size=size).reshape(size, *shape)

    chunk = max(1, min(n_boot, _MAX_CELLS_PER_CHUNK // max(p.size, 1)))
    return _replicates(draw, chunk, class_indices, groupings, n_attrs, n_boot, seed, progress)


def bootstrap_weighted(flat: np.ndarray, weights: np.ndarray, shape: tuple[int, ...], class_indices: list[int],
                       groupings: list[tuple[int, ...]], n_attrs: int, n_boot: int, seed: int,
                       progress: Progress) -> list[dict]:
    """As `bootstrap`, for weighted rows: `flat` is each row's cell index (group_metrics.cell_index), `weights`
    its weight; rows are resampled uniformly, then weighted (module docstring)."""
    n = flat.shape[0]
    order = np.lexsort((weights, flat))
    cells, w = flat[order], weights[order]
    new_pair = np.ones(n, dtype=bool)
    new_pair[1:] = (cells[1:] != cells[:-1]) | (w[1:] != w[:-1])
    starts = np.flatnonzero(new_pair)
    pair_cell, pair_weight = cells[starts], w[starts]
    p = np.diff(np.append(starts, n)) / n
    new_cell = np.ones(starts.size, dtype=bool)
    new_cell[1:] = pair_cell[1:] != pair_cell[:-1]
    cell_starts = np.flatnonzero(new_cell)
    present = pair_cell[cell_starts]
    n_cells = int(np.prod(shape))

    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        drawn = rng.multinomial(n, p, size=size) * pair_weight  # (size, pairs): drawn rows' weight
        out = np.zeros((size, n_cells))
        out[:, present] = np.add.reduceat(drawn, cell_starts, axis=1)
        return out.reshape(size, *shape)

    chunk = max(1, min(n_boot, _MAX_CELLS_PER_CHUNK // (p.size + n_cells)))
    return _replicates(draw, chunk, class_indices, groupings, n_attrs, n_boot, seed, progress)


def _replicates(draw: Callable[[np.random.Generator, int], np.ndarray], chunk: int, class_indices: list[int],
                groupings: list[tuple[int, ...]], n_attrs: int, n_boot: int, seed: int,
                progress: Progress) -> list[dict]:
    rng = np.random.default_rng(seed)
    parts: list[list[dict]] = []
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        draws = draw(rng, size)
        parts.append([statistics(one_vs_rest(draws, k), groupings, n_attrs) for k in class_indices])
        done += size
        report_progress(progress, 10.0 + 85.0 * done / n_boot, replicates=done)
    return [_concat([part[i] for part in parts]) for i in range(len(class_indices))]


def _concat(stats: list[dict]) -> dict:
    """Concatenate replicate chunks of `statistics` output along axis 0."""
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
