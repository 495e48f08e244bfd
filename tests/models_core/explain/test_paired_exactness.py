"""Paired Kernel SHAP is exact on any game with at most pairwise interactions (bench/README, eighth measurement:
why a pairwise surrogate cannot lower SHAP's budget). A hostile check of the pairing itself: drop the complements
and the same design is badly off on the same game."""

from __future__ import annotations

import re

import numpy as np

from models_core.explain.kernel import _kernel_solve, paired_kernel_values
from models_core.explain.text import CachedPredictor, TokenizedText

N = 20
RNG = np.random.default_rng(11)
LINEAR = RNG.normal(size=N)
PAIRS = np.triu(RNG.normal(size=(N, N)), 1)
EXACT = LINEAR + (PAIRS.sum(axis=1) + PAIRS.sum(axis=0)) / 2  # each interaction shared by its two players


def _words() -> TokenizedText:
    words = [f"w{i}" for i in range(N)]
    text = " ".join(words)
    offsets, start = [], 0
    for w in words:
        offsets.append((start, start + len(w)))
        start += len(w) + 1
    return TokenizedText(text=text, tokens=tuple(words), offsets=tuple(offsets),
                         segments=tuple(w + " " for w in words[:-1]) + (words[-1],), prefix="", truncated=False,
                         original_length=len(text))


def _quadratic_game(texts: list[str]) -> np.ndarray:
    """v(z) = linear . z + z' PAIRS z, where z_i says whether word i is kept (not masked) in the string."""
    kept = [set(re.findall(r"w\d+", t)) for t in texts]
    z = np.array([[float(f"w{i}" in words) for i in range(N)] for words in kept])
    value = z @ LINEAR + np.einsum("ki,ij,kj->k", z, PAIRS, z)
    return np.column_stack([-value, value])


def test_paired_kernel_shap_recovers_a_pairwise_game_exactly():
    tokenized = _words()
    predictor = CachedPredictor(_quadratic_game)
    [result] = paired_kernel_values(predictor, [(tokenized, 1)], "[MASK]", max_evals=200, seed=3)
    np.testing.assert_allclose(result.values, EXACT, atol=1e-9)
    assert result.evaluations < 200  # its bootstrap error is zero: it stops after the first round of pairs


def test_without_the_complements_the_same_coalitions_miss_it():
    tokenized = _words()
    predictor = CachedPredictor(_quadratic_game)
    [result] = paired_kernel_values(predictor, [(tokenized, 1)], "[MASK]", max_evals=200, seed=3)
    # the strings it scored, as coalitions: full, empty, the 2N edges, then (coalition, complement) pairs
    rng = np.random.default_rng(5)
    edges = [np.eye(N, dtype=bool)[i] for i in range(N)]
    edges = [m for e in edges for m in (e, ~e)]
    singles = []
    while len(singles) < (result.evaluations - 2 - 2 * N) // 2:
        m = np.zeros(N, bool)
        m[rng.choice(N, int(rng.integers(2, N - 1)), replace=False)] = True
        singles.append(m)
    masks = np.array([np.ones(N, bool), np.zeros(N, bool)] + edges + singles)
    y = _quadratic_game([" ".join(f"w{i}" for i in np.flatnonzero(row)) for row in masks])[:, 1]
    weights = np.full(len(masks) - 2, 1.0 / (len(masks) - 2))
    unpaired = _kernel_solve(masks[2:], weights, y[2:], float(y[1]), float(y[0]))
    assert np.abs(unpaired - EXACT).max() > 0.1
