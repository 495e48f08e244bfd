"""Explain a sample of a classifier's predictions per token: SHAP, LIME, Integrated Gradients.

Entry point for the worker::

    from models_core.explain.global_view import select_sample
    from models_core.explain.sample import explain_sample
    rows = select_sample(groups={"gender": genders}, correct=correct, n=50, seed=0)
    report = explain_sample(bundle, [texts[i] for i in rows], [targets[i] for i in rows],
                            groups={"gender": [genders[i] for i in rows]}, seed=0)

`bundle` needs `predict_proba(texts, batch_size=...) -> (n, num_labels)` and `tokenizer`
(`tokenizers.Tokenizer`); IG also needs `bundle.model` with `embed` and `forward_from_embeddings`.
Every masked or perturbed string goes through `bundle.predict_proba`, deduplicated, in few large calls.

Features are the model's own tokens without [CLS]/[SEP]. Attributions are in units of the target
class's probability. A text longer than the model's limit (`max_length` tokens, specials included)
is explained as the model sees it: cut after the last whole word that fits, with `truncated: true`.

Output (JSON-able; floats are plain Python floats)::

    {
      "schema": "models_core.explain/1",
      "methods": ["shap", "lime", "ig"],
      "config": {"seed": 0, "max_length": 128, "mask_token": "[MASK]",
                 "shap": {"algorithm": "auto", "max_evals": 500, "owen_hierarchy": "shap.maskers.Text.clustering"},
                 "lime": {"num_samples": 1000, "features": "words (LimeTextExplainer defaults)",
                          "second_seed": 1},
                 "ig": {"n_steps": 64, "baseline": "[MASK] at every non-special position"},
                 "stability_thresholds": {"top_k": 5, "method_spearman_min": 0.5, ...}},
      "texts": [{
          "index": 0,                                  # position in the `texts` argument
          "text": "She led a team.",                   # what was explained (== input unless truncated)
          "truncated": false, "original_length": 15,   # characters of the input
          "target": 1, "groups": {"gender": "female"},
          "tokens": [{"token": "she", "start": 0, "end": 3}, ...],   # character offsets in `text`
          "value": 0.81,                               # f(x): probability of `target`
          "base_value": 0.42,                          # f(every token masked)
          "attributions": {"shap": [...], "lime": [...], "ig": [...]},   # one number per token
          "method_info": {"shap": {"algorithm": "kernel" | "exact" | "owen", "evaluations": ...}, "lime": {"r2": ..., "intercept": ...},
                          "ig": {"delta": ..., "base_value": ...}},
          "stability": {"score": 0.74,
                        "methods": [{"a": "ig", "b": "lime", "spearman": 0.7, "top_k_overlap": 0.8}, ...],
                        "seeds": {"lime": {"spearman": 0.95, "top_k_overlap": 1.0}}},
          "flags": ["truncated", "low_method_agreement", "unstable_across_seeds", "ig_incomplete"]
      }, ...],
      "global": {"method": "shap", "n_texts": 50, "min_occurrences": 2,
                 "top_tokens": [{"token": "she", "mean_abs": 0.05, "mean": -0.04, "occurrences": 31}, ...],
                 "by_group": {"gender": {"female": [...], "male": [...]}},
                 "proxies": {"gender": [{"token": "she", "gap": 0.05, "higher_in": "female",
                                         "lower_in": "male", "mean_abs_by_group": {...},
                                         "mean_by_group": {...}, "occurrences": 31}, ...]}},
      "compute": {"model_evaluations": 41234, "predict_calls": 12, "wall_s": 95.1}
    }

SHAP: texts whose Kernel SHAP edge design (every coalition of sizes 1, 2, n-2, n-1) costs at most
`shap_max_evals` strings get it (or the exact enumeration when that is cheaper); longer texts get
shap's Partition (Owen) algorithm with that budget. Both are deterministic, so only LIME is re-run
with a second seed (`stability.seeds`). SHAP values sum to value - base_value exactly; IG's sum to value - base_value up to
`method_info.ig.delta` (flag `ig_incomplete` when delta > IG_DELTA_MAX). LIME's are the local linear
model's word weights spread over each word's tokens, so they need not add up to anything.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import numpy as np

from models_core.errors import InputError
from models_core.explain.global_view import global_view
from models_core.explain.methods import (Attribution, ShapTrees, integrated_gradients, lime_many, shap_values)
from models_core.explain.stability import THRESHOLDS, stability
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, TokenizedText, mask_token_of,
                                      plain_tokenizer, tokenize_for_explanation)

SCHEMA = "models_core.explain/1"
METHODS = ("shap", "lime", "ig")
SHAP_MAX_EVALS = 500
LIME_NUM_SAMPLES = 1000
LIME_CHUNK = 8  # texts whose perturbations share one predict_proba call (bounded batch, live progress)
IG_STEPS = 64
# IG's completeness gap tolerated before flagging, in probability units.
IG_DELTA_MAX = 1e-3

Progress = Callable[[dict], None]


def model_max_length(bundle) -> int | None:
    """The model's token limit: bundle.config["max_length"], else the tokenizer's truncation length."""
    config = getattr(bundle, "config", None) or {}
    if isinstance(config, Mapping) and config.get("max_length"):
        return int(config["max_length"])
    truncation = getattr(bundle.tokenizer, "truncation", None)
    if truncation:
        return int(truncation["max_length"])
    return None


def _report(progress: Progress | None, stage: str, percent: float, **extra) -> None:
    if progress is not None:
        progress({"stage": stage, "percent": round(float(percent), 2), **extra})


def _check_inputs(texts: Sequence[str], targets: Sequence[int] | None, groups: Mapping[str, Sequence[str]],
                  methods: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise InputError("texts must be a list of strings, not one string")
    if len(texts) == 0:
        raise InputError("no texts to explain")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InputError(f"unknown explanation methods {unknown}; choose from {list(METHODS)}")
    if targets is not None and len(targets) != len(texts):
        raise InputError(f"{len(targets)} targets for {len(texts)} texts")
    for attribute, labels in groups.items():
        if len(labels) != len(texts):
            raise InputError(f"group column {attribute!r} has {len(labels)} labels for {len(texts)} texts")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text #{i} is {type(text).__name__}, not str")
        if not text.strip():
            raise InputError(f"text #{i} is empty: there are no tokens to explain")


def explain_sample(bundle, texts: Sequence[str], targets: Sequence[int] | None,
                   groups: Mapping[str, Sequence[str]] | None = None, methods: Sequence[str] = METHODS,
                   seed: int = 0, max_length: int | None = None, progress: Progress | None = None, *,
                   shap_max_evals: int = SHAP_MAX_EVALS, shap_algorithm: str = "auto", lime_num_samples: int = LIME_NUM_SAMPLES,
                   ig_steps: int = IG_STEPS) -> dict:
    """Explain `texts` for class `targets[i]` (None: the predicted class). See the module doc for the output."""
    started = time.perf_counter()
    groups = dict(groups or {})
    methods = list(dict.fromkeys(methods))
    _check_inputs(texts, targets, groups, methods)
    if "ig" in methods and not all(hasattr(getattr(bundle, "model", None), a)
                                   for a in ("embed", "forward_from_embeddings")):
        raise InputError("Integrated Gradients needs bundle.model.embed and forward_from_embeddings")
    limit = max_length if max_length is not None else model_max_length(bundle)
    tokenizer = plain_tokenizer(bundle.tokenizer)
    mask_token = mask_token_of(tokenizer)
    tokenized = [tokenize_for_explanation(tokenizer, t, limit) for t in texts]
    predictor = CachedPredictor(bundle.predict_proba)
    full = predictor([t.text for t in tokenized])
    num_labels = full.shape[1]
    if targets is None:
        targets = [int(np.argmax(row)) for row in full]
    targets = [int(t) for t in targets]
    bad = [t for t in targets if not 0 <= t < num_labels]
    if bad:
        raise InputError(f"target {bad[0]} is not a class of this {num_labels}-class model")
    _report(progress, "explain", 2.0)

    results: dict[str, list[Attribution]] = {}
    second: dict[str, list[Attribution]] = {}
    shares = {"shap": 30.0, "lime": 50.0, "ig": 15.0}
    done = 2.0
    if "shap" in methods:
        trees = ShapTrees(ShapTokenizerAdapter(bundle.tokenizer, mask_token))
        results["shap"] = shap_values(predictor, trees, list(zip(tokenized, targets)), max_evals=shap_max_evals,
                                      algorithm=shap_algorithm)
        done += shares["shap"]
        _report(progress, "explain", done, method="shap")
    if "lime" in methods:
        items = list(zip(tokenized, targets))
        for start in range(0, len(items), LIME_CHUNK):
            chunk = items[start:start + LIME_CHUNK]
            # both seeds of a chunk in one batched call: the second seed's strings are mostly the first's
            both = lime_many(predictor, chunk + chunk, lime_num_samples, [seed] * len(chunk) + [seed + 1] * len(chunk))
            results.setdefault("lime", []).extend(both[:len(chunk)])
            second.setdefault("lime", []).extend(both[len(chunk):])
            _report(progress, "explain", done + shares["lime"] * min(1.0, (start + len(chunk)) / len(items)),
                    method="lime")
        done += shares["lime"]
    if "ig" in methods:
        results["ig"] = []
        for k, (t, target) in enumerate(zip(tokenized, targets)):
            results["ig"].append(integrated_gradients(bundle.model, tokenizer, t, target, mask_token, ig_steps))
            _report(progress, "explain", done + shares["ig"] * (k + 1) / len(tokenized), method="ig")

    group_rows = [{a: str(labels[i]) for a, labels in groups.items()} for i in range(len(texts))]
    out_texts = []
    for i, t in enumerate(tokenized):
        out_texts.append(_text_record(i, t, targets[i], group_rows[i], float(full[i, targets[i]]),
                                      {m: results[m][i] for m in methods},
                                      {m: second[m][i] for m in second}))
    view_method = "shap" if "shap" in methods else methods[0]
    view = global_view([t.tokens for t in tokenized], [r.values for r in results[view_method]], groups, view_method)
    _report(progress, "explain", 100.0)
    return {
        "schema": SCHEMA,
        "methods": methods,
        "config": {"seed": seed, "max_length": limit, "mask_token": mask_token,
                   "shap": {"algorithm": shap_algorithm, "max_evals": shap_max_evals,
                            "owen_hierarchy": "shap.maskers.Text.clustering"},
                   "lime": {"num_samples": lime_num_samples, "features": "words (LimeTextExplainer defaults)",
                            "second_seed": seed + 1},
                   "ig": {"n_steps": ig_steps, "baseline": f"{mask_token} at every non-special position",
                          "delta_max": IG_DELTA_MAX},
                   "stability_thresholds": dict(THRESHOLDS)},
        "texts": out_texts,
        "global": view,
        "compute": {"model_evaluations": predictor.evaluations, "predict_calls": predictor.calls,
                    "wall_s": round(time.perf_counter() - started, 3)},
    }


def _text_record(index: int, t: TokenizedText, target: int, groups: dict, value: float,
                 by_method: Mapping[str, Attribution], second: Mapping[str, Attribution]) -> dict:
    info = {}
    base_value = None
    for method, result in by_method.items():
        info[method] = dict(result.info)
        if method == "lime":
            info[method]["intercept"] = result.base_value
        elif method == "ig":
            info[method]["base_value"] = result.base_value
        else:
            base_value = result.base_value
    if base_value is None:
        base_value = next((r.base_value for m, r in by_method.items() if m == "ig"), None)
    agreement, flags = stability({m: r.values for m, r in by_method.items()},
                                 {m: r.values for m, r in second.items()})
    if t.truncated:
        flags.insert(0, "truncated")
    if "ig" in by_method and by_method["ig"].info["delta"] > IG_DELTA_MAX:
        flags.append("ig_incomplete")
    return {
        "index": index,
        "text": t.text,
        "truncated": t.truncated,
        "original_length": t.original_length,
        "target": target,
        "groups": groups,
        "tokens": [{"token": tok, "start": int(s), "end": int(e)} for tok, (s, e) in zip(t.tokens, t.offsets)],
        "value": value,
        "base_value": base_value,
        "attributions": {m: [float(v) for v in r.values] for m, r in by_method.items()},
        "method_info": info,
        "stability": agreement,
        "flags": flags,
    }
