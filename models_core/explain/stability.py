"""How far one text's explanations can be trusted: method agreement, and stability.

Two different questions, kept apart:

- **Method agreement** (`agreement`): do SHAP, LIME and IG tell the same story about this prediction?
  Per pair of methods, the Spearman rank correlation of the signed attributions (not clipped: a
  negative value, the methods ranking the tokens in opposite orders, is shown as it is) and the
  overlap of their top-k tokens by |attribution|. `score` is the smallest pair correlation; its parts
  (each pair, `k`, the smallest overlap) are stored beside it. Flag `low_method_agreement`.
- **Stability** (`perturbation_stability`): does each method give the same explanation when the input
  changes in a way that does not change its meaning (a neutral word appended, the final full stop added
  or removed, the casing changed: `perturb`), and when the method's own random seed changes (LIME; this
  core's SHAP and IG are deterministic except the sampled Kernel SHAP of long texts)? Compared on the
  words the two inputs share (sub-word tokens summed into words). Flags `unstable_under_perturbation`
  and `unstable_across_seeds`.

Top-k uses k = top_k_for(n) = min(TOP_K, max(1, n // 2)) over the n features compared, so that k < n
whenever n > 1 (with k = n the overlap is always 1). For one feature the rank correlation is 1.0 when
both signs agree and -1.0 otherwise; None when either vector is constant.
"""

from __future__ import annotations

import random
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import spearmanr

TOP_K = 5
METHOD_SPEARMAN_MIN = 0.5
METHOD_TOP_K_MIN = 0.4
SEED_SPEARMAN_MIN = 0.8
SEED_TOP_K_MIN = 0.6
PERTURB_SPEARMAN_MIN = 0.6
PERTURB_TOP_K_MIN = 0.6

THRESHOLDS = {"top_k": TOP_K, "top_k_rule": "min(5, max(1, n // 2))",
              "method_spearman_min": METHOD_SPEARMAN_MIN, "method_top_k_min": METHOD_TOP_K_MIN,
              "seed_spearman_min": SEED_SPEARMAN_MIN, "seed_top_k_min": SEED_TOP_K_MIN,
              "perturbation_spearman_min": PERTURB_SPEARMAN_MIN, "perturbation_top_k_min": PERTURB_TOP_K_MIN}

# Words appended as a meaning-preserving edit: adverbs that qualify nothing in a profile or note.
NEUTRAL_WORDS = ("also", "indeed", "overall", "then")


def top_k_for(n: int) -> int:
    return min(TOP_K, max(1, n // 2))


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int | None = None) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    k = top_k_for(len(a)) if k is None else min(k, len(a))
    if k == 0:
        return 1.0
    top_a = set(np.argsort(-np.abs(a), kind="stable")[:k].tolist())
    top_b = set(np.argsort(-np.abs(b), kind="stable")[:k].tolist())
    return len(top_a & top_b) / k


def rank_agreement(a: np.ndarray, b: np.ndarray) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b):
        raise ValueError("attribution vectors must cover the same tokens")
    if len(a) == 1:
        return 1.0 if np.sign(a[0]) == np.sign(b[0]) else -1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """{"spearman", "top_k_overlap", "k"} of two attribution vectors over the same features."""
    rho = rank_agreement(a, b)
    k = top_k_for(len(a))
    return {"spearman": None if rho is None else round(rho, 6), "top_k_overlap": round(top_k_overlap(a, b, k), 6),
            "k": k}


def _low(result: dict, spearman_min: float, top_k_min: float) -> bool:
    return (result["spearman"] is not None and result["spearman"] < spearman_min) or result["top_k_overlap"] < top_k_min


def agreement(by_method: Mapping[str, np.ndarray]) -> tuple[dict, list[str]]:
    """Method agreement of one text: ({"score", "min_top_k_overlap", "k", "weakest", "methods": [pairs]}, flags)."""
    pairs = []
    for a, b in combinations(sorted(by_method), 2):
        pairs.append({"a": a, "b": b, **compare(by_method[a], by_method[b])})
    rhos = [p for p in pairs if p["spearman"] is not None]
    weakest = min(rhos, key=lambda p: p["spearman"], default=None)
    flags = ["low_method_agreement"] if any(_low(p, METHOD_SPEARMAN_MIN, METHOD_TOP_K_MIN) for p in pairs) else []
    n = len(next(iter(by_method.values()))) if by_method else 0
    return {"score": None if weakest is None else weakest["spearman"],
            "min_top_k_overlap": min((p["top_k_overlap"] for p in pairs), default=None),
            "k": top_k_for(n), "weakest": None if weakest is None else [weakest["a"], weakest["b"]],
            "methods": pairs}, flags


# ---- stability under meaning-preserving edits --------------------------------------------------------

def perturb(text: str, seed: int, cased: bool = False) -> tuple[str, str]:
    """A meaning-preserving edit of `text`, chosen with `seed`: (edited text, description).

    Edits only touch the end of the text (or the case of its letters), so every word of the original
    stays at its character position. Casing is only offered to a cased tokenizer (an uncased one would
    see the same input)."""
    rng = random.Random(seed)
    stripped = text.rstrip()
    kinds = ["append"]
    if stripped.endswith("."):
        kinds.append("drop_stop")
    elif stripped[-1:].isalnum():
        kinds.append("add_stop")
    if cased and any(c.isupper() for c in text):
        kinds.append("lower")
    kind = rng.choice(kinds)
    if kind == "drop_stop":
        return stripped[:-1], "final full stop removed"
    if kind == "add_stop":
        return stripped + ".", "full stop added at the end"
    if kind == "lower":
        return text.lower(), "lower-cased"
    word = rng.choice(NEUTRAL_WORDS)
    return f"{stripped} {word}", f"neutral word “{word}” appended"


def shared_words(words_a: Sequence[tuple[int, int, str]], words_b: Sequence[tuple[int, int, str]]) \
        -> tuple[list[int], list[int]]:
    """Indices of the words (start, end, text) found at the same place with the same letters (casing
    ignored) in both inputs."""
    at_b = {(s, e, w.lower()): i for i, (s, e, w) in enumerate(words_b)}
    ia, ib = [], []
    for i, (s, e, w) in enumerate(words_a):
        j = at_b.get((s, e, w.lower()))
        if j is not None:
            ia.append(i)
            ib.append(j)
    return ia, ib


def perturbation_stability(original: Mapping[str, np.ndarray], perturbed: Mapping[str, np.ndarray],
                           shared: tuple[list[int], list[int]], description: str,
                           reseeded: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None
                           ) -> tuple[dict, list[str]]:
    """Stability of one text. original/perturbed: word attributions per method on the two inputs;
    shared: the word indices they have in common; reseeded: per sampled method, the word attributions of
    two runs with different seeds (LIME: its two independent half neighbourhoods), compared with each other.

    Returns ({"score", "perturbation", "words_compared", "methods": {m: {...}}, "seeds": {m: {...}}}, flags);
    score: the smallest top-k overlap over every method's perturbation and seed comparison.
    """
    ia, ib = shared
    flags = []
    methods = {}
    for method in sorted(original):
        if method not in perturbed or not ia:
            continue
        result = compare(np.asarray(original[method])[ia], np.asarray(perturbed[method])[ib])
        methods[method] = result
        if _low(result, PERTURB_SPEARMAN_MIN, PERTURB_TOP_K_MIN) and "unstable_under_perturbation" not in flags:
            flags.append("unstable_under_perturbation")
    seeds = {}
    for method, (first, second) in sorted((reseeded or {}).items()):
        result = compare(np.asarray(first), np.asarray(second))
        seeds[method] = result
        if _low(result, SEED_SPEARMAN_MIN, SEED_TOP_K_MIN) and "unstable_across_seeds" not in flags:
            flags.append("unstable_across_seeds")
    overlaps = [r["top_k_overlap"] for r in (*methods.values(), *seeds.values())]
    return {"score": min(overlaps) if overlaps else None, "perturbation": description, "words_compared": len(ia),
            "methods": methods, "seeds": seeds}, flags
