"""Shapley values of the token-masking game: the exact reference and a fast batched Owen (Partition) path.

`exact_shapley` enumerates all 2**n coalitions (n <= 14) and is the reference every test compares with.
Kernel SHAP lives in `kernel` (edge design, paired sampling). `owen_values` is shap's Partition algorithm (`PartitionExplainer.owen`, `fixed_context=None`) on the same
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
                  prefix: str = "", widths: Sequence[int] | None = None) -> ShapleyValues:
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
    texts = [mask_segments(segments, row, mask_token, prefix, widths) for row in coalitions]
    table = predictor(texts)[:, target]
    return ShapleyValues(values=shapley_from_table(table), base_value=float(table[0]), value=float(table[-1]),
                         evaluations=len(texts), exact=True)


def exact_shapley_tokens(predict_proba: PredictProba, tokenized: TokenizedText, target: int,
                         mask_token: str) -> ShapleyValues:
    """Exact Shapley values over the features of `tokenized` (tokens, or words of a `word_view`)."""
    return exact_shapley(predict_proba, tokenized.segments, target, mask_token, tokenized.prefix, tokenized.widths)


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


def collapse_tree(tree: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray | None:
    """The clustering over words from one over tokens: each word's tokens become one leaf.

    shap's Text clustering joins the pieces of a word first (a never-split group), so every word is a
    subtree and the word hierarchy is the token hierarchy with those subtrees folded. Returns None when
    some word is not a subtree (then the caller builds another hierarchy)."""
    n_tokens = sum(len(g) for g in groups)
    word_of = {t: w for w, members in enumerate(groups) for t in members}
    n_words = len(groups)
    rows: list[list[float]] = []

    def words(node: int) -> set[int]:
        if node < n_tokens:
            return {word_of[node]}
        left, right = (int(c) for c in tree[node - n_tokens, :2])
        return words(left) | words(right)

    def rebuild(node: int) -> int:
        covered = words(node)
        if len(covered) == 1:
            (word,) = covered
            leaves = leaf_count(node)
            if leaves != len(groups[word]):
                raise ValueError("a word's tokens are split across the hierarchy")
            return word
        left, right = (int(c) for c in tree[node - n_tokens, :2])
        if words(left) & words(right):
            raise ValueError("a word's tokens are split across the hierarchy")
        a, b = rebuild(left), rebuild(right)
        size = (1 if a < n_words else rows[a - n_words][3]) + (1 if b < n_words else rows[b - n_words][3])
        rows.append([a, b, float(tree[node - n_tokens, 2]), size])
        return n_words + len(rows) - 1

    def leaf_count(node: int) -> int:
        return 1 if node < n_tokens else int(tree[node - n_tokens, 3])

    if n_words == 1:
        return np.zeros((0, 4))
    try:
        rebuild(2 * n_tokens - 2)
    except ValueError:
        return None
    return np.array(rows, dtype=float).reshape(-1, 4)


def balanced_tree(n: int) -> np.ndarray:
    """A (n-1, 4) clustering that halves the features in text order (for hierarchies that cannot be folded)."""
    rows: list[list[float]] = []

    def build(lo: int, hi: int) -> int:
        if hi - lo == 1:
            return lo
        mid = (lo + hi) // 2
        a, b = build(lo, mid), build(mid, hi)
        rows.append([a, b, float(hi - lo), float(hi - lo)])
        return n + len(rows) - 1

    if n > 1:
        build(0, n)
    return np.array(rows, dtype=float).reshape(-1, 4)


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
