"""Per-token attributions of one class's probability by SHAP, LIME and Integrated Gradients.

Every function returns, per text, an attribution for each explanation feature of a `TokenizedText`
(the model's non-special tokens), in units of the target class's probability.

- SHAP, `shap_values`: our batched path. Texts short enough get Kernel SHAP over every coalition of
  sizes 1, 2, n-2, n-1 (exact enumeration when 2**n is no more); longer ones get shap's Partition
  (Owen) algorithm (`explain_shapley.owen_values`), identical to `shap.PartitionExplainer` with a `Text`
  masker over the model's tokenizer whenever the budget lets the hierarchy be expanded fully. Both
  score the masked strings of many texts per `predict_proba` call.
- SHAP, `shap_library`: the `shap` library itself (Partition explainer, `Text` masker over a
  `ShapTokenizerAdapter`), for checking and for benchmarks.
- LIME, `lime_many` (`lime_tokens` for one text): `lime.lime_text.LimeTextExplainer` with its default
  word features and word-deletion perturbations, its random draws and its own kernel and Ridge fit, but
  each distinct perturbation built and scored once, many texts per `predict_proba` call.
  A word's weight is shared equally by the model tokens of all its occurrences, so the token weights
  add up to the word weights.
- IG: `models_core.explain.ig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from models_core.errors import InputError
from models_core.explain.kernel import edge_budget, kernel_values, paired_kernel_values
from models_core.explain.shapley import ShapleyValues, balanced_tree, collapse_tree, owen_values, token_tree
from models_core.explain.text import (CachedPredictor, PredictProba, ShapTokenizerAdapter, TokenizedText,
                                      spread_to_tokens, word_view)

# Texts whose edge design does not fit the budget: "owen" (shap's Partition algorithm) or "paired"
# (Kernel SHAP, paired sampling, variance stopping rule); see models_core/README.md for the measurements.
LONG_TEXT_ALGORITHM = "paired"
PAIRED_ROUND = 32
PAIRED_TOLERANCE = 0.05
# A long text's paired Kernel SHAP budget: `max_evals` (500) strings up to PAIRED_BASE_WORDS words, where they
# give Pearson 0.99 with a near-exact reference (30-token texts); beyond, PAIRED_EVALS_PER_EXTRA_WORD more per
# word, within the cap: at 60 words 500 strings left ~8 per player and the Pearson fell to ~0.56, while 2,000
# bring it to ~0.88 (models_core/README.md, test_shap_gap.py). The variance stopping rule still ends a text as
# soon as its estimate is precise enough.
PAIRED_BASE_WORDS = 30
PAIRED_EVALS_PER_EXTRA_WORD = 50
PAIRED_MAX_EVALS_CAP = 2000


def paired_budget(n_players: int, max_evals: int) -> int:
    """The strings paired Kernel SHAP may spend on a text of `n_players` words: `max_evals`, raised beyond
    PAIRED_BASE_WORDS words by PAIRED_EVALS_PER_EXTRA_WORD per word up to PAIRED_MAX_EVALS_CAP (never below
    `max_evals`)."""
    extra = PAIRED_EVALS_PER_EXTRA_WORD * max(0, int(n_players) - PAIRED_BASE_WORDS)
    return max(int(max_evals), min(PAIRED_MAX_EVALS_CAP, int(max_evals) + extra))


@dataclass(frozen=True)
class Attribution:
    values: np.ndarray          # (n_tokens,)
    base_value: float           # f(reference input): all masked (SHAP, IG) or LIME's intercept
    value: float                # f(x)
    info: dict                  # method-specific JSON-able facts (evaluations, delta, ...)


# ---- SHAP ------------------------------------------------------------------------------------------

class ShapTrees:
    """shap's heuristic token hierarchy (`maskers.Text.clustering`), special-token leaves removed."""

    def __init__(self, adapter: ShapTokenizerAdapter) -> None:
        import shap

        self.adapter = adapter
        self.masker = shap.maskers.Text(adapter)

    def __call__(self, tokenized: TokenizedText) -> np.ndarray:
        if len(tokenized) == 1:
            return np.zeros((0, 4))
        enc = self.adapter.plain.encode(tokenized.text, add_special_tokens=True)
        special = [i for i, s in enumerate(enc.special_tokens_mask) if s]
        if len(enc.ids) - len(special) != len(tokenized):
            raise InputError("re-tokenizing the explained text changed its tokens")
        return token_tree(self.masker.clustering(tokenized.text), special)

    def for_view(self, tokenized: TokenizedText, view: TokenizedText, groups: Sequence[Sequence[int]]) -> np.ndarray:
        """The hierarchy over the features of `view` (tokens, or words of `tokenized`): shap's token tree
        with each word's tokens folded into one leaf; a balanced tree in text order if a word is split."""
        if len(view) == len(tokenized):
            return self(tokenized)
        tree = collapse_tree(self(tokenized), groups)
        return tree if tree is not None else balanced_tree(len(view))


def shap_values(predictor: CachedPredictor, trees: ShapTrees, items: Sequence[tuple[TokenizedText, int]],
                max_evals: int = 500, algorithm: str = "auto", players: str = "words",
                seed: int = 0) -> list[Attribution]:
    """SHAP values for many texts, every round of masked strings scored in one batched call.

    players "words" (default): whole words are the players (sub-word tokens masked together, see
    `text.word_view`), and a word's value is shared equally by its tokens; "tokens": every model token.
    algorithm "kernel": `kernel_values` with its deterministic edge design (exact when 2**n fits);
    "owen": `owen_values` (shap's Partition algorithm) with `max_evals`; "paired": `paired_kernel_values`
    (paired sampling, stops on the estimate's standard error, at most `max_evals`); "auto": kernel for
    the texts whose edge design costs at most `max_evals` evaluations, LONG_TEXT_ALGORITHM for the others.
    """
    if algorithm not in ("auto", "kernel", "owen", "paired"):
        raise InputError(f"unknown SHAP algorithm {algorithm!r}; use 'auto', 'kernel', 'owen' or 'paired'")
    if players not in ("words", "tokens"):
        raise InputError(f"unknown SHAP players {players!r}; use 'words' or 'tokens'")
    mask_token = trees.adapter.mask_token
    views = []
    for tokenized, _ in items:
        if players == "words":
            views.append(word_view(tokenized))
        else:
            views.append((tokenized, [[i] for i in range(len(tokenized))]))
    chosen = []
    for view, _ in views:
        n = len(view)
        if algorithm == "kernel" or (algorithm == "auto" and edge_budget(n) <= max_evals):
            chosen.append("kernel")
        elif algorithm == "auto":
            paired_fits = 2 + 2 * n + 2 * PAIRED_ROUND <= max_evals
            chosen.append(LONG_TEXT_ALGORITHM if LONG_TEXT_ALGORITHM == "owen" or paired_fits else "owen")
        elif algorithm == "paired" and 2 + 2 * n + 2 > max_evals:
            chosen.append("owen")  # the budget does not even cover the size-1 coalitions
        else:
            chosen.append(algorithm)
    out: list[Attribution | None] = [None] * len(items)

    def store(indices: list[int], results: list[ShapleyValues], info: dict) -> None:
        for i, r in zip(indices, results):
            (tokenized, _), (view, groups) = items[i], views[i]
            algo = info.get("algorithm") or ("exact" if r.exact else "kernel")
            values = spread_to_tokens(r.values, groups, len(tokenized)) if players == "words" else r.values
            out[i] = Attribution(values=values, base_value=r.base_value, value=r.value,
                                 info={**info, "algorithm": algo, "evaluations": r.evaluations, "players": players,
                                       "n_players": len(view)})

    by_algo = {a: [i for i, c in enumerate(chosen) if c == a] for a in ("kernel", "owen", "paired")}
    if by_algo["kernel"]:
        idx = by_algo["kernel"]
        store(idx, kernel_values(predictor, [(views[i][0], items[i][1]) for i in idx], mask_token), {})
    if by_algo["paired"]:
        idx = by_algo["paired"]
        budgets = [paired_budget(len(views[i][0]), max_evals) for i in idx]
        results = paired_kernel_values(predictor, [(views[i][0], items[i][1]) for i in idx], mask_token,
                                       max_evals=budgets, seed=seed, tolerance=PAIRED_TOLERANCE,
                                       round_pairs=PAIRED_ROUND)
        for i, budget, result in zip(idx, budgets, results):
            store([i], [result], {"algorithm": "paired_kernel", "max_evals": budget, "seed": seed,
                                  "tolerance": PAIRED_TOLERANCE, "base_words": PAIRED_BASE_WORDS,
                                  "evals_per_extra_word": PAIRED_EVALS_PER_EXTRA_WORD})
    if by_algo["owen"]:
        idx = by_algo["owen"]
        store(idx, owen_values(predictor, [(views[i][0], trees.for_view(items[i][0], *views[i]), items[i][1])
                                           for i in idx], mask_token, max_evals=max_evals),
              {"algorithm": "owen", "max_evals": max_evals})
    return out


def _from_shapley(result: ShapleyValues, info: dict) -> Attribution:
    return Attribution(values=result.values, base_value=result.base_value, value=result.value, info=info)


def shap_library(predict_proba: PredictProba, adapter: ShapTokenizerAdapter, tokenized: TokenizedText,
                 target: int, max_evals: int | str = "auto", seed: int | None = None) -> Attribution:
    """shap's own PartitionExplainer with a Text masker, as its documentation uses it (one text)."""
    import shap

    masker = shap.maskers.Text(adapter)
    calls = {"evaluations": 0}

    def f(texts: np.ndarray) -> np.ndarray:
        calls["evaluations"] += len(texts)
        return np.asarray(predict_proba(list(texts)))

    if seed is not None:
        np.random.seed(seed)  # shap breaks priority ties with np.random
    explanation = shap.Explainer(f, masker)([tokenized.text], max_evals=max_evals, silent=True)
    values = np.asarray(explanation.values[0])[:, target]
    base = float(np.asarray(explanation.base_values[0])[target])
    # shap's rows include [CLS]/[SEP], which are invariant and get exactly 0
    enc = adapter.plain.encode(tokenized.text, add_special_tokens=True)
    keep = [i for i, s in enumerate(enc.special_tokens_mask) if not s]
    return Attribution(values=values[keep], base_value=base, value=base + float(values.sum()),
                       info={"algorithm": "shap.PartitionExplainer", "evaluations": calls["evaluations"]})


# ---- LIME ------------------------------------------------------------------------------------------

def lime_tokens(predictor: CachedPredictor, tokenized: TokenizedText, target: int, num_samples: int = 5000,
                seed: int = 0) -> Attribution:
    """LIME (LimeTextExplainer defaults: bag of words, words deleted) mapped onto the model's tokens."""
    return lime_many(predictor, [(tokenized, target)], num_samples, seed)[0]


def lime_many(predictor: CachedPredictor, items: Sequence[tuple[TokenizedText, int]], num_samples: int = 5000,
              seed: int | Sequence[int] = 0) -> list[Attribution]:
    """LIME for many texts, every text's perturbations scored in one batched call.

    Equal to `LimeTextExplainer(random_state=seed).explain_instance(text, f, labels=(target,))` for each
    text (same random draws, same distances, kernel and Ridge fit, by lime's own code), but each distinct
    perturbation is built and scored once: on a 10-word text, 5,000 samples hold fewer than 1,024 distinct
    word subsets. A word's weight is shared equally by the model tokens of all its occurrences.
    `seed`: one for every text, or one per text.
    """
    from lime.lime_text import IndexedString, LimeTextExplainer

    if num_samples < 2:
        raise InputError("LIME needs num_samples >= 2")
    seeds = [seed] * len(items) if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if len(seeds) != len(items):
        raise InputError(f"{len(seeds)} LIME seeds for {len(items)} texts")
    plans = []
    for (tokenized, target), text_seed in zip(items, seeds):
        explainer = LimeTextExplainer(random_state=text_seed)
        indexed = IndexedString(tokenized.text, bow=explainer.bow, split_expression=explainer.split_expression,
                                mask_string=explainer.mask_string)
        data = _lime_design(indexed.num_words(), num_samples, explainer.random_state)
        unique, inverse = np.unique(data.astype(bool), axis=0, return_inverse=True)
        strings = [indexed.inverse_removing(np.flatnonzero(~row)) for row in unique]
        plans.append((explainer, indexed, data, strings, inverse.ravel()))
    predictor([s for plan in plans for s in plan[3]] + [t.text for t, _ in items])  # one batched call
    out = []
    for (tokenized, target), text_seed, (explainer, indexed, data, strings, inverse) in zip(items, seeds, plans):
        fx = float(predictor([tokenized.text])[0, target])
        if indexed.num_words() == 0:  # only punctuation: LIME has no word to weigh
            out.append(Attribution(values=np.zeros(len(tokenized)), base_value=fx, value=fx,
                                   info={"num_samples": num_samples, "distinct": 0, "words": 0, "r2": 1.0,
                                         "seed": text_seed}))
            continue
        labels = predictor(strings)[inverse]
        distances = _lime_distances(data)
        # every word is kept, as explain_instance(num_features >= d) keeps them: select none away
        intercept, weights, score, _ = explainer.base.explain_instance_with_data(
            data, labels, distances, target, num_features=indexed.num_words(), feature_selection="none")
        out.append(Attribution(values=_lime_to_tokens(tokenized, indexed, weights), base_value=float(intercept),
                               value=fx, info={"num_samples": num_samples, "distinct": len(strings),
                                     "words": indexed.num_words(), "r2": float(score), "seed": text_seed}))
    return out


def lime_adaptive(predictor: CachedPredictor, items: Sequence[tuple[TokenizedText, int]], seed: int = 0,
                  start: int = 250, max_samples: int = 1000, top_k_min: float = 0.8,
                  spearman_min: float = 0.8) -> tuple[list[Attribution], list[tuple[Attribution, Attribution]]]:
    """LIME with as many samples as its top-k needs, every sample used once.

    Each text gets two independent neighbourhoods drawn as `LimeTextExplainer` draws them (its sampler on
    RandomStates `seed` and `seed + 1`), `start // 2` rows each at first (the text itself among them): the
    halves. Each half is fitted alone (lime's kernel and Ridge fit; the first half at its first size is exactly
    lime's own explanation with `random_state=seed` and that many samples). Texts whose two halves disagree (top-k
    overlap < top_k_min or Spearman < spearman_min, see `stability.compare`) draw as many rows again into each
    half, up to `max_samples` in all; the rows already scored are kept, so a text at its final size N has cost N
    strings, not the 2 x (N/4 + N/2 + N) of re-drawing both seeds at every size. The reported explanation is lime's
    fit on both halves together (N samples, the text itself once); the two halves are returned beside it
    for the seed-stability comparison (each on half the samples: a conservative view of the whole).

    Returns (explanations, [(first half, second half)]); `info["num_samples"]` is N, `info["settled"]`
    whether the halves agreed, `info["sizes_tried"]` the totals tried.
    """
    from lime.lime_text import IndexedString, LimeTextExplainer

    from models_core.explain.stability import compare

    if start < 4 or max_samples < start:
        raise InputError("LIME needs 4 <= start <= max_samples")
    states = []
    for tokenized, target in items:
        explainer = LimeTextExplainer(random_state=seed)
        indexed = IndexedString(tokenized.text, bow=explainer.bow, split_expression=explainer.split_expression,
                                mask_string=explainer.mask_string)
        states.append({"tokenized": tokenized, "target": int(target), "explainer": explainer, "indexed": indexed,
                       "rngs": [explainer.random_state, np.random.RandomState(seed + 1)],
                       "halves": [np.ones((1, indexed.num_words())), np.ones((1, indexed.num_words()))],
                       "sizes": [], "done": indexed.num_words() == 0})
    predictor([t.text for t, _ in items])
    size = start
    todo = [s for s in states if not s["done"]]
    while todo:
        strings = []
        for s in todo:
            d = s["indexed"].num_words()
            for h, rng in enumerate(s["rngs"]):  # the second half holds one row more: N rows in all with the text
                rows = _lime_rows(d, size // 2 + h - len(s["halves"][h]), rng)
                s["halves"][h] = np.vstack([s["halves"][h], rows])
                strings += [s["indexed"].inverse_removing(np.flatnonzero(row == 0)) for row in rows]
            s["sizes"].append(len(s["halves"][0]) + len(s["halves"][1]) - 1)
        if strings:
            predictor(strings)  # one batched call per round: every new row of every text still growing
        again = []
        for s in todo:
            a, b = (_lime_fit(predictor, s, s["halves"][h], seed + h) for h in (0, 1))
            agree = compare(a.values, b.values)
            s["settled"] = agree["top_k_overlap"] >= top_k_min and (agree["spearman"] is None
                                                                    or agree["spearman"] >= spearman_min)
            s["pair"] = (a, b)
            if not s["settled"] and size < max_samples:
                again.append(s)
        todo = again
        size = min(2 * size, max_samples)
    out, pairs = [], []
    for s in states:
        if not s["sizes"]:  # only punctuation: LIME has no word to weigh
            fx = float(predictor([s["tokenized"].text])[0, s["target"]])
            empty = Attribution(values=np.zeros(len(s["tokenized"])), base_value=fx, value=fx,
                                info={"num_samples": 0, "distinct": 0, "words": 0, "r2": 1.0, "seed": seed,
                                      "settled": True, "sizes_tried": []})
            out.append(empty)
            pairs.append((empty, empty))
            continue
        both = np.vstack([s["halves"][0], s["halves"][1][1:]])
        whole = _lime_fit(predictor, s, both, seed)
        whole.info.update({"settled": s["settled"], "sizes_tried": s["sizes"], "halves": [seed, seed + 1]})
        out.append(whole)
        pairs.append(s["pair"])
    return out, pairs


def _lime_rows(doc_size: int, count: int, random_state: np.random.RandomState) -> np.ndarray:
    """`count` rows of LimeTextExplainer's neighbourhood: 1..d words removed uniformly (lime's own calls)."""
    data = np.ones((max(count, 0), doc_size))
    if count <= 0:
        return data
    sizes = random_state.randint(1, doc_size + 1, count)
    features = range(doc_size)
    for i, size in enumerate(sizes):
        data[i, random_state.choice(features, size, replace=False)] = 0
    return data


def _lime_fit(predictor: CachedPredictor, state: dict, data: np.ndarray, seed: int) -> Attribution:
    """lime's kernel-weighted Ridge fit of the target probability on `data` (row 0: the text itself), mapped
    onto the model's tokens."""
    tokenized, target, indexed = state["tokenized"], state["target"], state["indexed"]
    unique, inverse = np.unique(data.astype(bool), axis=0, return_inverse=True)
    strings = [indexed.inverse_removing(np.flatnonzero(~row)) for row in unique]
    labels = predictor(strings)[inverse.ravel()]
    intercept, weights, score, _ = state["explainer"].base.explain_instance_with_data(
        data, labels, _lime_distances(data), target, num_features=indexed.num_words(), feature_selection="none")
    return Attribution(values=_lime_to_tokens(tokenized, indexed, weights), base_value=float(intercept),
                       value=float(predictor([tokenized.text])[0, target]),
                       info={"num_samples": len(data), "distinct": len(strings), "words": indexed.num_words(),
                             "r2": float(score), "seed": seed})


def _lime_to_tokens(tokenized: TokenizedText, indexed, weights) -> np.ndarray:
    """lime's word weights shared equally by the model tokens of all the word's occurrences."""
    values = np.zeros(len(tokenized))
    for word_id, weight in weights:
        spans = [(int(p), int(p) + len(indexed.word(word_id))) for p in indexed.string_position(word_id)]
        members = [i for i, (start, end) in enumerate(tokenized.offsets)
                   if any(start < w_end and w_start < end for w_start, w_end in spans)]
        for i in members:
            values[i] += weight / len(members)
    return values


def _lime_design(doc_size: int, num_samples: int, random_state: np.random.RandomState) -> np.ndarray:
    """LimeTextExplainer's neighbourhood: row 0 the text, then rows with 1..d words removed uniformly
    (the same calls on the same RandomState as lime, so the same rows)."""
    if doc_size == 0:
        return np.ones((num_samples, 0))
    return np.vstack([np.ones((1, doc_size)), _lime_rows(doc_size, num_samples - 1, random_state)])


def _lime_distances(data: np.ndarray) -> np.ndarray:
    """lime's distance_fn: cosine distance of each row to row 0, times 100 (on the sparse matrix, as lime)."""
    import scipy.sparse as sp
    from sklearn.metrics.pairwise import pairwise_distances

    x = sp.csr_matrix(data)
    return pairwise_distances(x, x[0], metric="cosine").ravel() * 100
