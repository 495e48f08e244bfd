"""One call runs the robustness tests of an audit: `robustness_report(texts, predict_proba, groups, config, ...)`.

Output (plain JSON; rates and means are ``{"value", "ci": [low, high]}`` with bootstrap intervals over texts)::

    {"schema": "models_core.robustness/1",
     "config": {...the resolved configuration, name lists included...},
     "n_texts": 500, "positive_class": 1,
     "decision": "argmax of the model's probabilities (before any group thresholds)",
     "suites": {"typos": {"label", "n_texts", "n_changed", "n_variants", "n_flipped", "flip_rate",
                          "mean_abs_change", "mean_change",
                          "by_group": {"gender": {"female": {"n_changed", "n_flipped", "flip_rate", ...}}},
                          "worst": [{"index", "original", "perturbed", "p_original", "p_perturbed", "change",
                                     "flipped"[, "origins"]}]},
                "names": {..., "by_origins": {"hispanic→anglo": {"n_changed", "flip_rate", "mean_change", ...}}},
                ...},
     "directional": [{"phrase", "direction", "tolerance", "position", "n_changed", "n_failed", "failure_rate",
                      "mean_change", "by_group", "worst"}],
     "adversarial": {"n_attacked", "n_succeeded", "attack_success_rate", "mean_words_changed",
                     "mean_fraction_changed", "queries", "queries_per_success", "importance", "examples"}
                    or {"skipped": reason},
     "summary": {"invariance_flip_rate_upper": {"suite", "value"}, "directional_failure_rate_upper": {...},
                 "attack_success_rate_upper": float | None},
     "compute": {"model_evaluations", "sentence_evaluations", "wall_s", "texts_per_s"}}

`index` is the text's position in `texts`. When there are more texts than ``max_texts``, a seeded sample of
that many is tested (``config["sampled"]`` says so).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError
from models_core.robustness.adversarial import attack_report
from models_core.robustness.names import NAMES_BY_ORIGIN, validate_name_lists
from models_core.robustness.perturb import DEFAULT_IRRELEVANT, SUITES
from models_core.robustness.suites import build_variants, directional_figures, invariance_figures, score_variants

SCHEMA = "models_core.robustness/1"
DIRECTIONS = ("up", "down")
ADVERSARIAL_DEFAULTS = {"enabled": True, "max_texts": 25, "candidates": "embedding", "synonyms": {},
                        "word_similarity": 0.5, "sentence_similarity": 0.8, "n_candidates": 8, "max_words": 5,
                        "max_fraction": 0.25}
DEFAULTS: dict[str, Any] = {"seed": 0, "n_boot": 1000, "confidence": 0.95, "max_texts": 1000, "n_worst": 5,
                            "suites": list(SUITES), "typos": {"count": 1, "kinds": ["swap", "drop", "keyboard"]},
                            "irrelevant": {"sentences": list(DEFAULT_IRRELEVANT)},
                            "numbers": {"max_relative_change": 0.2}, "name_lists": None, "directional": [],
                            "adversarial": ADVERSARIAL_DEFAULTS}

Progress = Callable[[dict[str, Any]], None]


def _number(settings: Mapping[str, Any], key: str, low: float, high: float, integer: bool = False):
    value = settings[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputError(f"{key} must be a number between {low} and {high}")
    if integer and int(value) != value:
        raise InputError(f"{key} must be a whole number")
    return int(value) if integer else float(value)


def resolve_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The configuration with defaults filled in and every value checked (InputError names the fault)."""
    config = dict(config or {})
    unknown = set(config) - set(DEFAULTS) - {"enabled"}
    if unknown:
        raise InputError(f"unknown robustness settings: {', '.join(sorted(unknown))}")
    s = {**DEFAULTS, **{k: v for k, v in config.items() if k != "enabled"}}
    s["seed"] = _number(s, "seed", 0, 2 ** 32 - 1, integer=True)
    s["n_boot"] = _number(s, "n_boot", 0, 100_000, integer=True)
    s["confidence"] = _number(s, "confidence", 0.5, 0.999)
    s["max_texts"] = _number(s, "max_texts", 1, 100_000, integer=True)
    s["n_worst"] = _number(s, "n_worst", 0, 50, integer=True)
    suites = list(s["suites"]) if isinstance(s["suites"], (list, tuple)) else None
    if suites is None or any(x not in SUITES for x in suites):
        raise InputError(f"suites must be a list drawn from {', '.join(SUITES)}")
    s["suites"] = [x for x in SUITES if x in suites]
    typos = {**DEFAULTS["typos"], **(s["typos"] or {})}
    typos["count"] = _number(typos, "count", 1, 10, integer=True)
    if not typos["kinds"] or any(k not in ("swap", "drop", "keyboard") for k in typos["kinds"]):
        raise InputError("typos kinds must be drawn from swap, drop, keyboard")
    s["typos"] = {"count": typos["count"], "kinds": list(typos["kinds"])}
    sentences = (s["irrelevant"] or {}).get("sentences") or []
    if not sentences or not all(isinstance(t, str) and t.strip() for t in sentences):
        raise InputError("irrelevant sentences must be a non-empty list of non-empty texts")
    s["irrelevant"] = {"sentences": [t.strip() for t in sentences]}
    s["numbers"] = {"max_relative_change": _number({**DEFAULTS["numbers"], **(s["numbers"] or {})},
                                                   "max_relative_change", 0.01, 1.0)}
    s["name_lists"] = {o: {g: list(ns) for g, ns in by.items()}
                       for o, by in validate_name_lists(s["name_lists"] or NAMES_BY_ORIGIN).items()}
    s["directional"] = [_expectation(e, n) for n, e in enumerate(s["directional"] or [], start=1)]
    adversarial = {**ADVERSARIAL_DEFAULTS, **(s["adversarial"] or {})}
    extra = set(adversarial) - set(ADVERSARIAL_DEFAULTS)
    if extra:
        raise InputError(f"unknown adversarial settings: {', '.join(sorted(extra))}")
    adversarial["enabled"] = bool(adversarial["enabled"])
    adversarial["max_texts"] = _number(adversarial, "max_texts", 1, 10_000, integer=True)
    adversarial["max_words"] = _number(adversarial, "max_words", 1, 50, integer=True)
    adversarial["n_candidates"] = _number(adversarial, "n_candidates", 1, 100, integer=True)
    for key in ("word_similarity", "sentence_similarity", "max_fraction"):
        adversarial[key] = _number(adversarial, key, 0.0, 1.0)
    if adversarial["candidates"] not in ("embedding", "synonyms"):
        raise InputError("adversarial candidates must be 'embedding' or 'synonyms'")
    synonyms = adversarial["synonyms"] or {}
    if not isinstance(synonyms, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(w, str) and w.strip() for w in v)
            for k, v in synonyms.items()):
        raise InputError("adversarial synonyms must map words to lists of words")
    if adversarial["candidates"] == "synonyms" and not synonyms:
        raise InputError("adversarial candidates 'synonyms' need a synonym list")
    adversarial["synonyms"] = {k.lower(): [w.strip() for w in v] for k, v in synonyms.items()}
    s["adversarial"] = adversarial
    return s


def _expectation(e: Any, n: int) -> dict:
    if not isinstance(e, Mapping) or not isinstance(e.get("phrase"), str) or not e["phrase"].strip():
        raise InputError(f"directional expectation {n} needs a phrase")
    if e.get("direction") not in DIRECTIONS:
        raise InputError(f"directional expectation {n}: direction must be 'up' or 'down'")
    tolerance = e.get("tolerance", 0.1)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 <= tolerance < 1:
        raise InputError(f"directional expectation {n}: tolerance must be a number in [0, 1)")
    if e.get("position", "append") not in ("append", "prepend"):
        raise InputError(f"directional expectation {n}: position must be 'append' or 'prepend'")
    return {"phrase": e["phrase"].strip(), "direction": e["direction"], "tolerance": float(tolerance),
            "position": e.get("position", "append")}


def robustness_report(texts: Sequence[str], predict_proba: Callable[[list[str]], np.ndarray],
                      groups: Mapping[str, Sequence[Any]], config: Mapping[str, Any] | None, *,
                      positive_class: int = 1, base_probabilities: np.ndarray | None = None, encoder_space=None,
                      token_importance: Mapping[int, Sequence[tuple[int, int, float]]] | None = None,
                      progress: Progress | None = None) -> dict:
    """Run the invariance suites, the directional expectations and the adversarial search; see the module
    docstring. `encoder_space`: a robustness.neighbours.EncoderSpace (embedding candidates and the sentence
    similarity); `token_importance`: per text index the SHAP values of its tokens for the predicted class."""
    started = time.perf_counter()
    texts = [str(t) for t in texts]
    settings = resolve_config(config)
    if any(len(v) != len(texts) for v in groups.values()):
        raise InputError("every group column needs one value per text")
    report = (lambda pct: progress({"stage": "robustness", "percent": round(float(pct), 2)})) if progress else (
        lambda pct: None)
    evaluations = 0

    def counted(batch: list[str]) -> np.ndarray:
        nonlocal evaluations
        evaluations += len(batch)
        return np.asarray(predict_proba(batch), dtype=np.float64)

    base = np.asarray(base_probabilities, dtype=np.float64) if base_probabilities is not None else (
        counted(texts) if texts else np.zeros((0, 2)))
    if base.shape[0] != len(texts) or (texts and not 0 <= positive_class < base.shape[1]):
        raise InputError(f"probabilities of shape {base.shape} for {len(texts)} texts, positive class {positive_class}")
    indices = list(range(len(texts)))
    sampled = len(indices) > settings["max_texts"]
    if sampled:
        indices = sorted(random.Random(f"{settings['seed']}:sample").sample(indices, settings["max_texts"]))
    run = {**settings, "positive_class": int(positive_class), "n_texts": len(indices)}
    report(0)
    variants = build_variants(texts, indices, settings)
    scored = score_variants(variants, counted)
    report(60)
    suites = {suite: invariance_figures(suite, variants.by_suite[suite], texts, base, scored, groups, run)
              for suite in settings["suites"]}
    directional = [directional_figures(e, variants.by_expectation[n], texts, base, scored, groups, run, n)
                   for n, e in enumerate(settings["directional"])]
    report(70)
    adversarial = _adversarial(texts, indices, counted, settings, run, encoder_space, token_importance, base,
                               lambda pct: report(70 + 0.3 * pct))
    elapsed = time.perf_counter() - started
    report(100)
    return {"schema": SCHEMA, "config": {**settings, "sampled": sampled}, "n_texts": len(indices),
            "positive_class": int(positive_class),
            "decision": "argmax of the model's probabilities (before any group thresholds)",
            "suites": suites, "directional": directional, "adversarial": adversarial,
            "summary": summary_of(suites, directional, adversarial),
            "compute": {"model_evaluations": evaluations,
                        "sentence_evaluations": getattr(encoder_space, "sentence_evaluations", 0),
                        "wall_s": round(elapsed, 3), "texts_per_s": round(len(indices) / elapsed, 2) if elapsed else None}}


def _adversarial(texts, indices, predict, settings, run, encoder_space, token_importance, base, progress) -> dict:
    options = settings["adversarial"]
    if not options["enabled"]:
        return {"skipped": "switched off in the audit's configuration"}
    if options["candidates"] == "embedding":
        if encoder_space is None:
            return {"skipped": "embedding candidates need the model's encoder (none was given)"}
        encoder_space.n, encoder_space.min_similarity = options["n_candidates"], options["word_similarity"]
        candidates = encoder_space.neighbours
    else:
        from models_core.robustness.neighbours import synonym_candidates
        candidates = synonym_candidates(options["synonyms"])
    similarity = encoder_space.similarity if encoder_space is not None else None
    explained = [i for i in indices if i in (token_importance or {})]
    chosen = explained or sorted(random.Random(f"{settings['seed']}:adversarial").sample(
        [i for i in indices if texts[i].strip()], min(options["max_texts"], len(indices))))
    chosen = chosen[:options["max_texts"]]
    attack_settings = {**options, "n_boot": run["n_boot"], "seed": run["seed"], "confidence": run["confidence"],
                       "n_worst": run["n_worst"]}
    return {**attack_report(texts, chosen, predict, candidates, similarity, attack_settings,
                            token_importance=token_importance, base=base, progress=progress),
            "candidates": options["candidates"], "texts_chosen": "explained rows (SHAP importance)" if explained
            else "a seeded sample (deletion importance)"}


def summary_of(suites: Mapping[str, dict], directional: Sequence[dict], adversarial: Mapping[str, Any]) -> dict:
    """The upper interval bounds the policy gates judge: the worst suite's flip rate, the worst expectation's
    failure rate, the attack success rate (None where nothing was measured)."""
    def upper(figure):
        return (figure or {}).get("ci", [None, None])[1]

    flips = [(name, upper(s.get("flip_rate"))) for name, s in suites.items() if upper(s.get("flip_rate")) is not None]
    fails = [(e["phrase"], upper(e.get("failure_rate"))) for e in directional if upper(e.get("failure_rate")) is not None]
    worst_flip = max(flips, key=lambda x: x[1]) if flips else (None, None)
    worst_fail = max(fails, key=lambda x: x[1]) if fails else (None, None)
    return {"invariance_flip_rate_upper": {"suite": worst_flip[0], "value": worst_flip[1]},
            "directional_failure_rate_upper": {"phrase": worst_fail[0], "value": worst_fail[1]},
            "attack_success_rate_upper": upper(adversarial.get("attack_success_rate"))}
