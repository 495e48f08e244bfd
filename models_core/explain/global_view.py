"""Which rows to explain, and what the explanations say taken together.

`select_sample` picks rows stratified by (group, correct/incorrect) so that every group and both kinds
of outcome appear. `global_view` ranks features (whole words since schema /2; model tokens before) by
mean |attribution| over the explained texts, overall and per group of each sensitive attribute, and
lists the features whose importance differs most between the groups of an attribute: likely proxies
for that attribute.

Punctuation and stop words are set aside from the default rankings (`top_tokens`, `by_group`,
`proxies`) and kept, ranked with everything else, under `all`: a reviewer looking for what drives
decisions should not see "." and "the" first, but may ask to. STOP_WORDS are function words
(articles, prepositions, conjunctions, auxiliaries, determiners); personal pronouns are *not* stop words
here: "she" and "his" are the classic proxies for gender and must stay in view.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np

from models_core.errors import InputError

TOP_TOKENS = 20
MIN_OCCURRENCES = 2

STOP_WORDS = frozenset("""
a an the and or but nor so yet if then than as of at by for from in into on onto to up upon with within without
about above across after against along among around before behind below beneath beside besides between beyond
during except inside near off out outside over past since through throughout till toward towards under until
via is are was were be been being am do does did doing done have has had having will would shall should can
could may might must this that these those there here which who whom whose what when where why how all any
both each either neither every some such no not only own same too very just also again further once s t
""".split())


def word_kind(word: str) -> str:
    """"punctuation" (no letter or digit), "stop_word" (STOP_WORDS, any case) or "word"."""
    if not any(ch.isalnum() for ch in word):
        return "punctuation"
    return "stop_word" if word.lower() in STOP_WORDS else "word"


def select_sample(groups: Sequence[str] | Mapping[str, Sequence[str]], correct: Sequence[bool], n: int = 50,
                  seed: int = 0) -> list[int]:
    """Row indices (sorted) of a sample of size min(n, rows), stratified by group and correctness.

    groups: one group label per row, or {attribute: labels per row} (strata are then the combinations).
    Strata get equal shares; a stratum smaller than its share gives the rest to the others; within a
    stratum rows are drawn at random with `seed`.
    """
    correct = [bool(c) for c in correct]
    if isinstance(groups, Mapping):
        columns = [list(v) for _, v in sorted(groups.items())]
        if any(len(c) != len(correct) for c in columns):
            raise InputError("every group column must have one label per row")
        keys = [tuple(col[i] for col in columns) for i in range(len(correct))]
    else:
        keys = [(g,) for g in groups]
        if len(keys) != len(correct):
            raise InputError("groups and correct must have the same length")
    if n < 0:
        raise InputError("n must be non-negative")
    strata: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        strata[(tuple(str(k) for k in key), correct[i])].append(i)
    rng = random.Random(seed)
    pools = {key: rng.sample(rows, len(rows)) for key, rows in sorted(strata.items())}
    chosen: list[int] = []
    target = min(n, len(correct))
    # round-robin over strata in a seeded order: equal shares, small strata exhausted first
    order = sorted(pools)
    rng.shuffle(order)
    while len(chosen) < target:
        for key in order:
            if pools[key] and len(chosen) < target:
                chosen.append(pools[key].pop())
    return sorted(chosen)


def _token_stats(records: Sequence[tuple[Sequence[str], np.ndarray]], n_texts: int) -> dict[str, dict]:
    total_abs: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for tokens, values in records:
        for token, value in zip(tokens, values):
            total_abs[token] += abs(float(value))
            total[token] += float(value)
            count[token] += 1
    return {t: {"mean_abs": total_abs[t] / max(n_texts, 1), "mean": total[t] / max(n_texts, 1),
                "occurrences": count[t]} for t in total_abs}


def _ranked(stats: Mapping[str, dict], top: int) -> list[dict]:
    rows = [{"token": t, "kind": word_kind(t), "mean_abs": round(s["mean_abs"], 8), "mean": round(s["mean"], 8),
             "occurrences": s["occurrences"]} for t, s in stats.items() if s["occurrences"] >= MIN_OCCURRENCES]
    rows.sort(key=lambda r: (-r["mean_abs"], r["token"]))
    return rows[:top]


def global_view(tokens: Sequence[Sequence[str]], attributions: Sequence[np.ndarray],
                groups: Mapping[str, Sequence[str]], method: str, top: int = TOP_TOKENS, unit: str = "word") -> dict:
    """Mean |attribution| per feature (lower-cased word or token) over the texts, overall and by group.

    Means are over texts (a text without the feature contributes 0), so frequent important features rank
    above rare ones; features seen fewer than MIN_OCCURRENCES times are left out of the rankings.
    `proxies[attribute]` lists features by the largest gap in mean |attribution| between two groups.
    The default rankings leave punctuation and stop words out (`set_aside` counts them); `all` holds the
    same rankings with every feature. Each entry carries its `kind` (`word_kind`).
    """
    norm = [[t.lower() for t in toks] for toks in tokens]
    records = list(zip(norm, attributions))
    shown = _rankings(records, groups, top, keep=lambda t: word_kind(t) == "word")
    everything = _rankings(records, groups, top, keep=lambda t: True)
    seen = {t for toks in norm for t in toks}
    set_aside = {"punctuation": sorted(t for t in seen if word_kind(t) == "punctuation"),
                 "stop_words": sorted(t for t in seen if word_kind(t) == "stop_word")}
    return {"method": method, "unit": unit, "n_texts": len(records), "min_occurrences": MIN_OCCURRENCES,
            **shown, "set_aside": set_aside, "all": everything}


def _rankings(records: Sequence[tuple[Sequence[str], np.ndarray]], groups: Mapping[str, Sequence[str]], top: int,
              keep) -> dict:
    records = [([t for t in toks if keep(t)], [v for t, v in zip(toks, values) if keep(t)]) for toks, values in records]
    view = {"top_tokens": _ranked(_token_stats(records, len(records)), top), "by_group": {}, "proxies": {}}
    for attribute, labels in sorted(groups.items()):
        labels = [str(v) for v in labels]
        if len(labels) != len(records):
            raise InputError(f"group column {attribute!r} has {len(labels)} labels for {len(records)} texts")
        per_group = {}
        for label in sorted(set(labels)):
            members = [r for r, g in zip(records, labels) if g == label]
            per_group[label] = _token_stats(members, len(members))
        view["by_group"][attribute] = {label: _ranked(stats, top) for label, stats in per_group.items()}
        view["proxies"][attribute] = _proxies(per_group, top)
    return view


def _proxies(per_group: Mapping[str, Mapping[str, dict]], top: int) -> list[dict]:
    labels = sorted(per_group)
    if len(labels) < 2:
        return []
    vocabulary = set()
    for stats in per_group.values():
        vocabulary |= {t for t, s in stats.items()}
    rows = []
    for token in vocabulary:
        occurrences = sum(per_group[g].get(token, {}).get("occurrences", 0) for g in labels)
        if occurrences < MIN_OCCURRENCES:
            continue
        by_group = {g: per_group[g].get(token, {"mean_abs": 0.0})["mean_abs"] for g in labels}
        high = max(labels, key=lambda g: by_group[g])
        low = min(labels, key=lambda g: by_group[g])
        signed = {g: round(per_group[g].get(token, {"mean": 0.0})["mean"], 8) for g in labels}
        rows.append({"token": token, "kind": word_kind(token), "gap": round(by_group[high] - by_group[low], 8), "higher_in": high,
                     "lower_in": low, "mean_abs_by_group": {g: round(v, 8) for g, v in by_group.items()},
                     "mean_by_group": signed, "occurrences": occurrences})
    rows.sort(key=lambda r: (-r["gap"], r["token"]))
    return rows[:top]
