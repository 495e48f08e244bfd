"""The two classic pre-processing mitigations: reweighing (Kamiran & Calders) and stratified resampling,
each making every (group, label) cell as frequent as if group and label were independent.

Takes a list of row dicts; returns weights (one float per row) or a resampled list of the same dicts.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from models_core.data.rows import (Progress, check_columns, check_rows, check_sensitive, group_keys, label_key,
                                   report_progress)
from models_core.errors import InputError


def _cells(rows: list[dict], label_column: str, sensitive: list[str]) -> tuple[list[str], list[str | None]]:
    groups = group_keys(rows, sensitive)
    labels = [label_key(r.get(label_column)) for r in rows]
    return groups, labels


def reweighing_weights(rows: list[dict], label_column: str, sensitive: list[str],
                       progress: Progress = None) -> list[float]:
    """Kamiran & Calders (2012) reweighing: w(g, y) = P(g) P(y) / P(g, y), g the full intersection of the
    sensitive attributes, probabilities over labelled rows. Under these weights the label is independent
    of every sensitive slice (each group's weighted label distribution equals the overall one) and group
    shares are unchanged, provided every (group, label) cell has rows: a label that a group lacks cannot
    be weighted into it (the datasheet flags such groups "no positive label" / "no negative label").
    Rows without a label get weight 1."""
    rows = check_rows(rows)
    sensitive = check_sensitive(sensitive)
    check_columns(rows, [label_column, *sensitive], "reweighing_weights")
    groups, labels = _cells(rows, label_column, sensitive)
    pairs = [(g, y) for g, y in zip(groups, labels) if y is not None]
    if not pairs:
        raise InputError("no row has a label")
    n = len(pairs)
    n_g = Counter(g for g, _ in pairs)
    n_y = Counter(y for _, y in pairs)
    n_gy = Counter(pairs)
    report_progress(progress, "reweighing", 100)
    # P(g)P(y)/P(g,y) = n_g n_y / (n n_gy), computed in that order to keep rounding minimal.
    return [1.0 if y is None else (n_g[g] * n_y[y]) / (n * n_gy[(g, y)]) for g, y in zip(groups, labels)]


def _largest_remainder(total: int, shares: dict[str, float]) -> dict[str, int]:
    raw = {k: total * s for k, s in shares.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    left = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def stratified_resample(rows: list[dict], label_column: str, sensitive: list[str], seed: int,
                        progress: Progress = None) -> list[dict]:
    """Kamiran & Calders uniform resampling: every group (full intersection of the sensitive attributes)
    keeps its size, and its rows per label are resampled to the overall label distribution (largest-
    remainder rounding). A (group, label) cell that must grow keeps all its rows and draws the extra ones
    with replacement; one that must shrink is sampled without replacement. A cell with no rows cannot
    grow, so that group keeps a gap. Rows without a label are kept once. Returns shallow copies, shuffled
    with `seed`."""
    rows = check_rows(rows)
    sensitive = check_sensitive(sensitive)
    check_columns(rows, [label_column, *sensitive], "stratified_resample")
    groups, labels = _cells(rows, label_column, sensitive)
    labelled = [y for y in labels if y is not None]
    if not labelled:
        raise InputError("no row has a label")
    overall = {y: c / len(labelled) for y, c in Counter(labelled).items()}
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    unlabelled: list[int] = []
    for i, (g, y) in enumerate(zip(groups, labels)):
        if y is None:
            unlabelled.append(i)
        else:
            cells[(g, y)].append(i)
    rng = np.random.default_rng(seed)
    chosen: list[int] = list(unlabelled)
    group_sizes = Counter(g for g, y in zip(groups, labels) if y is not None)
    for gi, g in enumerate(sorted(group_sizes)):
        targets = _largest_remainder(group_sizes[g], overall)
        for y in sorted(targets):
            members = cells.get((g, y), [])
            target = targets[y]
            if not members:
                continue
            if target <= len(members):
                picked = rng.choice(members, size=target, replace=False).tolist()
            else:
                picked = members + rng.choice(members, size=target - len(members), replace=True).tolist()
            chosen.extend(picked)
        report_progress(progress, "stratified_resample", 100 * (gi + 1) / len(group_sizes))
    order = rng.permutation(len(chosen))
    return [dict(rows[chosen[k]]) for k in order]
