"""Rank-based exposure of canaries (Carlini et al., "The Secret Sharer", 2019, section 4).

exposure(s) = log2 |R| - log2 rank(s), where rank(s) is the position of the canary's log-perplexity among
the log-perplexities of every possible secret r in R (rank 1: the model finds the canary more likely than
any other secret; then exposure = log2 |R|, the most there is).

|R| (10**digits) is too large to score exhaustively, so the rank is estimated by sampling: m secrets drawn
uniformly from R, k of them scoring lower (more likely) than the canary (ties count half), give
rank ≈ 1 + (|R| - 1) · k / m. The interval comes from the Clopper-Pearson interval of k / m, carried through
the same map (exposure falls as k grows). When m ≥ |R| every secret is scored and the rank is exact.
All canaries are ranked against one shared sample; the model scores each candidate once.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

import numpy as np
from scipy.stats import beta

from models_core.decoder.bundle import DecoderBundle
from models_core.errors import InputError


def _clopper_pearson(k: float, m: int, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    k_lo, k_hi = math.floor(k), math.ceil(k)
    lo = 0.0 if k_lo <= 0 else float(beta.ppf(alpha / 2, k_lo, m - k_lo + 1))
    hi = 1.0 if k_hi >= m else float(beta.ppf(1 - alpha / 2, k_hi + 1, m - k_hi))
    return lo, hi


def _exposure(space: int, fraction: float) -> float:
    return math.log2(space) - math.log2(1.0 + (space - 1) * fraction)


def canary_exposure(bundle: DecoderBundle, plan: dict[str, Any], *, n_candidates: int = 2000, seed: int = 0,
                    confidence: float = 0.95, progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Exposure of every canary of `plan` (models_core.generative.canaries.make_canaries) with intervals."""
    fmt, canaries = plan["format"], plan["canaries"]
    if not canaries:
        raise InputError("the canary plan holds no canaries")
    digits, prefix, space = int(fmt["digits"]), str(fmt["prefix"]), int(fmt["space"])
    if n_candidates < 10:
        raise InputError("rank estimation needs at least 10 candidate secrets")
    exact = n_candidates >= space
    if exact:
        candidates = [str(i).zfill(digits) for i in range(space)]
    else:
        rng = random.Random(seed)
        candidates = ["".join(rng.choice("0123456789") for _ in range(digits)) for _ in range(n_candidates)]
    own = [c["secret"] for c in canaries]
    scored = bundle.sequence_nll([prefix + s for s in candidates + own], eos=False,
                                 progress=(lambda p: progress({"stage": "canaries", "percent": p["percent"]}))
                                 if progress else None)[0]
    cand_nll, own_nll = scored[:len(candidates)], scored[len(candidates):]
    m = len(candidates)
    results = []
    for canary, nll in zip(canaries, own_nll):
        if exact:
            others = cand_nll[np.array(candidates) != canary["secret"]]
            rank = 1 + int((others < nll).sum()) + 0.5 * int((others == nll).sum())
            point = lo = hi = math.log2(space) - math.log2(rank)
            k = float(rank - 1)
        else:
            k = float((cand_nll < nll).sum()) + 0.5 * float((cand_nll == nll).sum())
            point = _exposure(space, k / m)
            f_lo, f_hi = _clopper_pearson(k, m, confidence)
            lo, hi = _exposure(space, f_hi), _exposure(space, f_lo)
            rank = 1.0 + (space - 1) * k / m
        results.append({"id": canary["id"], "repeats": int(canary["repeats"]), "log_perplexity": float(nll),
                        "rank_estimate": float(rank), "candidates_more_likely": k, "exposure": float(point),
                        "exposure_interval": [float(lo), float(hi)]})
    by_repeats: dict[str, dict[str, Any]] = {}
    for count in sorted({r["repeats"] for r in results}):
        rows = [r for r in results if r["repeats"] == count]
        by_repeats[str(count)] = {"n": len(rows), "mean_exposure": float(np.mean([r["exposure"] for r in rows])),
                                  "max_exposure": float(max(r["exposure"] for r in rows)),
                                  "max_exposure_lower": float(max(r["exposure_interval"][0] for r in rows))}
    inserted = [r for r in results if r["repeats"] > 0]
    return {"method": "exact rank" if exact else "sampled rank, Clopper-Pearson interval",
            "space": space, "max_exposure_possible": math.log2(space), "n_candidates": m,
            "confidence": confidence, "seed": seed, "format": {"prefix": prefix, "digits": digits},
            "canaries": results, "by_repeats": by_repeats,
            "max_exposure": float(max((r["exposure"] for r in inserted), default=0.0)),
            "control_mean_exposure": by_repeats.get("0", {}).get("mean_exposure")}
