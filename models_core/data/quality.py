"""Data quality of a text dataset: missing values per column, exact and near duplicates, text lengths, and
the vocabulary most over-represented in each group (the sections of a datasheet that need no bootstrap).

Takes lists of dicts and texts; returns plain JSON dicts. Previews of duplicate texts are PII-redacted.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict

import numpy as np

from models_core.data.pii import redact_text
from models_core.data.rows import group_value, is_missing, normalise_text

TOP_TERMS = 10
MIN_TERM_COUNT = 3
PRIOR_TOKENS = 1000.0
MAX_HIST_BINS = 20
MAX_DUPLICATE_EXAMPLES = 5
PREVIEW_CHARS = 80
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def missing_table(rows: list[dict]) -> dict:
    columns: dict[str, int] = {}
    for r in rows:
        for key in r:
            columns.setdefault(key, 0)
    n = len(rows)
    for r in rows:
        for key in columns:
            if is_missing(r.get(key)):
                columns[key] += 1
    return {key: {"rows": count, "share": count / n} for key, count in columns.items()}


def _duplicate_table(keys: list[tuple[int, str]], labels: list[str | None]) -> dict:
    """keys: (row index, comparison key) for rows with a text."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for idx, key in keys:
        by_key[key].append(idx)
    multi = [idxs for idxs in by_key.values() if len(idxs) > 1]
    conflicting = sum(1 for idxs in multi if len({labels[i] for i in idxs if labels[i] is not None}) > 1)
    multi.sort(key=lambda idxs: (-len(idxs), idxs[0]))
    return {
        "duplicate_rows": len(keys) - len(by_key),
        "groups": len(multi),
        "rows_in_groups": sum(len(idxs) for idxs in multi),
        "conflicting_label_groups": conflicting,
        "largest": [{"size": len(idxs), "rows": idxs[:5],
                     "labels": dict(sorted(Counter(str(labels[i]) for i in idxs).items()))}
                    for idxs in multi[:MAX_DUPLICATE_EXAMPLES]],
    }


def duplicates_report(rows: list[dict], text_column: str, labels: list[str | None]) -> dict:
    texts = [(i, r.get(text_column)) for i, r in enumerate(rows) if not is_missing(r.get(text_column))]
    texts = [(i, t if isinstance(t, str) else str(t)) for i, t in texts]
    exact = _duplicate_table(texts, labels)
    near_keys = [(i, hashlib.sha1(normalise_text(t).encode("utf-8"), usedforsecurity=False).hexdigest())
                 for i, t in texts]
    near = _duplicate_table(near_keys, labels)
    raw = dict(texts)
    for table in (exact, near):
        for example in table["largest"]:
            example["preview"] = redact_text(raw[example["rows"][0]])[:PREVIEW_CHARS]
    return {"exact": exact, "near": near}


def histogram(x: np.ndarray) -> dict:
    lo, hi = int(x.min()), int(x.max())
    if hi - lo + 1 <= MAX_HIST_BINS:
        edges = np.arange(lo, hi + 2, dtype=float)
    else:
        edges = np.histogram_bin_edges(x, bins=MAX_HIST_BINS, range=(lo, hi))
    counts, edges = np.histogram(x, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def describe(x: np.ndarray) -> dict:
    if x.size == 0:
        return {"min": None, "q1": None, "median": None, "q3": None, "max": None, "mean": None,
                "histogram": {"edges": [], "counts": []}}
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return {"min": int(x.min()), "q1": float(q1), "median": float(med), "q3": float(q3), "max": int(x.max()),
            "mean": float(x.mean()), "histogram": histogram(x)}


def text_lengths(texts: list[str]) -> dict:
    chars = np.array([len(t) for t in texts], dtype=np.int64)
    words = np.array([len(t.split()) for t in texts], dtype=np.int64)
    return {"rows": len(texts), "chars": describe(chars), "words": describe(words)}


def tokenize(text: str) -> list[str]:
    """Lower-cased letter sequences (inner apostrophes kept), the vocabulary's terms."""
    return _TOKEN.findall(text.lower())


def vocabulary_report(texts: list[tuple[int, str]], rows: list[dict], sensitive: list[str]) -> dict:
    tokens = {i: tokenize(t) for i, t in texts}
    corpus = Counter()
    for toks in tokens.values():
        corpus.update(toks)
    vocab = sorted(t for t, c in corpus.items() if c >= MIN_TERM_COUNT)
    result: dict[str, dict] = {}
    if len(vocab) < 2:  # the log-odds of the only term against "every other term" is undefined
        return {"method": "log-odds ratio, informative Dirichlet prior (Monroe et al. 2008)",
                "prior_tokens": PRIOR_TOKENS, "attributes": {a: {} for a in sensitive}}
    total_corpus = np.array([corpus[t] for t in vocab], dtype=float)
    alpha = PRIOR_TOKENS * total_corpus / total_corpus.sum()
    alpha0 = alpha.sum()
    for attr in sensitive:
        by_group: dict[str, Counter] = defaultdict(Counter)
        for i, toks in tokens.items():
            by_group[group_value(rows[i].get(attr))].update(toks)
        counts = {g: np.array([c.get(t, 0) for t in vocab], dtype=float) for g, c in by_group.items()}
        everything = sum(counts.values())
        per_group = {}
        for g in sorted(counts):
            y_g = counts[g]
            y_r = everything - y_g
            n_g, n_r = y_g.sum(), y_r.sum()
            if n_g == 0 or n_r == 0:
                per_group[g] = []
                continue
            delta = (np.log((y_g + alpha) / (n_g + alpha0 - y_g - alpha))
                     - np.log((y_r + alpha) / (n_r + alpha0 - y_r - alpha)))
            z = delta / np.sqrt(1.0 / (y_g + alpha) + 1.0 / (y_r + alpha))
            order = np.argsort(-z, kind="stable")
            per_group[g] = [{"term": vocab[j], "z": float(z[j]), "log_odds": float(delta[j]),
                             "count": int(y_g[j])}
                            for j in order[:TOP_TERMS] if z[j] > 0 and y_g[j] > 0]
        result[attr] = per_group
    return {"method": "log-odds ratio, informative Dirichlet prior (Monroe et al. 2008)",
            "prior_tokens": PRIOR_TOKENS, "attributes": result}
