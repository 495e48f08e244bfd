"""Invariance suites and directional expectations: build the perturbed variants, score them once, report.

`build_variants` rewrites the texts for every enabled suite (seeded per suite) and every directional
expectation; `score_variants` calls the model once on all distinct variant strings (the originals' scores are
passed in or computed); `invariance_figures` and `directional_figures` turn the scores into the report's
figures with bootstrap intervals over texts (robustness.stats), overall and per sensitive group.

A flip is a change of the argmax class; Δp is the change in the probability of `positive_class`. A
directional expectation fails on a text when adding its phrase moves Δp the wrong way by more than its
tolerance (CheckList's monotonic expectation: "down" fails when Δp > tolerance, "up" when Δp < -tolerance).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models_core.robustness.perturb import PERTURBATIONS, SUITE_LABELS, NameSwapper
from models_core.robustness.stats import group_seed, interval_figures

MISSING_GROUP = "(missing)"
INVARIANCE = ("flipped", "abs_change", "change")


@dataclass
class Variant:
    text_index: int          # position in the audited texts
    text: str                # the perturbed text
    key: str = ""            # the name swap's "source→target" origins
    score: int = -1          # position in the scored batch


@dataclass
class Variants:
    by_suite: dict[str, list[Variant]] = field(default_factory=dict)
    by_expectation: list[list[Variant]] = field(default_factory=list)


def build_variants(texts: Sequence[str], indices: Sequence[int], settings: Mapping[str, Any]) -> Variants:
    """The variants of `texts[i]` for i in `indices`, per enabled suite and per directional expectation."""
    out = Variants()
    seed = settings["seed"]
    for suite in settings["suites"]:
        rng = random.Random(f"{seed}:{suite}")
        variants: list[Variant] = []
        if suite == "names":
            swapper = NameSwapper(settings["name_lists"])
            for i in indices:
                variants += [Variant(i, new, f"{source}→{target}")
                             for source, target, new in swapper.variants(texts[i], rng)]
        else:
            perturb, options = PERTURBATIONS[suite], settings.get(suite) or {}
            for i in indices:
                new = perturb(texts[i], rng, options)
                if new != texts[i]:
                    variants.append(Variant(i, new))
        out.by_suite[suite] = variants
    for expectation in settings["directional"]:
        phrase = expectation["phrase"]
        prepend = expectation.get("position") == "prepend"
        out.by_expectation.append([Variant(i, f"{phrase} {texts[i]}" if prepend else f"{texts[i].rstrip()} {phrase}")
                                   for i in indices])
    return out


def score_variants(variants: Variants, predict_proba: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Scores every distinct variant string once; sets each variant's `score` row; returns the probabilities."""
    rows: dict[str, int] = {}
    for group in [*variants.by_suite.values(), *variants.by_expectation]:
        for v in group:
            v.score = rows.setdefault(v.text, len(rows))
    if not rows:
        return np.zeros((0, 2))
    return np.asarray(predict_proba(list(rows)), dtype=np.float64)


def _groups_of(groups: Mapping[str, Sequence[Any]], i: int) -> dict[str, str]:
    return {a: (str(v[i]) if v[i] not in (None, "") else MISSING_GROUP) for a, v in groups.items()}


def _per_text(variants: list[Variant], value: Callable[[Variant], dict[str, float]]) -> tuple[list[int], dict, np.ndarray]:
    """Per audited text with variants: its index, the sums of each value over its variants, and their count."""
    order: dict[int, int] = {}
    for v in variants:
        order.setdefault(v.text_index, len(order))
    sums: dict[str, np.ndarray] = {}
    sizes = np.zeros(len(order))
    for v in variants:
        k = order[v.text_index]
        sizes[k] += 1
        for name, x in value(v).items():
            sums.setdefault(name, np.zeros(len(order)))[k] += x
    return list(order), sums, sizes


def _figures(variants: list[Variant], value: Callable[[Variant], dict[str, float]], names: tuple[str, ...],
             counted: tuple[str, ...], groups: Mapping[str, Sequence[Any]], *, n_boot: int, seed: int,
             confidence: float, name: str) -> dict:
    """Overall and per-group figures of one suite (or expectation, or origin pair): each of `names` as a
    rate or mean with its interval, and a count of each of `counted`."""
    texts, sums, sizes = _per_text(variants, value)
    sums = {k: sums.get(k, np.zeros(len(texts))) for k in names}
    overall = interval_figures(sums, sizes, n_boot=n_boot, seed=group_seed(seed, name), confidence=confidence)
    out = {"n_changed": len(texts), "n_variants": int(sizes.sum()),
           **{f"n_{k}": int(round(sums[k].sum())) for k in counted}, **overall, "by_group": {}}
    for attribute, column in groups.items():
        members: dict[str, list[int]] = {}
        for k, i in enumerate(texts):
            members.setdefault(_groups_of({attribute: column}, i)[attribute], []).append(k)
        out["by_group"][attribute] = {}
        for group, ks in sorted(members.items()):
            ks_arr = np.asarray(ks, dtype=np.intp)
            figures = interval_figures({k: v[ks_arr] for k, v in sums.items()}, sizes[ks_arr], n_boot=n_boot,
                                       seed=group_seed(seed, name, attribute, group), confidence=confidence)
            out["by_group"][attribute][group] = {"n_changed": len(ks), **{
                f"n_{k}": int(round(sums[k][ks_arr].sum())) for k in counted}, **figures}
    return out


def _example(v: Variant, texts: Sequence[str], p_orig: np.ndarray, p_var: np.ndarray, flipped: bool, **extra) -> dict:
    change = float(p_var[v.score] - p_orig[v.text_index])
    return {"index": int(v.text_index), "original": texts[v.text_index], "perturbed": v.text,
            "p_original": float(p_orig[v.text_index]), "p_perturbed": float(p_var[v.score]), "change": change,
            "flipped": bool(flipped), **({"origins": v.key} if v.key else {}), **extra}


def invariance_figures(suite: str, variants: list[Variant], texts: Sequence[str], base: np.ndarray,
                       scored: np.ndarray, groups: Mapping[str, Sequence[Any]], settings: Mapping[str, Any]) -> dict:
    positive = settings["positive_class"]
    p_orig, p_var = base[:, positive], scored[:, positive] if len(scored) else np.zeros(0)
    label_orig, label_var = base.argmax(axis=1), scored.argmax(axis=1) if len(scored) else np.zeros(0, int)

    def value(v: Variant) -> dict[str, float]:
        change = p_var[v.score] - p_orig[v.text_index]
        return {"flipped": float(label_var[v.score] != label_orig[v.text_index]), "abs_change": abs(change),
                "change": change}

    common = dict(n_boot=settings["n_boot"], seed=settings["seed"], confidence=settings["confidence"])
    out = {"label": SUITE_LABELS[suite], "n_texts": settings["n_texts"],
           **_renamed(_figures(variants, value, INVARIANCE, ("flipped",), groups, name=suite, **common))}
    if suite == "names":
        pairs: dict[str, list[Variant]] = {}
        for v in variants:
            pairs.setdefault(v.key, []).append(v)
        out["by_origins"] = {key: _renamed({k: f for k, f in _figures(pairs[key], value, INVARIANCE, ("flipped",), {},
                                                                      name=f"names:{key}", **common).items()
                                            if k != "by_group"}) for key in sorted(pairs)}
    ranked = sorted(variants, key=lambda v: -abs(p_var[v.score] - p_orig[v.text_index]))[:settings["n_worst"]]
    out["worst"] = [_example(v, texts, p_orig, p_var, label_var[v.score] != label_orig[v.text_index])
                    for v in ranked]
    return out


def _renamed(figures: dict) -> dict:
    """Figure names of the stored schema: flip_rate, mean_abs_change, mean_change (and by group)."""
    names = {"flipped": "flip_rate", "abs_change": "mean_abs_change", "change": "mean_change",
             "failed": "failure_rate"}
    out = {}
    for key, value in figures.items():
        if key == "by_group":
            value = {a: {g: _renamed(f) for g, f in by.items()} for a, by in value.items()}
        out[names.get(key, key)] = value
    return out


def directional_figures(expectation: Mapping[str, Any], variants: list[Variant], texts: Sequence[str],
                        base: np.ndarray, scored: np.ndarray, groups: Mapping[str, Sequence[Any]],
                        settings: Mapping[str, Any], number: int) -> dict:
    positive = settings["positive_class"]
    p_orig, p_var = base[:, positive], scored[:, positive] if len(scored) else np.zeros(0)
    tolerance, down = float(expectation["tolerance"]), expectation["direction"] == "down"

    def failed(v: Variant) -> bool:
        change = p_var[v.score] - p_orig[v.text_index]
        return bool(change > tolerance) if down else bool(change < -tolerance)

    def value(v: Variant) -> dict[str, float]:
        return {"failed": float(failed(v)), "change": p_var[v.score] - p_orig[v.text_index]}

    figures = _renamed(_figures(variants, value, ("failed", "change"), ("failed",), groups, name=f"directional:{number}",
                                n_boot=settings["n_boot"], seed=settings["seed"], confidence=settings["confidence"]))
    wrong = sorted((v for v in variants if failed(v)),
                   key=lambda v: (p_orig[v.text_index] - p_var[v.score]) * (-1 if down else 1))
    labels_o, labels_v = base.argmax(axis=1), scored.argmax(axis=1) if len(scored) else np.zeros(0, int)
    return {"phrase": expectation["phrase"], "direction": expectation["direction"], "tolerance": tolerance,
            "position": expectation.get("position", "append"), **figures,
            "worst": [_example(v, texts, p_orig, p_var, labels_v[v.score] != labels_o[v.text_index], failed=True)
                      for v in wrong[:settings["n_worst"]]]}
