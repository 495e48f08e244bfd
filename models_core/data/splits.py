"""Train / validation / holdout splits of a labelled dataset: by subject, stratified, seeded.

`split_by_subject(subjects, labels, strata, shares, seed)` assigns every row to one split so that
- all rows of one subject land in the same split (a person is never on both sides of an audit);
- each stratum (label × the sensitive groups, as given per row) is spread over the splits in the given
  shares, so every split keeps the label rate and the group mix of the whole;
- the same inputs and seed give the same assignment (a numpy Generator seeded with `seed`).

A subject is placed in the stratum of its first row (its rows usually share label and groups; where they do
not, the first one decides). Within a stratum the subjects are shuffled, then dealt one at a time to the
split furthest below its target row count (targets: the stratum's rows × share), so the shares hold to a
subject's worth of rows per stratum. Plain lists in, a list of split names out; no torch, no pandas.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import numpy as np

from models_core.errors import InputError

SPLIT_NAMES = ("train", "validation", "holdout")


def check_shares(shares: dict[str, float]) -> dict[str, float]:
    """Shares of the known split names, each in [0, 1), at least two positive, summing to 1 (±1e-6)."""
    if not isinstance(shares, dict) or not shares:
        raise InputError("give the share of each split, e.g. {'train': 0.7, 'validation': 0.15, 'holdout': 0.15}")
    unknown = set(shares) - set(SPLIT_NAMES)
    if unknown:
        raise InputError(f"unknown split name(s): {', '.join(sorted(unknown))}; use {', '.join(SPLIT_NAMES)}")
    out = {}
    for name in SPLIT_NAMES:
        if name not in shares:
            continue
        value = shares[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value < 1:
            raise InputError(f"the share of {name} must be a number from 0 to below 1")
        if value > 0:
            out[name] = float(value)
    if len(out) < 2:
        raise InputError("a split needs at least two parts with a positive share")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise InputError(f"the shares add up to {sum(out.values()):.4f}; they must add up to 1")
    return out


def split_by_subject(subjects: Sequence[str], labels: Sequence[str], strata: Sequence[str],
                     shares: dict[str, float], seed: int) -> list[str]:
    """The split name of each row (see the module docstring)."""
    shares = check_shares(shares)
    n = len(subjects)
    if not (len(labels) == len(strata) == n):
        raise InputError("subjects, labels and strata must have one value per row")
    if n == 0:
        raise InputError("there are no rows to split")
    rows_of: dict[str, list[int]] = defaultdict(list)
    stratum_of: dict[str, str] = {}
    for i, subject in enumerate(subjects):
        rows_of[subject].append(i)
        stratum_of.setdefault(subject, f"{labels[i]}\x1f{strata[i]}")
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for subject in rows_of:  # first-seen order: deterministic before the seeded shuffle
        by_stratum[stratum_of[subject]].append(subject)
    rng = np.random.default_rng(seed)
    names = list(shares)
    out = [""] * n
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        order = rng.permutation(len(members))
        total = sum(len(rows_of[s]) for s in members)
        target = np.array([total * shares[name] for name in names])
        filled = np.zeros(len(names))
        for index in order:
            subject = members[index]
            size = len(rows_of[subject])
            # the split furthest below its target in rows (ties: the order of SPLIT_NAMES); so no part ends
            # more than one subject's rows away from its target
            pick = int(np.argmax(target - filled))
            filled[pick] += size
            for row in rows_of[subject]:
                out[row] = names[pick]
    return out


def split_summary(assignment: Sequence[str], labels: Sequence[str], strata: Sequence[str]) -> dict:
    """Rows per split, and per split the count of each label and stratum (for the audit-log entry)."""
    summary: dict[str, dict] = {}
    for split, label, stratum in zip(assignment, labels, strata):
        part = summary.setdefault(split, {"rows": 0, "labels": defaultdict(int), "strata": defaultdict(int)})
        part["rows"] += 1
        part["labels"][label] += 1
        part["strata"][stratum] += 1
    return {name: {"rows": part["rows"], "labels": dict(sorted(part["labels"].items())),
                   "strata": dict(sorted(part["strata"].items()))}
            for name, part in sorted(summary.items(), key=lambda kv: SPLIT_NAMES.index(kv[0]))}
