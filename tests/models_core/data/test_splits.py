"""Splits by subject, stratified by label and groups, seeded (models_core.data.splits)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from models_core.data.splits import check_shares, split_by_subject
from models_core.errors import InputError

SHARES = {"train": 0.7, "validation": 0.15, "holdout": 0.15}


def _data(n_subjects=600, seed=3):
    rng = np.random.default_rng(seed)
    subjects, labels, strata = [], [], []
    for s in range(n_subjects):
        group = rng.choice(["f × young", "f × old", "m × young", "m × old"], p=[0.1, 0.2, 0.3, 0.4])
        label = "yes" if rng.random() < (0.3 if group.startswith("f") else 0.6) else "no"
        for _ in range(int(rng.integers(1, 4))):  # one to three rows per person
            subjects.append(f"S{s}")
            labels.append(label)
            strata.append(group)
    return subjects, labels, strata


def test_one_subject_never_lands_in_two_parts():
    subjects, labels, strata = _data()
    parts = split_by_subject(subjects, labels, strata, SHARES, seed=0)
    seen: dict[str, set] = {}
    for subject, part in zip(subjects, parts):
        seen.setdefault(subject, set()).add(part)
    assert all(len(p) == 1 for p in seen.values())


def test_shares_and_strata_hold_in_every_part():
    subjects, labels, strata = _data()
    parts = split_by_subject(subjects, labels, strata, SHARES, seed=0)
    n = len(parts)
    counts = Counter(parts)
    for name, share in SHARES.items():
        assert abs(counts[name] / n - share) < 0.02
    for cell in set(zip(labels, strata)):  # each (label, group) cell split in the same shares, within a few rows
        rows = [p for p, y, g in zip(parts, labels, strata) if (y, g) == cell]
        for name, share in SHARES.items():
            assert abs(rows.count(name) - share * len(rows)) <= 3, (cell, name)


def test_same_seed_same_split_other_seed_other_split():
    subjects, labels, strata = _data()
    a = split_by_subject(subjects, labels, strata, SHARES, seed=7)
    assert a == split_by_subject(subjects, labels, strata, SHARES, seed=7)
    assert a != split_by_subject(subjects, labels, strata, SHARES, seed=8)


@pytest.mark.parametrize("shares", [{"train": 0.7, "holdout": 0.2}, {"train": 1.0}, {"test": 0.5, "train": 0.5},
                                    {"train": float("nan"), "holdout": 0.5}, {"train": True, "holdout": 0.5},
                                    {"train": -0.5, "holdout": 1.5}])
def test_bad_shares_are_refused(shares):
    with pytest.raises(InputError):
        check_shares(shares)
