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
      "schema": "models_core.explain/2",
      "methods": ["shap", "lime", "ig"],
      "config": {"seed": 0, "max_length": 128, "mask_token": "[MASK]",
                 "shap": {"algorithm": "auto", "max_evals": 500, "players": "words", "long_texts": "owen", ...},
                 "lime": {"num_samples": 1000, "start_samples": 250, "features": "words (LimeTextExplainer defaults)",
                          "second_seed": 1, "halves": true},
                 "ig": {"quadrature": "gauss-legendre panels", "probes": 16, "panels": 8, "nodes_per_panel": 3,
                        "n_steps": 24, "max_steps": 256, "delta_max": 0.001, "baseline": "[MASK] at every ..."},
                 "stability": {"perturbation": true, "seed": 0, "rows": [0, 5, ...], "sampled": true},
                 "stability_thresholds": {"top_k": 5, "top_k_rule": "min(5, max(1, n // 2))", ...},
                 "shap_gap": {...}},                    # measured gap to shap's Partition explainer (SHAP_GAP)
      "texts": [{
          "index": 0,                                  # position in the `texts` argument
          "text": "She led a team.",                   # what was explained (== input unless truncated)
          "truncated": false, "original_length": 15,   # characters of the input
          "target": 1, "groups": {"gender": "female"},
          "tokens": [{"token": "she", "start": 0, "end": 3}, ...],   # character offsets in `text`
          "words": [{"word": "She", "start": 0, "end": 3, "tokens": [0]}, ...],   # sub-word tokens merged
          "value": 0.81,                               # f(x): probability of `target`
          "base_value": 0.42,                          # f(every token masked)
          "attributions": {"shap": [...], "lime": [...], "ig": [...]},   # one number per token
          "word_attributions": {"shap": [...], ...},   # one number per word (its tokens' sum)
          "method_info": {"shap": {"algorithm": "kernel" | "exact" | "owen" | "paired_kernel", "players": "words",
                                   "evaluations": ...}, "lime": {"r2": ..., "intercept": ..., "num_samples": ...},
                          "ig": {"delta": ..., "base_value": ..., "n_steps": ..., "steps_tried": [24, 6],
                                 "panels": ..., "path_evaluations": ...}},
          "agreement": {"score": 0.74, "min_top_k_overlap": 0.5, "k": 2, "weakest": ["ig", "lime"],
                        "methods": [{"a": "ig", "b": "lime", "spearman": 0.7, "top_k_overlap": 0.5, "k": 2}, ...]},
          "stability": {"score": 1.0, "perturbation": "neutral word “also” appended", "words_compared": 4,
                        "methods": {"shap": {"spearman": 0.9, "top_k_overlap": 1.0, "k": 2}, ...},
                        "seeds": {"lime": {"spearman": 0.95, "top_k_overlap": 1.0, "k": 2}}},
          "flags": ["truncated", "low_method_agreement", "unstable_under_perturbation", "unstable_across_seeds",
                    "ig_incomplete"]
      }, ...],
      "global": {"method": "shap", "unit": "word", "n_texts": 50, "min_occurrences": 2,
                 "top_tokens": [{"token": "she", "kind": "word", "mean_abs": 0.05, "mean": -0.04, "occurrences": 31}, ...],
                 "by_group": {"gender": {"female": [...], "male": [...]}},
                 "proxies": {"gender": [{"token": "she", "gap": 0.05, "higher_in": "female", ...}, ...]},
                 "set_aside": {"punctuation": [".", ","], "stop_words": ["a", "the"]},
                 "all": {"top_tokens": [...], "by_group": {...}, "proxies": {...}}},   # punctuation, stop words in
      "compute": {"model_evaluations": 41234, "gradient_steps": 6400, "evaluations_per_text": 900.2,
                  "predict_calls": 12, "wall_s": 95.1}
    }

Schema /1 results (stored before issue 18) had the method agreement under "stability" (clipped at 0)
and token-level global rankings; `schema.upgrade` maps them for readers.

SHAP: whole words are the players (a word's value shared equally by its tokens). Texts whose Kernel SHAP edge design
(every coalition of sizes 1, 2, n-2, n-1) costs at most `shap_max_evals` strings get it (or the exact enumeration
when that is cheaper); longer texts get `methods.LONG_TEXT_ALGORITHM`. LIME draws two independent half
neighbourhoods (seeds `seed` and `seed + 1`) of LIME_START_SAMPLES in all, growing both (the rows already scored
kept) for the texts whose halves' top-k disagree, up to `lime_num_samples`; the explanation is lime's fit on both
halves, and the halves' agreement is the seed stability. IG integrates the path by Gauss-Legendre panels placed by a
forward probe of it and split where the completeness gap exceeds IG_DELTA_MAX, up to IG_MAX_STEPS gradient steps
(flag `ig_incomplete` if still above; `ig.integrated_gradients_panels`). Stability: every method is re-run on a
meaning-preserving edit of each text (`stability.perturb`) in the same batched calls, or of the texts at the
positions `stability` names (the audit: `stability_sample` over a fifth of its explained texts, 3 to 10, since the
re-run doubles a text's cost); the others' stability is LIME's two seeds alone. One `CachedPredictor` serves every
method, so a masked string that two methods (or a text and its edit) both need, such as the fully masked and the
full input, is scored once.
"""

from __future__ import annotations

import time
from typing import Callable, Mapping, Sequence

import numpy as np

from models_core.errors import InputError
from models_core.explain.global_view import global_view
from models_core.explain.methods import (LONG_TEXT_ALGORITHM, PAIRED_BASE_WORDS, PAIRED_EVALS_PER_EXTRA_WORD,
                                         PAIRED_MAX_EVALS_CAP, Attribution, ShapTrees, lime_adaptive, shap_values)
from models_core.explain.ig import IG_PANEL_NODES, IG_PANELS, IG_PROBES, integrated_gradients_panels
from models_core.explain.stability import THRESHOLDS, agreement, perturb, perturbation_stability, shared_words
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, TokenizedText, mask_token_of,
                                      plain_tokenizer, sum_to_words, tokenize_for_explanation, word_groups)

SCHEMA = "models_core.explain/2"
METHODS = ("shap", "lime", "ig")
SHAP_MAX_EVALS = 500
LIME_NUM_SAMPLES = 1000
LIME_START_SAMPLES = 250
LIME_CHUNK = 8  # texts whose perturbations share one predict_proba call (bounded batch, live progress)
# IG by Gauss-Legendre panels (`ig.integrated_gradients_panels`): IG_PANELS panels of IG_PANEL_NODES nodes,
# placed by a forward probe of the path, split where the completeness gap is. On the demo's steep model this
# completes in ~28 gradient steps where uniform Gauss-Legendre needed 64 (32 missed 1e-3 on half the texts).
IG_MAX_STEPS = 256
# IG's completeness gap tolerated before flagging, in probability units.
IG_DELTA_MAX = 1e-3
# SHAP's measured gap to shap's own Partition explainer (tests/models_core/explain/test_shap_gap.py),
# per-word values (shap's token values summed), the product's budget, the test's model and texts.
SHAP_GAP = {"reference": "shap.PartitionExplainer, Text masker, default budget; its token values summed into words",
            "texts": [{"tokens": 10, "pearson": 0.90, "max_abs_diff": 0.05},
                      {"tokens": 30, "pearson": 0.85, "max_abs_diff": 0.05},
                      {"tokens": 60, "pearson": 0.55, "max_abs_diff": 0.05}]}

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
                   ig_panels: int = IG_PANELS, stability: bool | Sequence[int] = True) -> dict:
    """Explain `texts` for class `targets[i]` (None: the predicted class). See the module doc for the output.

    `stability`: True re-runs every method on an edit of every text; a sequence of positions re-runs them on
    those texts only (the others get LIME's two-seed comparison alone); False on none."""
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

    n = len(tokenized)
    stable_rows = _stability_rows(stability, n)
    edits: dict[int, tuple[TokenizedText, str]] = {}
    if stable_rows:
        cased = tokenizer.encode("A").tokens != tokenizer.encode("a").tokens
        for i in stable_rows:
            edited, description = perturb(tokenized[i].text, seed * 100_003 + i, cased)
            edits[i] = (tokenize_for_explanation(tokenizer, edited, limit), description)
    position = {i: n + k for k, i in enumerate(edits)}  # where text i's edit sits in `items`
    items = list(zip(tokenized, targets)) + [(edits[i][0], targets[i]) for i in edits]
    results: dict[str, list[Attribution]] = {}
    second: dict[str, list[Attribution]] = {}
    shares = {"shap": 30.0, "lime": 45.0, "ig": 20.0}
    done = 2.0
    if "shap" in methods:
        trees = ShapTrees(ShapTokenizerAdapter(bundle.tokenizer, mask_token))
        results["shap"] = shap_values(predictor, trees, items, max_evals=shap_max_evals, algorithm=shap_algorithm,
                                      seed=seed)
        done += shares["shap"]
        _report(progress, "explain", done, method="shap")
    if "lime" in methods:
        results["lime"], second["lime"] = [None] * len(items), [None] * n
        for start in range(0, n, LIME_CHUNK):
            span = range(start, min(n, start + LIME_CHUNK))
            first, other = lime_adaptive(predictor, [items[i] for i in span], seed,
                                         start=min(LIME_START_SAMPLES, lime_num_samples), max_samples=lime_num_samples)
            for i, a, b in zip(span, first, other):
                results["lime"][i], second["lime"][i] = a, b
            # the edited texts at the size their originals settled on, same seeds
            for size in sorted({a.info["num_samples"] for a in first}):
                which = [i for i, a in zip(span, first) if a.info["num_samples"] == size and i in position]
                if which and size:
                    edited, _ = lime_adaptive(predictor, [items[position[i]] for i in which], seed, start=size,
                                              max_samples=size)
                    for i, r in zip(which, edited):
                        results["lime"][position[i]] = r
            _report(progress, "explain", done + shares["lime"] * min(1.0, span.stop / n), method="lime")
        done += shares["lime"]
    if "ig" in methods:
        results["ig"] = []
        for k, (t, target) in enumerate(items):
            results["ig"].append(integrated_gradients_panels(bundle.model, tokenizer, t, target, mask_token,
                                                             delta_max=IG_DELTA_MAX, max_steps=IG_MAX_STEPS,
                                                             panels=ig_panels))
            _report(progress, "explain", done + shares["ig"] * (k + 1) / len(items), method="ig")

    group_rows = [{a: str(labels[i]) for a, labels in groups.items()} for i in range(n)]
    out_texts = []
    for i, t in enumerate(tokenized):
        edit = None
        if i in position:
            edit = (edits[i][0], edits[i][1], {m: results[m][position[i]] for m in methods})
        out_texts.append(_text_record(i, t, targets[i], group_rows[i], float(full[i, targets[i]]),
                                      {m: results[m][i] for m in methods}, {m: second[m][i] for m in second}, edit))
    view_method = "shap" if "shap" in methods else methods[0]
    view = global_view([[w["word"] for w in r["words"]] for r in out_texts],
                       [np.asarray(r["word_attributions"][view_method]) for r in out_texts], groups, view_method)
    gradient_steps = sum(sum(r.info["steps_tried"]) for r in results.get("ig", []))
    # IG's forward-only points of the path are model evaluations too (scored outside the predictor)
    evaluations = predictor.evaluations + sum(r.info["path_evaluations"] for r in results.get("ig", []))
    _report(progress, "explain", 100.0)
    return {
        "schema": SCHEMA,
        "methods": methods,
        "config": {"seed": seed, "max_length": limit, "mask_token": mask_token,
                   "shap": {"algorithm": shap_algorithm, "max_evals": shap_max_evals, "players": "words",
                            "long_texts": LONG_TEXT_ALGORITHM, "owen_hierarchy": "shap.maskers.Text.clustering",
                            "long_text_budget": {"base_words": PAIRED_BASE_WORDS,
                                                 "evals_per_extra_word": PAIRED_EVALS_PER_EXTRA_WORD,
                                                 "cap": PAIRED_MAX_EVALS_CAP}},
                   "lime": {"num_samples": lime_num_samples, "start_samples": min(LIME_START_SAMPLES, lime_num_samples),
                            "features": "words (LimeTextExplainer defaults)", "second_seed": seed + 1,
                            "halves": True},
                   "ig": {"quadrature": "gauss-legendre panels", "probes": IG_PROBES, "panels": ig_panels,
                          "nodes_per_panel": IG_PANEL_NODES, "n_steps": ig_panels * IG_PANEL_NODES,
                          "max_steps": IG_MAX_STEPS, "baseline": f"{mask_token} at every non-special position",
                          "delta_max": IG_DELTA_MAX},
                   "stability": {"perturbation": bool(stable_rows), "seed": seed, "rows": stable_rows,
                                 "sampled": len(stable_rows) < n},
                   "stability_thresholds": dict(THRESHOLDS),
                   "shap_gap": SHAP_GAP},
        "texts": out_texts,
        "global": view,
        "compute": {"model_evaluations": evaluations, "gradient_steps": gradient_steps,
                    "evaluations_per_text": round((evaluations + gradient_steps) / n, 1),
                    "predict_calls": predictor.calls, "wall_s": round(time.perf_counter() - started, 3)},
    }


def _stability_rows(stability: bool | Sequence[int], n: int) -> list[int]:
    if isinstance(stability, bool):
        return list(range(n)) if stability else []
    rows = sorted({int(i) for i in stability})
    if rows and not 0 <= rows[0] <= rows[-1] < n:
        raise InputError(f"stability rows must be positions of the {n} texts, got {rows}")
    return rows


def stability_sample(n: int, size: int) -> list[int]:
    """`size` positions of `n` explained texts spread evenly from the first to the last (all when n <= size)."""
    if n <= size:
        return list(range(n))
    if size <= 0:
        return []
    return sorted({int(round(k * (n - 1) / max(size - 1, 1))) for k in range(size)})


def _words(t: TokenizedText) -> tuple[list[dict], list[list[int]]]:
    groups = word_groups(t)
    return ([{"word": t.text[t.offsets[g[0]][0]:t.offsets[g[-1]][1]], "start": int(t.offsets[g[0]][0]),
              "end": int(t.offsets[g[-1]][1]), "tokens": list(g)} for g in groups], groups)


def _text_record(index: int, t: TokenizedText, target: int, groups: dict, value: float,
                 by_method: Mapping[str, Attribution], second: Mapping[str, Attribution],
                 edit: tuple[TokenizedText, str, Mapping[str, Attribution]] | None) -> dict:
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
    words, members = _words(t)
    by_word = {m: sum_to_words(r.values, members) for m, r in by_method.items()}
    agree, flags = agreement(by_word)
    record_stability = None
    if edit is not None:
        edited, description, edited_by_method = edit
        edited_words, edited_members = _words(edited)
        shared = shared_words([(w["start"], w["end"], w["word"]) for w in words],
                              [(w["start"], w["end"], w["word"]) for w in edited_words])
        record_stability, unstable = perturbation_stability(
            by_word, {m: sum_to_words(r.values, edited_members) for m, r in edited_by_method.items()}, shared,
            description, {m: tuple(sum_to_words(r.values, members) for r in pair) for m, pair in second.items()})
        flags += unstable
    elif second:  # not in the perturbation sample: LIME's two seeds are compared all the same
        record_stability, unstable = perturbation_stability(
            by_word, {}, ([], []), None,
            {m: tuple(sum_to_words(r.values, members) for r in pair) for m, pair in second.items()})
        flags += unstable
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
        "words": words,
        "value": value,
        "base_value": base_value,
        "attributions": {m: [float(v) for v in r.values] for m, r in by_method.items()},
        "word_attributions": {m: [float(v) for v in values] for m, values in by_word.items()},
        "method_info": info,
        "agreement": agree,
        "stability": record_stability,
        "flags": flags,
    }
