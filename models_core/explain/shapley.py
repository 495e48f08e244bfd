"""Shapley values of the token-masking game: the exact reference and a fast batched Owen (Partition) path.

`exact_shapley` enumerates all 2**n coalitions (n <= 14) and is the reference every test compares with.
`kernel_values` is Kernel SHAP (Shapley-kernel weighted regression with the efficiency constraint
imposed exactly) whose coalitions are, by default, *all* those of sizes 1, 2, n-2 and n-1: deterministic,
and on short texts closer to the exact values than shap's Partition explainer for a similar number of
evaluations. `owen_values` is shap's Partition algorithm (`PartitionExplainer.owen`, `fixed_context=None`) on the same
token hierarchy as `shap.maskers.Text.clustering`, rewritten so that the masked strings of *all* texts
in a round are scored together in one deduplicated `predict_proba` call instead of ~5 at a time per
text. With an unbinding budget it returns exactly shap's values; its attributions always sum to
f(x) - f(all tokens masked).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from models_core.errors import InputError
from models_core.explain.text import (CachedPredictor, PredictProba, TokenizedText, mask_segments,
                                      masked_texts)

EXACT_MAX_FEATURES = 14


@dataclass(frozen=True)
class ShapleyValues:
    values: np.ndarray      # (n,) attribution of each feature to the target probability
    base_value: float       # f(every feature masked)
    value: float            # f(every feature kept)
    evaluations: int = 0    # masked strings this text needed (before deduplication across texts)
    sampled: bool = False   # random coalitions were drawn (the values depend on the seed)
    exact: bool = False     # every coalition was enumerated


def _as_cached(predict_proba: PredictProba) -> CachedPredictor:
    return predict_proba if isinstance(predict_proba, CachedPredictor) else CachedPredictor(predict_proba)


def all_coalitions(n: int) -> np.ndarray:
    """(2**n, n) boolean matrix; row r keeps feature i iff bit i of r is set."""
    rows = np.arange(2 ** n)[:, None]
    return ((rows >> np.arange(n)[None, :]) & 1).astype(bool)


def shapley_from_table(table: np.ndarray) -> np.ndarray:
    """Exact Shapley values from the values of all 2**n coalitions, indexed as in `all_coalitions`."""
    n = int(round(math.log2(len(table))))
    if 2 ** n != len(table):
        raise InputError("coalition table length must be a power of two")
    rows = np.arange(2 ** n)
    sizes = np.array([bin(r).count("1") for r in rows])
    weights = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
                        for s in range(n + 1)])
    values = np.zeros(n)
    for i in range(n):
        without = rows[(rows >> i) & 1 == 0]
        values[i] = np.sum(weights[sizes[without]] * (table[without | (1 << i)] - table[without]))
    return values


def exact_shapley(predict_proba: PredictProba, segments: Sequence[str], target: int, mask_token: str,
                  prefix: str = "") -> ShapleyValues:
    """Exact Shapley values of `target`'s probability over `segments` (at most 14), by enumeration.

    The game: coalition S is scored as `predict_proba([mask_segments(segments, S, mask_token)])`, the same
    masking `owen_values` and shap's `Text` masker use. Pass `mask_token=""` to delete masked segments.
    All 2**n strings go through one deduplicated batched call.
    """
    segments = list(segments)
    n = len(segments)
    if n == 0:
        raise InputError("exact_shapley needs at least one segment")
    if n > EXACT_MAX_FEATURES:
        raise InputError(f"exact Shapley enumerates 2**n coalitions; n={n} exceeds {EXACT_MAX_FEATURES}")
    predictor = _as_cached(predict_proba)
    coalitions = all_coalitions(n)
    texts = [mask_segments(segments, row, mask_token, prefix) for row in coalitions]
    table = predictor(texts)[:, target]
    return ShapleyValues(values=shapley_from_table(table), base_value=float(table[0]), value=float(table[-1]),
                         evaluations=len(texts), exact=True)


def exact_shapley_tokens(predict_proba: PredictProba, tokenized: TokenizedText, target: int,
                         mask_token: str) -> ShapleyValues:
    return exact_shapley(predict_proba, tokenized.segments, target, mask_token, tokenized.prefix)


# ---- token hierarchy ------------------------------------------------------------------------------

def token_tree(clustering: np.ndarray, special_leaves: Sequence[int]) -> np.ndarray:
    """Drop the `special_leaves` of a scipy-style clustering over all tokens (specials included).

    A special token never changes a masked string, so removing its leaf (and splicing out the node it
    hangs from) leaves every other Owen value unchanged while saving the evaluations spent on it.
    Returns a (n-1, 4) clustering over the n remaining leaves, renumbered in order; column 3 is size.
    """
    m_full = clustering.shape[0] + 1
    special = set(int(i) for i in special_leaves)
    leaf_map = {}
    for leaf in range(m_full):
        if leaf not in special:
            leaf_map[leaf] = len(leaf_map)
    n = len(leaf_map)
    rows: list[list[float]] = []

    def size(node: int) -> int:
        return 1 if node < n else int(rows[node - n][3])

    def rebuild(node: int) -> int | None:
        if node < m_full:
            return leaf_map.get(node)
        left = rebuild(int(clustering[node - m_full, 0]))
        right = rebuild(int(clustering[node - m_full, 1]))
        if left is None or right is None:
            return right if left is None else left
        rows.append([left, right, float(clustering[node - m_full, 2]), size(left) + size(right)])
        return n + len(rows) - 1

    rebuild(2 * m_full - 2)
    tree = np.array(rows, dtype=float).reshape(-1, 4)
    if n > 1 and tree.shape[0] != n - 1:
        raise InputError("token clustering is not a binary tree")
    return tree


def leaf_masks(tree: np.ndarray, n: int) -> np.ndarray:
    """(2n-1, n) boolean: which leaves each node covers."""
    masks = np.zeros((2 * n - 1, n), dtype=bool)
    masks[np.arange(n), np.arange(n)] = True
    for row, (left, right) in enumerate(tree[:, :2].astype(int)):
        masks[n + row] = masks[left] | masks[right]
    return masks


def lower_credit(dvalues: np.ndarray, tree: np.ndarray, n: int) -> np.ndarray:
    """Push each internal node's leftover credit down to its leaves in proportion to their count."""
    values = dvalues.copy()
    for node in range(2 * n - 2, n - 1, -1):
        left, right, _, group = tree[node - n]
        left, right = int(left), int(right)
        lsize = 1 if left < n else tree[left - n, 3]
        rsize = 1 if right < n else tree[right - n, 3]
        values[left] += values[node] * lsize / group
        values[right] += values[node] * rsize / group
    return values[:n]


# ---- batched Owen values ---------------------------------------------------------------------------

@dataclass
class _OwenText:
    tokenized: TokenizedText
    tree: np.ndarray
    target: int
    budget: int
    n: int = 0
    masks: np.ndarray = field(default=None)
    dvalues: np.ndarray = field(default=None)
    queue: list = field(default_factory=list)
    planned: int = 0
    f00: float = 0.0
    f11: float = 0.0
    counter: itertools.count = field(default_factory=itertools.count)

    def push(self, m00: np.ndarray, f00: float, f11: float, node: int, weight: float) -> None:
        heapq.heappush(self.queue, (-abs(f11 - f00) * weight, next(self.counter), m00, f00, f11, node, weight))


def owen_values(predictor: CachedPredictor, items: Sequence[tuple[TokenizedText, np.ndarray, int]],
                mask_token: str, max_evals: int = 500, round_share: float = 0.5,
                min_round: int = 32) -> list[ShapleyValues]:
    """Owen values of the target probability for many texts at once.

    items: (tokenized text, `token_tree` clustering over its tokens, target class) per text.
    max_evals: per-text budget of masked strings, counted as in shap (f(x) and f(masked) included).
    Each round pops, per text, the most promising nodes (largest |f11 - f00| * weight, shap's priority)
    using at most `round_share` of the budget left (but up to `min_round` masks), and scores every new
    mask of every text in one call. shap re-prioritises after every 5 nodes; larger rounds mean far
    fewer model calls for the same budget and, when the budget does not bind, the same values.
    """
    states = []
    for tokenized, tree, target in items:
        n = len(tokenized)
        state = _OwenText(tokenized=tokenized, tree=tree, target=int(target), budget=max(0, max_evals - 2), n=n)
        state.masks = leaf_masks(tree, n)
        state.dvalues = np.zeros(2 * n - 1)
        states.append(state)
    ends = []
    for state in states:
        ends.append(masked_texts(state.tokenized, np.array([np.zeros(state.n, bool), np.ones(state.n, bool)]),
                                 mask_token))
    ends_p = predictor([t for pair in ends for t in pair])
    for k, state in enumerate(states):
        state.f00 = float(ends_p[2 * k, state.target])
        state.f11 = float(ends_p[2 * k + 1, state.target])
        state.push(np.zeros(state.n, bool), state.f00, state.f11, 2 * state.n - 2, 1.0)

    while True:
        work = []  # (state, m00, m10, m01, f00, f11, node, left, right, weight)
        for state in states:
            limit = max(min_round, int((state.budget - state.planned) * round_share))
            used = 0
            while state.queue and used + 2 <= limit and state.planned + 2 <= state.budget:
                _, _, m00, f00, f11, node, weight = heapq.heappop(state.queue)
                if node < state.n:
                    state.dvalues[node] += (f11 - f00) * weight
                    continue
                left, right = (int(c) for c in state.tree[node - state.n, :2])
                work.append((state, m00, m00 | state.masks[left], m00 | state.masks[right], f00, f11, node,
                             left, right, weight))
                used += 2
                state.planned += 2
        if not work:
            break
        texts = []
        for state, _, m10, m01, *_ in work:
            texts.extend(masked_texts(state.tokenized, np.array([m10, m01]), mask_token))
        probs = predictor(texts)
        for k, (state, m00, m10, m01, f00, f11, node, left, right, weight) in enumerate(work):
            f10 = float(probs[2 * k, state.target])
            f01 = float(probs[2 * k + 1, state.target])
            half = weight / 2
            state.push(m00, f00, f10, left, half)
            state.push(m00, f00, f01, right, half)
            state.push(m01, f01, f11, left, half)
            state.push(m10, f10, f11, right, half)

    results = []
    for state in states:
        # budget spent: whatever is still queued stays on its node and is shared out by size
        for _, _, _, f00, f11, node, weight in state.queue:
            state.dvalues[node] += (f11 - f00) * weight
        state.queue.clear()
        values = lower_credit(state.dvalues, state.tree, state.n)
        results.append(ShapleyValues(values=values, base_value=state.f00, value=state.f11,
                                     evaluations=state.planned + 2))
    return results


# ---- batched Kernel SHAP ---------------------------------------------------------------------------

def edge_budget(n: int, size_pairs: int = 2) -> int:
    """Evaluations that enumerate every coalition of sizes 1..k and n-k..n-1 (k = size_pairs), plus
    the empty and full ones; 2**n when that is all of them."""
    total = 2 + sum(math.comb(n, s) * (1 if s == n - s else 2)
                    for s in range(1, min(size_pairs, n // 2) + 1))
    return int(min(2 ** n, total))


def _kernel_design(n: int, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """Coalitions (excluding empty and full) and their Shapley-kernel regression weights.

    Sizes are enumerated completely in pairs (s, n - s) from the edges inwards (they carry most kernel
    weight) while the budget allows; the rest of the budget is spent on complementary pairs of random
    coalitions whose sizes are drawn in proportion to their kernel weight. Returns (masks, weights, sampled).
    """
    sizes = np.arange(1, n)
    size_weight = (n - 1) / (sizes * (n - sizes))
    size_weight = size_weight / size_weight.sum()
    remaining = budget - 2
    masks: list[np.ndarray] = []
    weights: list[float] = []
    lo, hi = 1, n - 1
    enumerated = set()
    while lo <= hi:
        count = math.comb(n, lo) * (1 if lo == hi else 2)
        if count > remaining:
            break
        for size in {lo, hi}:
            for members in itertools.combinations(range(n), size):
                mask = np.zeros(n, dtype=bool)
                mask[list(members)] = True
                masks.append(mask)
                weights.append(size_weight[size - 1] / math.comb(n, size))
            enumerated.add(size)
        remaining -= count
        lo, hi = lo + 1, hi - 1
    rest = [s for s in range(1, n) if s not in enumerated]
    pairs = remaining // 2
    sampled = bool(rest) and pairs > 0
    if sampled:
        p = np.array([size_weight[s - 1] for s in rest])
        total = float(p.sum())
        seen: set[bytes] = set()
        drawn: list[np.ndarray] = []
        tries = 0
        while len(drawn) < pairs and tries < 20 * pairs:
            tries += 1
            size = rest[int(rng.choice(len(rest), p=p / total))]
            mask = np.zeros(n, dtype=bool)
            mask[rng.choice(n, size, replace=False)] = True
            key = mask.tobytes()
            if key in seen:
                continue
            seen.add(key)
            seen.add((~mask).tobytes())
            drawn.append(mask)
        for mask in drawn:
            for m in (mask, ~mask):
                masks.append(m)
                weights.append(total / (2 * len(drawn)))
    return np.array(masks, dtype=bool).reshape(-1, n), np.array(weights), sampled


def _kernel_solve(masks: np.ndarray, weights: np.ndarray, y: np.ndarray, v0: float, v1: float) -> np.ndarray:
    """Weighted least squares for phi with sum(phi) = v1 - v0 imposed exactly (last phi eliminated)."""
    total = v1 - v0
    z = masks.astype(float)
    design = z[:, :-1] - z[:, [-1]]
    rhs = (y - v0) - z[:, -1] * total
    root = np.sqrt(weights)
    head, *_ = np.linalg.lstsq(design * root[:, None], rhs * root, rcond=None)
    return np.append(head, total - head.sum())


def kernel_values(predictor: CachedPredictor, items: Sequence[tuple[TokenizedText, int]], mask_token: str,
                  budget: int | None = None, seed: int = 0) -> list[ShapleyValues]:
    """Kernel SHAP of the target probability for many texts, all masks scored in one batched call.

    A text with 2**n <= budget is enumerated completely (exact Shapley values). Otherwise the design of
    `_kernel_design` is used: deterministic while whole size pairs fit the budget, seeded sampling for
    the remainder (`ShapleyValues.sampled`). budget=None uses `edge_budget(n)`: sizes 1, 2, n-2 and n-1
    enumerated, no sampling, deterministic (on short texts this beat both sampled designs and the Owen
    hierarchy against exact values, for a similar number of evaluations).
    """
    rng = np.random.default_rng(seed)
    plans = []
    texts: list[str] = []
    for tokenized, target in items:
        n = len(tokenized)
        b = edge_budget(n) if budget is None else max(int(budget), 2)
        if 2 ** n <= b:
            masks, weights, sampled, exact = all_coalitions(n), None, False, True
        else:
            inner, weights, sampled = _kernel_design(n, b, rng)
            masks = np.vstack([np.zeros((1, n), bool), np.ones((1, n), bool), inner])
            exact = False
        plans.append((tokenized, int(target), masks, weights, sampled, exact, len(texts)))
        texts.extend(masked_texts(tokenized, masks, mask_token))
    probs = predictor(texts) if texts else np.zeros((0, 0))
    results = []
    for tokenized, target, masks, weights, sampled, exact, start in plans:
        y = probs[start:start + len(masks), target]
        if exact:
            values, v0, v1 = shapley_from_table(y), float(y[0]), float(y[-1])
        else:
            v0, v1 = float(y[0]), float(y[1])
            values = _kernel_solve(masks[2:], weights, y[2:], v0, v1)
        results.append(ShapleyValues(values=values, base_value=v0, value=v1, evaluations=len(masks),
                                     sampled=sampled, exact=exact))
    return results
