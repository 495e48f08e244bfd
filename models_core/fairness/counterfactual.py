"""Counterfactual token-swap test: does the prediction change when only identity terms change?

Each text is rewritten once per direction ("female→male" turns every female term into its male
counterpart, "male→female" the reverse), matching whole words, case-insensitively, and keeping the
case of the original ("She" → "He", "HER" → "HIS"). Texts without a term of the source group are
unchanged and not counted for that direction. The model is called once, batched, on the originals
and every changed variant.

Report schema (plain JSON)::

    {
      "groups": ["female", "male"],
      "word_pairs": [["she", "he"], ["her", "his"], ...],
      "n_texts": 500,
      "positive_class": 1,
      "directions": {
        "female→male": {
          "n_changed": 240,                 # texts holding at least one female term
          "flip_rate": 0.12,                # share of those whose predicted class (argmax) changed
          "n_flipped": 29,
          "mean_abs_change": 0.08,          # mean |p_swapped - p_original| of the positive class
          "mean_change": -0.07,             # signed mean (p_swapped - p_original)
          "max_abs_change": 0.61,
          "worst": [{"index": 17, "original": "...", "swapped": "...", "p_original": 0.83,
                     "p_swapped": 0.22, "change": -0.61, "flipped": true}, ...]},
        "male→female": {...}}
    }

Rates are null when a direction changed no text.

The default pairs cover English gendered words and a few first names; "her" maps to "his" (its
possessive reading), so an object "her" becomes "his" too, a known imprecision of token swaps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from models_core.errors import InputError

DEFAULT_GROUPS = ("female", "male")
DEFAULT_WORD_PAIRS: tuple[tuple[str, str], ...] = (
    ("she", "he"),
    ("her", "his"),
    ("woman", "man"),
    ("women's", "men's"),
    ("girls'", "boys'"),
    ("mother", "father"),
    ("mary", "john"),
    ("emily", "james"),
    ("sarah", "david"),
    ("anna", "peter"),
)

Progress = Callable[[dict], None] | None


def _case_like(template: str, word: str) -> str:
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class TokenSwapper:
    """Replaces whole-word occurrences of `mapping` keys by their values, keeping case."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = {k.lower(): v.lower() for k, v in mapping.items()}
        # Longest first so "women's" wins over a shorter term; lookarounds instead of \b because
        # terms may end with an apostrophe ("girls'").
        alternatives = "|".join(re.escape(k) for k in sorted(self.mapping, key=len, reverse=True))
        self.pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def __call__(self, text: str) -> str:
        return self.pattern.sub(lambda m: _case_like(m.group(0), self.mapping[m.group(0).lower()]), text)


def _validate_pairs(word_pairs: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    pairs = [(str(a).lower(), str(b).lower()) for a, b in word_pairs]
    if not pairs:
        raise InputError("word_pairs must not be empty")
    for side in (0, 1):
        words = [p[side] for p in pairs]
        if len(set(words)) != len(words):
            raise InputError(f"word_pairs repeat a word: {words}")
    if set(p[0] for p in pairs) & set(p[1] for p in pairs):
        raise InputError("a word appears in both groups of word_pairs")
    return pairs


def _positive_probability(probabilities: np.ndarray, positive_class: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim == 1:  # the positive-class probability only
        probs = np.column_stack([1.0 - probs, probs])
    if probs.ndim != 2 or probs.shape[0] != m:
        raise InputError(f"predict_proba returned shape {probs.shape} for {m} texts")
    if not 0 <= positive_class < probs.shape[1]:
        raise InputError(f"positive_class={positive_class} but predict_proba has {probs.shape[1]} columns")
    return probs[:, positive_class], probs.argmax(axis=1)


def counterfactual_report(texts: Sequence[str], predict_proba: Callable[[list[str]], np.ndarray],
                          word_pairs: Sequence[Sequence[str]] = DEFAULT_WORD_PAIRS,
                          groups: Sequence[str] = DEFAULT_GROUPS, positive_class: int = 1,
                          n_worst: int = 5, progress: Progress = None) -> dict[str, Any]:
    """Swap identity terms both ways, predict once on all variants, report per direction.

    `word_pairs` are (term of groups[0], term of groups[1]); `predict_proba(texts)` returns an
    (n, n_classes) array (or the positive-class probability as an (n,) array). See the module
    docstring for the output.
    """
    texts = [str(t) for t in texts]
    pairs = _validate_pairs(word_pairs)
    if len(groups) != 2:
        raise InputError("groups must name exactly two groups")
    a, b = str(groups[0]), str(groups[1])
    directions = {f"{a}→{b}": TokenSwapper(dict(pairs)),
                  f"{b}→{a}": TokenSwapper({y: x for x, y in pairs})}
    if progress:
        progress({"stage": "counterfactual", "percent": 0.0})

    batch = list(texts)
    variants: dict[str, list[tuple[int, int]]] = {}  # direction -> [(text index, batch index)]
    for name, swap in directions.items():
        variants[name] = []
        for i, text in enumerate(texts):
            swapped = swap(text)
            if swapped != text:
                variants[name].append((i, len(batch)))
                batch.append(swapped)
    if progress:
        progress({"stage": "counterfactual", "percent": 10.0, "variants": len(batch) - len(texts)})

    if batch:
        p_pos, label = _positive_probability(predict_proba(batch), positive_class, len(batch))
    else:
        p_pos, label = np.empty(0), np.empty(0, dtype=int)

    report_directions = {}
    for name, pairs_idx in variants.items():
        orig = np.array([i for i, _ in pairs_idx], dtype=np.intp)
        var = np.array([j for _, j in pairs_idx], dtype=np.intp)
        change = p_pos[var] - p_pos[orig]
        flipped = label[var] != label[orig]
        order = np.argsort(-np.abs(change), kind="stable")[:max(n_worst, 0)]
        report_directions[name] = {
            "n_changed": int(orig.size),
            "flip_rate": float(flipped.mean()) if orig.size else None,
            "n_flipped": int(flipped.sum()),
            "mean_abs_change": float(np.abs(change).mean()) if orig.size else None,
            "mean_change": float(change.mean()) if orig.size else None,
            "max_abs_change": float(np.abs(change).max()) if orig.size else None,
            "worst": [{"index": int(orig[k]), "original": texts[orig[k]], "swapped": batch[var[k]],
                       "p_original": float(p_pos[orig[k]]), "p_swapped": float(p_pos[var[k]]),
                       "change": float(change[k]), "flipped": bool(flipped[k])} for k in order],
        }
    if progress:
        progress({"stage": "counterfactual", "percent": 100.0})
    return {"groups": [a, b], "word_pairs": [list(p) for p in pairs], "n_texts": len(texts),
            "positive_class": int(positive_class), "directions": report_directions}
