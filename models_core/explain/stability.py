"""How far one text's explanations agree: between methods, and between two seeds of a sampled method.

Agreement of two attribution vectors over the same tokens:
- `spearman`: Spearman rank correlation of the signed attributions (None when either is constant);
- `top_k_overlap`: |top-k(a) ∩ top-k(b)| / k over |attribution|, k = min(TOP_K, n_tokens).
For a one-token text the rank correlation is 1.0 when both signs agree and -1.0 otherwise.

Flags (thresholds chosen so that explanations a reviewer should not read one at a time are marked):
- `low_method_agreement`: some pair of methods has spearman < METHOD_SPEARMAN_MIN (0.5) or
  top_k_overlap < METHOD_TOP_K_MIN (0.4): the methods tell different stories about this prediction.
- `unstable_across_seeds`: a sampled method has spearman < SEED_SPEARMAN_MIN (0.8) or top_k_overlap <
  SEED_TOP_K_MIN (0.6) between two seeds. LIME samples; this core's SHAP does not (its Kernel design
  enumerates its coalitions and the Owen recursion is deterministic), and IG is deterministic.
`score` is the smallest spearman among all pairs compared (method pairs and seed pairs), clipped to
[0, 1]; None when nothing could be compared.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping

import numpy as np
from scipy.stats import spearmanr

TOP_K = 5
METHOD_SPEARMAN_MIN = 0.5
METHOD_TOP_K_MIN = 0.4
SEED_SPEARMAN_MIN = 0.8
SEED_TOP_K_MIN = 0.6

THRESHOLDS = {"top_k": TOP_K, "method_spearman_min": METHOD_SPEARMAN_MIN, "method_top_k_min": METHOD_TOP_K_MIN,
              "seed_spearman_min": SEED_SPEARMAN_MIN, "seed_top_k_min": SEED_TOP_K_MIN}


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = TOP_K) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    k = min(k, len(a))
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


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    rho = rank_agreement(a, b)
    return {"spearman": None if rho is None else round(rho, 6), "top_k_overlap": round(top_k_overlap(a, b), 6)}


def stability(by_method: Mapping[str, np.ndarray], second_seed: Mapping[str, np.ndarray]) -> tuple[dict, list[str]]:
    """by_method: attributions per method; second_seed: a re-run with another seed of each sampled method.

    Returns ({"score", "methods": [{"a", "b", "spearman", "top_k_overlap"}], "seeds": {method: {...}}}, flags).
    """
    flags = []
    pairs = []
    rhos = []
    for a, b in combinations(sorted(by_method), 2):
        agree = agreement(by_method[a], by_method[b])
        pairs.append({"a": a, "b": b, **agree})
        if agree["spearman"] is not None:
            rhos.append(agree["spearman"])
        if (agree["spearman"] is not None and agree["spearman"] < METHOD_SPEARMAN_MIN) \
                or agree["top_k_overlap"] < METHOD_TOP_K_MIN:
            if "low_method_agreement" not in flags:
                flags.append("low_method_agreement")
    seeds = {}
    for method, values in sorted(second_seed.items()):
        agree = agreement(by_method[method], values)
        seeds[method] = agree
        if agree["spearman"] is not None:
            rhos.append(agree["spearman"])
        if (agree["spearman"] is not None and agree["spearman"] < SEED_SPEARMAN_MIN) \
                or agree["top_k_overlap"] < SEED_TOP_K_MIN:
            if "unstable_across_seeds" not in flags:
                flags.append("unstable_across_seeds")
    score = None if not rhos else round(float(np.clip(min(rhos), 0.0, 1.0)), 6)
    return {"score": score, "methods": pairs, "seeds": seeds}, flags
