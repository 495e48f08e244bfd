from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from models_core.data.drift import population_stability_index, psi_from_counts


def test_psi_from_counts_equals_psi_on_the_rows():
    rng = np.random.default_rng(3)
    a = rng.choice(["x", "y", "z"], size=5000, p=[0.5, 0.3, 0.2]).tolist()
    b = rng.choice(["x", "y", "w"], size=2000, p=[0.2, 0.5, 0.3]).tolist()  # z vanished, w is new
    rows, shares = population_stability_index(a, b)
    counted, counted_shares = psi_from_counts(Counter(a), Counter(b))
    assert counted == pytest.approx(rows, abs=1e-12) and counted_shares == shares
    # By hand: sum (q - p) ln(q / p) with shares floored at 1e-4.
    p = {k: v / 5000 for k, v in Counter(a).items()}
    q = {k: v / 2000 for k, v in Counter(b).items()}
    manual = sum((max(q.get(c, 0), 1e-4) - max(p.get(c, 0), 1e-4)) * np.log(max(q.get(c, 0), 1e-4) / max(p.get(c, 0), 1e-4))
                 for c in set(p) | set(q))
    assert counted == pytest.approx(manual, abs=1e-12)
