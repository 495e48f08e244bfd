"""One call computes the memorisation audit of a causal language model:

    compute_generative_audit(bundle, canary_plan, training_texts=[...], training_subjects=[...],
                             holdout_texts=[...], config={...}, score=None, progress=None)

returns {"schema": "models_core.generative_audit/1", "perplexity": {...}, "canaries": {...},
"extraction": {...}, "prompt_swap": {...} | None, "compute": {...}}. `canary_plan` is the plan the model was
trained with (models_core.generative.canaries; None for a model trained elsewhere: the canary section then
says it is not available). `score` (the positive-label probability of a classifier) enables prompt swap.

Progress stages: perplexity (0-10 %), canaries (10-45), extraction (45-80), prompt swap (80-99).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from models_core.compute import ComputeMeter
from models_core.decoder.bundle import DecoderBundle
from models_core.generative.exposure import canary_exposure
from models_core.generative.extraction import extraction_probe
from models_core.generative.prompt_swap import prompt_swap_bias

SCHEMA = "models_core.generative_audit/1"
DEFAULTS = {"n_candidates": 2000, "seed": 0, "confidence": 0.95, "max_records": 300, "n_samples": 6,
            "n_boot": 1000, "templates": None}


def _scaled(progress: Callable[[dict], None] | None, low: float, high: float, stage: str):
    if progress is None:
        return None
    return lambda p: progress({"stage": stage, "percent": low + (high - low) * float(p.get("percent", 0)) / 100})


def compute_generative_audit(bundle: DecoderBundle, canary_plan: dict[str, Any] | None, *,
                             training_texts: Sequence[str], training_subjects: Sequence[str | None] | None,
                             holdout_texts: Sequence[str], config: dict[str, Any] | None = None,
                             score: Callable[[list[str]], np.ndarray] | None = None,
                             progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    cfg = {**DEFAULTS, **(config or {})}
    with ComputeMeter("cpu") as meter:
        if progress:
            progress({"stage": "perplexity", "percent": 1.0})
        holdout = [t for t in holdout_texts if isinstance(t, str) and t]
        perplexity = {"holdout": bundle.perplexity(holdout) if holdout else None, "n_holdout": len(holdout)}
        if canary_plan and canary_plan.get("canaries"):
            canaries = canary_exposure(bundle, canary_plan, n_candidates=int(cfg["n_candidates"]),
                                       seed=int(cfg["seed"]), confidence=float(cfg["confidence"]),
                                       progress=_scaled(progress, 10, 45, "canaries"))
            canaries["available"] = True
        else:
            canaries = {"available": False,
                        "reason": "the model was not trained in-product with canaries (imported, or trained "
                                  "without them): exposure cannot be measured"}
        extraction = extraction_probe(bundle, training_texts, training_subjects, max_records=int(cfg["max_records"]),
                                      progress=_scaled(progress, 45, 80, "extraction"))
        swap = None
        if score is not None:
            kwargs = {"templates": cfg["templates"]} if cfg.get("templates") else {}
            swap = prompt_swap_bias(bundle, score, n_samples=int(cfg["n_samples"]), n_boot=int(cfg["n_boot"]),
                                    seed=int(cfg["seed"]), progress=_scaled(progress, 80, 99, "prompt swap"), **kwargs)
    return {"schema": SCHEMA, "config": {k: v for k, v in cfg.items()}, "perplexity": perplexity,
            "canaries": canaries, "extraction": extraction, "prompt_swap": swap, "compute": meter.as_dict()}
