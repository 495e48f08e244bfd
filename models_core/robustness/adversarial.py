"""Greedy word-substitution attack, after TextFooler (Jin et al., AAAI 2020).

For each attacked text: rank its words by importance for the predicted class — the audit's own SHAP values
summed over each word's tokens when the row was explained, otherwise TextFooler's deletion score
(p(class | text) - p(class | text without the word), one query per word) — then, word by word in that
order (stop words and numbers skipped), try the word's candidates: its nearest neighbours in the encoder's
own word-embedding space with cosine similarity at least ``word_similarity``, or a configured synonym list.
Candidates whose sentence similarity to the ORIGINAL text (cosine of the model's pooled sentence vectors) is
below ``sentence_similarity`` are dropped unscored. If a candidate changes the predicted class the attack
succeeds (the most similar such candidate is kept); otherwise the candidate that lowers the class's
probability most is kept when it lowers it at all, and the next word is tried, up to ``max_words`` words
(and at most ``max_fraction`` of the text's words).

Reported: attack success rate with its bootstrap interval (over attacked texts), mean words changed and
mean share of words changed over successes, queries per success (model evaluations of every attacked text,
importance included, over the number of successes), and examples (successes first, fewest changes first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from models_core.robustness.perturb import case_like
from models_core.robustness.stats import group_seed, interval_figures

STOP_WORDS = frozenset("""a an the and or but if of at by for with about against between into through during before
after above below to from up down in out on off over under again further then once here there when where why how
all any both each few more most other some such no nor not only own same so than too very can will just should now
i me my we our you your he him his she her it its they them their what which who whom this that these those am is
are was were be been being have has had having do does did doing would could""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")

Candidates = Callable[[str], list[tuple[str, float]]]
Similarity = Callable[[str, list[str]], np.ndarray]
Predict = Callable[[list[str]], np.ndarray]


class _Counter:
    def __init__(self, predict_proba: Predict):
        self.predict_proba, self.queries = predict_proba, 0

    def __call__(self, batch: list[str]) -> np.ndarray:
        self.queries += len(batch)
        return np.asarray(self.predict_proba(batch), dtype=np.float64)


def _rebuild(text: str, spans: list[tuple[int, int]], words: list[str]) -> str:
    out, last = [], 0
    for (start, end), word in zip(spans, words):
        out += [text[last:start], word]
        last = end
    return "".join(out) + text[last:]


def word_importance(spans: list[tuple[int, int]], token_spans: Sequence[tuple[int, int, float]]) -> list[float]:
    """Each word's importance: the sum of the values of the tokens that overlap it (character offsets)."""
    return [sum(v for s, e, v in token_spans if s < end and start < e) for start, end in spans]


def attack_text(text: str, predict: _Counter, candidates: Candidates, similarity: Similarity | None,
                settings: Mapping[str, Any], token_importance: Sequence[tuple[int, int, float]] | None = None,
                base: np.ndarray | None = None) -> dict:
    before = predict.queries
    found = list(_WORD.finditer(text))
    spans, words = [(m.start(), m.end()) for m in found], [m.group(0) for m in found]
    p0 = base if base is not None else predict([text])[0]
    target = int(np.argmax(p0))
    if token_importance is not None:
        scores, importance = word_importance(spans, token_importance), "shap"
    else:
        deleted = [_rebuild(text, spans[:k] + spans[k + 1:], words[:k] + words[k + 1:]) for k in range(len(words))]
        scores, importance = (list(p0[target] - predict(deleted)[:, target]) if deleted else []), "deletion"
    order = [k for k in np.argsort(-np.asarray(scores, dtype=float), kind="stable")
             if words[k].lower() not in STOP_WORDS and len(words[k]) > 1]
    limit = max(1, min(int(settings["max_words"]), int(np.floor(settings["max_fraction"] * max(len(words), 1)))))
    current, p_current, changed, success = list(words), float(p0[target]), 0, False
    label_now, similarity_now = target, 1.0
    for k in order:
        if changed >= limit:
            break
        options = [c for c, _ in candidates(words[k].lower()) if c.lower() != words[k].lower()]
        if not options:
            continue
        trials = []
        for option in options:
            trial = list(current)
            trial[k] = case_like(words[k], option)
            trials.append(_rebuild(text, spans, trial))
        sims = similarity(text, trials) if similarity is not None else np.ones(len(trials))
        kept = [j for j in range(len(trials)) if sims[j] >= settings["sentence_similarity"]]
        if not kept:
            continue
        probs = predict([trials[j] for j in kept])
        labels = probs.argmax(axis=1)
        flipping = [n for n in range(len(kept)) if labels[n] != target]
        if flipping:
            best = max(flipping, key=lambda n: sims[kept[n]])
        else:
            best = int(np.argmin(probs[:, target]))
            if probs[best, target] >= p_current:
                continue
        current[k] = case_like(words[k], options[kept[best]])
        p_current, label_now, similarity_now = float(probs[best, target]), int(labels[best]), float(sims[kept[best]])
        changed += 1
        if flipping:
            success = True
            break
    return {"original": text, "perturbed": _rebuild(text, spans, current), "success": success,
            "words_changed": changed, "n_words": len(words), "queries": predict.queries - before,
            "target": target, "p_original": float(p0[target]), "p_perturbed": p_current, "label_after": label_now,
            "sentence_similarity": similarity_now, "importance": importance}


def attack_report(texts: Sequence[str], indices: Sequence[int], predict_proba: Predict, candidates: Candidates,
                  similarity: Similarity | None, settings: Mapping[str, Any], *,
                  token_importance: Mapping[int, Sequence[tuple[int, int, float]]] | None = None,
                  base: np.ndarray | None = None, progress: Callable[[float], None] | None = None) -> dict:
    """Attack `texts[i]` for i in `indices`; see the module docstring. `token_importance`: per text index,
    (start, end, SHAP value for the predicted class) of its tokens; `base`: the texts' probabilities."""
    predict = _Counter(predict_proba)
    runs = []
    with tqdm(total=len(indices), desc="adversarial search", unit="text", disable=None, leave=False) as bar:
        for n, i in enumerate(indices):
            shap = (token_importance or {}).get(i)
            runs.append({"index": int(i), **attack_text(texts[i], predict, candidates, similarity, settings,
                                                         token_importance=shap,
                                                         base=None if base is None else base[i])})
            bar.update(1)
            if progress is not None:
                progress(100.0 * (n + 1) / max(len(indices), 1))
    successes = [r for r in runs if r["success"]]
    rate = interval_figures({"success": np.array([float(r["success"]) for r in runs])}, np.ones(len(runs)),
                            n_boot=settings["n_boot"], seed=group_seed(settings["seed"], "adversarial"),
                            confidence=settings["confidence"])["success"]
    total_queries = sum(r["queries"] for r in runs)
    ranked = sorted(runs, key=lambda r: (not r["success"], r["words_changed"], r["index"]))
    return {"n_attacked": len(runs), "n_succeeded": len(successes), "attack_success_rate": rate,
            "mean_words_changed": float(np.mean([r["words_changed"] for r in successes])) if successes else None,
            "mean_fraction_changed": (float(np.mean([r["words_changed"] / max(r["n_words"], 1) for r in successes]))
                                      if successes else None),
            "queries": total_queries, "queries_per_success": total_queries / len(successes) if successes else None,
            "importance": sorted({r["importance"] for r in runs}),
            "examples": [{k: r[k] for k in ("index", "original", "perturbed", "success", "words_changed", "queries",
                                            "p_original", "p_perturbed", "sentence_similarity")}
                         for r in ranked[:settings["n_worst"]]]}
