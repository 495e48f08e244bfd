"""Datasheet for a labelled text dataset: representation and label rates by group, data quality, drift,
and the two classic pre-processing mitigations (reweighing and stratified resampling).

Public functions
----------------
``build_datasheet(rows, text_column, label_column, sensitive, weights=None, positive_label=None, seed=0,
n_boot=1000, min_group_size=30, progress=None) -> dict``
``dataset_drift(rows_a, rows_b, text_column, label_column, sensitive, progress=None) -> dict``
``reweighing_weights(rows, label_column, sensitive, progress=None) -> list[float]``
``stratified_resample(rows, label_column, sensitive, seed, progress=None) -> list[dict]``

Conventions
-----------
* A value is *missing* when the key is absent, or it is None, NaN/NA, or a string that is empty after
  stripping whitespace. A missing sensitive value forms its own group, named ``"(missing)"``, so shares
  add up to one. Group values are shown as ``str(value)``.
* Slices: one per sensitive attribute, plus one per *intersection* (every combination of two or more
  attributes, named ``"gender × age_band"``; its groups are named ``"female × 18-29"``). Only combinations
  that occur are listed; ``n_empty_cells`` counts those of the Cartesian product that never occur.
* ``share`` of a group = its (weighted) rows / all (weighted) rows. ``positive_rate`` = (weighted) rows with
  the positive label / (weighted) rows with a label in the group; null when the group has no labelled row.
* The *reference* group of a slice is its best-represented group (largest weighted share; ties go to the
  first name in sorted order). ``share_gap`` and ``positive_rate_gap`` are group minus reference.
* Confidence intervals (95 %) are percentile bootstrap intervals. Each replicate draws the rows with
  replacement, which is done exactly and cheaply as one multinomial draw over *atoms* (distinct
  combinations of all sensitive values, label state and weight, with probability = atom count / n);
  when atoms are almost as many as rows (arbitrary weights), as n uniform row draws instead.
  Every slice and group is computed from the same replicates, so a gap's interval accounts for the
  correlation between the group and its reference. Replicates in which a group has no labelled row are
  left out of that group's rate interval. Intervals are unreliable for groups flagged as too small
  (e.g. a group with no positive label gets the degenerate interval [0, 0]).
* ``positive_label`` defaults to the label that reads as positive (1, 1.0, true, yes, y, positive, pos,
  any case) when there is exactly one such label; otherwise it must be given. Labels are compared and
  reported as ``str(value)``.

``build_datasheet`` schema (``version`` 1; every float is finite or null)::

    {"schema": "models_core.datasheet", "version": 1,
     "config": {"text_column": "text", "label_column": "hired", "sensitive": ["gender", "age_band"],
                "positive_label": "yes", "weighted": false, "seed": 0, "n_boot": 1000, "min_group_size": 30,
                "ci": {"method": "percentile bootstrap (multinomial over rows)", "level": 0.95}},
     "n_rows": 3000, "total_weight": 3000.0,
     "labels": {"positive_label": "yes", "missing_rows": 0,
                "distribution": {"no": {"rows": 1964, "share": 0.655, "weighted_share": 0.655}, ...}},
     "slices": {"gender": {"attributes": ["gender"], "kind": "attribute", "reference_group": "male",
                           "n_groups": 2, "n_empty_cells": 0, "max_abs_positive_rate_gap": 0.191,
                           "groups": {"female": {"values": {"gender": "female"}, "rows": 1471,
                                                  "labelled_rows": 1471, "positive_rows": 365,
                                                  "weight": 1471.0,
                                                  "share": {"estimate": 0.490, "ci": [0.474, 0.508]},
                                                  "positive_rate": {"estimate": 0.248, "ci": [0.227, 0.271]},
                                                  "share_gap": {"estimate": -0.019, "ci": [-0.052, 0.017]},
                                                  "positive_rate_gap": {"estimate": -0.191,
                                                                        "ci": [-0.224, -0.157]},
                                                  "too_small": false, "flags": []},
                                      "male": {... "positive_rate": {"estimate": 0.439, ...}, ...}}},
                "gender × age_band": {... "kind": "intersection" ...}},
     "small_groups": [{"slice": "...", "group": "...", "rows": 12, "flags": ["fewer than 30 rows"]}],
     "missing": {"subject_id": {"rows": 0, "share": 0.0}, "text": {...}, ...},    # every column seen
     "duplicates": {"exact": {"duplicate_rows": 4, "groups": 3, "rows_in_groups": 7,
                              "conflicting_label_groups": 1,
                              "largest": [{"size": 3, "rows": [4, 90, 1200], "labels": {"no": 2, "yes": 1},
                                           "preview": "first 80 characters, personal data redacted"}]},
                    "near": {... same keys, on normalised text ...}},
     "text_length": {"rows": 3000,
                     "chars": {"min": 80, "q1": 110.0, "median": 121.0, "q3": 140.0, "max": 190,
                               "mean": 123.4, "histogram": {"edges": [...], "counts": [...]}},
                     "words": {...}},
     "vocabulary": {"method": "log-odds ratio, informative Dirichlet prior (Monroe et al. 2008)",
                    "prior_tokens": 1000.0,
                    "attributes": {"gender": {"female": [{"term": "she", "z": 27.1, "log_odds": 4.26,
                                                          "count": 2523}, ...], "male": [...]}}}}

Duplicates: *exact* compares the raw texts; *near* (which includes the exact ones) compares normalised
texts (NFKC, lower case, everything but letters - punctuation, symbols, digits - removed, whitespace
collapsed), hashed with SHA-1. ``duplicate_rows``
counts rows whose text already occurred earlier (``pandas.Series.duplicated().sum()``); ``groups`` counts
distinct texts that occur more than once. Missing texts are left out of duplicates, lengths and vocabulary.

Text lengths are in characters and in whitespace-separated words, unweighted. The histogram has at most
20 equal-width bins (integer-aligned when the range is small).

Vocabulary: for each single attribute and each of its groups, the terms (lower-cased letter sequences,
apostrophes inside words kept) most over-represented in that group versus all other rows, scored by the
z-score of the log-odds ratio with an informative Dirichlet prior whose mean is the corpus frequency and
whose total is ``prior_tokens``; the top ``TOP_TERMS`` terms with z > 0, among terms seen at least
``MIN_TERM_COUNT`` times.

``dataset_drift`` schema: see its docstring.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from models_core.errors import InputError
from models_core.data.pii import redact_text

SCHEMA = "models_core.datasheet"
DRIFT_SCHEMA = "models_core.dataset_drift"
SCHEMA_VERSION = 1
MISSING = "(missing)"
SEPARATOR = " × "
CONFIDENCE = 0.95
POSITIVE_WORDS = {"1", "1.0", "true", "yes", "y", "positive", "pos"}
TOP_TERMS = 10
MIN_TERM_COUNT = 3
PRIOR_TOKENS = 1000.0
MAX_HIST_BINS = 20
MAX_DUPLICATE_EXAMPLES = 5
PREVIEW_CHARS = 80
PSI_EPSILON = 1e-4
MAX_CATEGORIES = 50
MIN_BOOT = 20
# Cells (replicates x atoms) materialised at once by the bootstrap: bounds memory at ~40 MB per array.
BOOT_CELLS_PER_CHUNK = 5_000_000

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_NOT_LETTER = re.compile(r"[\W\d_]+")

Progress = Callable[[dict], None] | None


# ---------------------------------------------------------------------------------------------- helpers
def is_missing(value: Any) -> bool:
    """True for None, NaN/NA/NaT and blank strings (the datasheet's definition of missing)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def group_value(value: Any) -> str:
    return MISSING if is_missing(value) else str(value)


def normalise_text(text: str) -> str:
    """Lower case, everything but letters (punctuation, symbols, digits) removed, whitespace collapsed."""
    return " ".join(_NOT_LETTER.sub(" ", unicodedata.normalize("NFKC", text).lower()).split())


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _report(progress: Progress, stage: str, percent: float, **extra: Any) -> None:
    if progress is not None:
        progress({"stage": stage, "percent": float(percent), **extra})


def _check_rows(rows: Sequence[dict], name: str = "rows") -> list[dict]:
    if isinstance(rows, (str, bytes, dict)):
        raise InputError(f"{name} must be a list of dicts")
    rows = list(rows)
    if not rows:
        raise InputError(f"{name} is empty")
    if not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{name} must be a list of dicts")
    return rows


def _check_sensitive(sensitive: Sequence[str]) -> list[str]:
    if isinstance(sensitive, str):
        raise InputError("sensitive must be a list of column names")
    sensitive = list(sensitive)
    if not sensitive:
        raise InputError("sensitive must name at least one column")
    if len(set(sensitive)) != len(sensitive):
        raise InputError("sensitive has repeated columns")
    return sensitive


def _check_columns(rows: list[dict], columns: Sequence[str], name: str) -> None:
    present = set().union(*(r.keys() for r in rows))
    absent = [c for c in columns if c not in present]
    if absent:
        raise InputError(f"{name}: column(s) {absent} not found in any row")


def _slices(sensitive: list[str]) -> list[tuple[str, ...]]:
    """Single attributes, then every combination of two or more, in a stable order."""
    out: list[tuple[str, ...]] = []
    for k in range(1, len(sensitive) + 1):
        out.extend(itertools.combinations(sensitive, k))
    return out


def _slice_name(attrs: Sequence[str]) -> str:
    return SEPARATOR.join(attrs)


def _group_keys(rows: list[dict], attrs: Sequence[str]) -> list[str]:
    return [SEPARATOR.join(group_value(r.get(a)) for a in attrs) for r in rows]


def _label_key(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def _resolve_positive_label(labels: list[str | None], positive_label: Any) -> str:
    values = sorted({v for v in labels if v is not None})
    if not values:
        raise InputError("no row has a label")
    if positive_label is not None:
        key = str(positive_label)
        if key not in values:
            raise InputError(f"positive_label {positive_label!r} is not among the labels {values[:20]}")
        return key
    candidates = [v for v in values if v.strip().lower() in POSITIVE_WORDS]
    if len(candidates) == 1:
        return candidates[0]
    raise InputError(f"cannot infer the positive label from {values[:20]}; pass positive_label")


def _check_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(list(weights), dtype=float)
    if w.shape != (n,):
        raise InputError(f"weights has {w.size} values for {n} rows")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("weights must be finite and non-negative")
    if w.sum() <= 0:
        raise InputError("weights sum to zero")
    return w


# --------------------------------------------------------------------------------------- group tables
def _percentile_ci(samples: np.ndarray) -> list[float | None] | None:
    """(replicates, k) -> 2 x k bounds; columns with no finite replicate get None."""
    alpha = (1 - CONFIDENCE) / 2
    out = []
    for col in samples.T:
        col = col[np.isfinite(col)]
        if col.size == 0:
            out.append(None)
        else:
            lo, hi = np.quantile(col, [alpha, 1 - alpha])
            out.append([float(lo), float(hi)])
    return out


def _group_tables(rows: list[dict], sensitive: list[str], label_state: np.ndarray, w: np.ndarray,
                  seed: int, n_boot: int, min_group_size: int, progress: Progress) -> tuple[dict, list]:
    n = len(rows)
    slices = _slices(sensitive)
    # Atoms: distinct (all sensitive values, label state, weight); a row bootstrap is a multinomial draw
    # of atom counts with probabilities count/n.
    frame = pd.DataFrame({a: [group_value(r.get(a)) for r in rows] for a in sensitive})
    frame["__state"] = label_state
    frame["__w"] = w
    grouped = frame.groupby(list(frame.columns), sort=True)
    atoms = grouped.size().reset_index(name="__n")
    atom_of_row = grouped.ngroup().to_numpy()
    a_count = atoms["__n"].to_numpy(dtype=np.int64)
    a_w = atoms["__w"].to_numpy(dtype=float)
    a_state = atoms["__state"].to_numpy()

    # Columns of one big design matrix: for every (slice, group) the weight, labelled weight and positive
    # weight an atom contributes.
    columns: list[tuple[str, str]] = []
    blocks_w, blocks_l, blocks_p = [], [], []
    group_info: dict[str, dict] = {}
    for attrs in slices:
        name = _slice_name(attrs)
        value_tuples = list(atoms[list(attrs)].astype(str).itertuples(index=False, name=None))
        keys = [SEPARATOR.join(t) for t in value_tuples]
        values_of = dict(zip(keys, value_tuples))
        groups = sorted(set(keys))
        index = {g: i for i, g in enumerate(groups)}
        onehot = np.zeros((len(atoms), len(groups)))
        onehot[np.arange(len(atoms)), [index[k] for k in keys]] = 1.0
        blocks_w.append(onehot * a_w[:, None])
        blocks_l.append(onehot * (a_w * (a_state >= 0))[:, None])
        blocks_p.append(onehot * (a_w * (a_state == 1))[:, None])
        group_info[name] = {"attrs": attrs, "groups": groups, "offset": len(columns), "onehot": onehot,
                            "values": values_of}
        columns.extend((name, g) for g in groups)
    mw, ml, mp = (np.hstack(b) for b in (blocks_w, blocks_l, blocks_p))
    total_w = float(a_count @ a_w)
    est_w, est_l, est_p = a_count @ mw, a_count @ ml, a_count @ mp
    est_share = est_w / total_w
    with np.errstate(invalid="ignore", divide="ignore"):
        est_rate = np.where(est_l > 0, est_p / np.where(est_l > 0, est_l, 1.0), np.nan)
    counts_rows = a_count @ np.hstack([g["onehot"] for g in group_info.values()])
    counts_lab = a_count @ np.hstack([g["onehot"] * (a_state >= 0)[:, None] for g in group_info.values()])
    counts_pos = a_count @ np.hstack([g["onehot"] * (a_state == 1)[:, None] for g in group_info.values()])

    # Reference per slice and bootstrap.
    ref_col = np.empty(len(columns), dtype=np.int64)
    for info in group_info.values():
        start, k = info["offset"], len(info["groups"])
        shares = est_share[start:start + k]
        ref = start + int(np.argmax(shares))  # argmax takes the first maximum: ties -> first sorted name
        info["reference"] = ref
        ref_col[start:start + k] = ref

    rng = np.random.default_rng(seed)
    probs = a_count / n
    # Both branches draw the same distribution (n rows with replacement); a multinomial over atoms costs
    # O(atoms) per replicate and uniform row draws O(rows), so take the cheaper one.
    by_atoms = len(atoms) * 50 < n
    chunk = max(1, min(n_boot, BOOT_CELLS_PER_CHUNK // max(1, len(atoms) + 3 * len(columns))))
    boot_share, boot_rate = [], []
    done = 0
    with tqdm(total=n_boot, desc="datasheet bootstrap", disable=None, leave=False) as bar:
        while done < n_boot:
            b = min(chunk, n_boot - done)
            if by_atoms:
                c = rng.multinomial(n, probs, size=b).astype(float)  # (b, atoms)
            else:
                draws = atom_of_row[rng.integers(0, n, size=(b, n))]
                c = np.stack([np.bincount(d, minlength=len(atoms)) for d in draws]).astype(float)
            bw, bl, bp = c @ mw, c @ ml, c @ mp  # (b, columns)
            tot = c @ a_w
            with np.errstate(invalid="ignore", divide="ignore"):
                # A replicate can hold only zero-weight rows; its shares are then NaN and left out.
                boot_share.append(bw / tot[:, None])
                boot_rate.append(np.where(bl > 0, bp / np.where(bl > 0, bl, 1.0), np.nan))
            done += b
            bar.update(b)
            _report(progress, "datasheet_bootstrap", 10 + 60 * done / n_boot)
    bs, br = np.vstack(boot_share), np.vstack(boot_rate)
    ci_share = _percentile_ci(bs)
    ci_rate = _percentile_ci(br)
    ci_share_gap = _percentile_ci(bs - bs[:, ref_col])
    ci_rate_gap = _percentile_ci(br - br[:, ref_col])

    out: dict[str, dict] = {}
    small: list[dict] = []
    for name, info in group_info.items():
        attrs, groups, start, ref = info["attrs"], info["groups"], info["offset"], info["reference"]
        table = {}
        for i, g in enumerate(groups):
            col = start + i
            rows_g, lab_g, pos_g = int(counts_rows[col]), int(counts_lab[col]), int(counts_pos[col])
            flags = []
            if rows_g < min_group_size:
                flags.append(f"fewer than {min_group_size} rows")
            if lab_g > 0 and pos_g == 0:
                flags.append("no positive label")
            if lab_g > 0 and pos_g == lab_g:
                flags.append("no negative label")
            if lab_g == 0:
                flags.append("no labelled row")
            rate_gap = est_rate[col] - est_rate[ref]
            table[g] = {
                "values": dict(zip(attrs, info["values"][g])),
                "rows": rows_g,
                "labelled_rows": lab_g,
                "positive_rows": pos_g,
                "weight": float(est_w[col]),
                "share": {"estimate": _num(est_share[col]), "ci": ci_share[col]},
                "positive_rate": {"estimate": _num(est_rate[col]), "ci": ci_rate[col]},
                "share_gap": {"estimate": _num(est_share[col] - est_share[ref]), "ci": ci_share_gap[col]},
                "positive_rate_gap": {"estimate": _num(rate_gap), "ci": ci_rate_gap[col]},
                "too_small": rows_g < min_group_size,
                "flags": flags,
            }
            if flags:
                small.append({"slice": name, "group": g, "rows": rows_g, "flags": flags})
        n_cells = math.prod(len(set(atoms[a].astype(str))) for a in attrs)
        gaps = [abs(t["positive_rate_gap"]["estimate"]) for t in table.values()
                if t["positive_rate_gap"]["estimate"] is not None]
        out[name] = {
            "attributes": list(attrs),
            "kind": "attribute" if len(attrs) == 1 else "intersection",
            "reference_group": groups[ref - start],
            "n_groups": len(groups),
            "n_empty_cells": n_cells - len(groups),
            "max_abs_positive_rate_gap": max(gaps) if gaps else None,
            "groups": table,
        }
    return out, small


# --------------------------------------------------------------------------------------- data quality
def _missing_table(rows: list[dict]) -> dict:
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


def _duplicates(rows: list[dict], text_column: str, labels: list[str | None]) -> dict:
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


def _histogram(x: np.ndarray) -> dict:
    lo, hi = int(x.min()), int(x.max())
    if hi - lo + 1 <= MAX_HIST_BINS:
        edges = np.arange(lo, hi + 2, dtype=float)
    else:
        edges = np.histogram_bin_edges(x, bins=MAX_HIST_BINS, range=(lo, hi))
    counts, edges = np.histogram(x, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _describe(x: np.ndarray) -> dict:
    if x.size == 0:
        return {"min": None, "q1": None, "median": None, "q3": None, "max": None, "mean": None,
                "histogram": {"edges": [], "counts": []}}
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return {"min": int(x.min()), "q1": float(q1), "median": float(med), "q3": float(q3), "max": int(x.max()),
            "mean": float(x.mean()), "histogram": _histogram(x)}


def _text_lengths(texts: list[str]) -> dict:
    chars = np.array([len(t) for t in texts], dtype=np.int64)
    words = np.array([len(t.split()) for t in texts], dtype=np.int64)
    return {"rows": len(texts), "chars": _describe(chars), "words": _describe(words)}


def tokenize(text: str) -> list[str]:
    """Lower-cased letter sequences (inner apostrophes kept), the vocabulary's terms."""
    return _TOKEN.findall(text.lower())


def _vocabulary(texts: list[tuple[int, str]], rows: list[dict], sensitive: list[str]) -> dict:
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


# ---------------------------------------------------------------------------------------- datasheet
def build_datasheet(rows: list[dict], text_column: str, label_column: str, sensitive: list[str],
                    weights: list[float] | None = None, positive_label: Any = None, seed: int = 0,
                    n_boot: int = 1000, min_group_size: int = 30, progress: Progress = None) -> dict:
    """The datasheet of `rows` (schema in the module docstring); JSON-able, deterministic for a seed."""
    rows = _check_rows(rows)
    sensitive = _check_sensitive(sensitive)
    _check_columns(rows, [text_column, label_column, *sensitive], "build_datasheet")
    if n_boot < MIN_BOOT:
        raise InputError(f"n_boot must be at least {MIN_BOOT}")
    if min_group_size < 1:
        raise InputError("min_group_size must be at least 1")
    n = len(rows)
    w = _check_weights(weights, n)
    _report(progress, "datasheet_prepare", 0)

    labels = [_label_key(r.get(label_column)) for r in rows]
    positive = _resolve_positive_label(labels, positive_label)
    label_state = np.array([-1 if v is None else int(v == positive) for v in labels], dtype=np.int8)

    slices, small = _group_tables(rows, sensitive, label_state, w, seed, n_boot, min_group_size, progress)

    labelled = label_state >= 0
    lab_w = float(w[labelled].sum())
    label_frame = pd.DataFrame({"label": labels, "w": w})[labelled]
    per_label = label_frame.groupby("label", sort=True)["w"].agg(["size", "sum"])
    distribution = {
        str(value): {"rows": int(row["size"]), "share": float(row["size"] / labelled.sum()),
                     "weighted_share": float(row["sum"] / lab_w) if lab_w > 0 else None}
        for value, row in per_label.iterrows()
    }

    _report(progress, "datasheet_quality", 75)
    texts = [(i, r.get(text_column)) for i, r in enumerate(rows) if not is_missing(r.get(text_column))]
    texts = [(i, t if isinstance(t, str) else str(t)) for i, t in texts]
    duplicates = _duplicates(rows, text_column, labels)
    lengths = _text_lengths([t for _, t in texts])
    _report(progress, "datasheet_vocabulary", 85)
    vocabulary = _vocabulary(texts, rows, sensitive)
    _report(progress, "datasheet_done", 100)
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "config": {"text_column": text_column, "label_column": label_column, "sensitive": sensitive,
                   "positive_label": positive, "weighted": weights is not None, "seed": seed,
                   "n_boot": n_boot, "min_group_size": min_group_size,
                   "ci": {"method": "percentile bootstrap (multinomial over rows)", "level": CONFIDENCE}},
        "n_rows": n,
        "total_weight": float(w.sum()),
        "labels": {"positive_label": positive, "missing_rows": int((~labelled).sum()),
                   "distribution": distribution},
        "slices": slices,
        "small_groups": small,
        "missing": _missing_table(rows),
        "duplicates": duplicates,
        "text_length": lengths,
        "vocabulary": vocabulary,
    }


# ------------------------------------------------------------------------------------------- drift
def _shares(values: list[str]) -> dict[str, float]:
    counts = Counter(values)
    n = len(values)
    return {k: c / n for k, c in counts.items()}


def population_stability_index(a: Sequence[str], b: Sequence[str]) -> tuple[float, dict]:
    """PSI = sum over categories of (q - p) ln(q / p), p = share in a, q = share in b, each floored at
    PSI_EPSILON so a category present on one side only gives a large finite term."""
    pa, pb = _shares(list(a)), _shares(list(b))
    cats = sorted(set(pa) | set(pb))
    psi = 0.0
    for c in cats:
        p, q = max(pa.get(c, 0.0), PSI_EPSILON), max(pb.get(c, 0.0), PSI_EPSILON)
        psi += (q - p) * math.log(q / p)
    return psi, {c: {"a": pa.get(c, 0.0), "b": pb.get(c, 0.0)} for c in cats}


def _psi_level(psi: float) -> str:
    # Conventional reading of PSI: < 0.1 no significant shift, 0.1-0.25 moderate, > 0.25 major.
    return "stable" if psi < 0.1 else "moderate" if psi <= 0.25 else "major"


def _ks(a: np.ndarray, b: np.ndarray) -> dict:
    if a.size == 0 or b.size == 0:
        return {"ks_statistic": None, "p_value": None, "a": None, "b": None}
    res = stats.ks_2samp(a, b)
    return {"ks_statistic": float(res.statistic), "p_value": float(res.pvalue),
            "a": {"mean": float(a.mean()), "median": float(np.median(a))},
            "b": {"mean": float(b.mean()), "median": float(np.median(b))}}


def _column_kind(values: list[Any]) -> str:
    present = [v for v in values if not is_missing(v)]
    distinct = {str(v) for v in present}
    if len(distinct) <= MAX_CATEGORIES:
        return "categorical"
    if present and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                       for v in present):
        return "numeric"
    return "skipped"


def dataset_drift(rows_a: list[dict], rows_b: list[dict], text_column: str, label_column: str,
                  sensitive: list[str], progress: Progress = None) -> dict:
    """How `rows_b` differs from `rows_a` (the reference, e.g. training data).

    Schema::

        {"schema": "models_core.dataset_drift", "version": 1, "rows": {"a": 3000, "b": 800},
         "columns": {"gender": {"kind": "categorical", "psi": 0.41, "level": "major",
                                "shares": {"female": {"a": 0.49, "b": 0.8}, ...}},
                     "score": {"kind": "numeric", "ks_statistic": ..., "p_value": ..., "a": {...}, "b": {...}},
                     "subject_id": {"kind": "skipped", "reason": "more than 50 distinct non-numeric values"}},
         "text_length": {"chars": {"ks_statistic": 0.3, "p_value": 1e-20, "a": {"mean", "median"}, "b": {...}},
                         "words": {...}},
         "label_shift": {"psi": 0.02, "level": "stable", "shares": {...}, "max_abs_share_change": 0.03,
                         "chi2_p_value": 0.4},
         "groups": {"gender": {"new": [], "vanished": []}, "gender × age_band": {...}},
         "new_groups": [{"slice": "age_band", "group": "65+"}], "vanished_groups": [...],
         "missing": {"text": {"a": 0.0, "b": 0.01}, ...},
         "vocabulary": {"b_tokens": 9000, "oov_token_share": 0.02, "new_terms": ["..."]}}

    Categorical columns are the sensitive and label columns and any other column with at most
    MAX_CATEGORIES distinct values (missing counts as the category "(missing)"); other all-numeric columns
    get a two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp); the rest are listed as skipped.
    Text lengths (characters and words) get the KS test. PSI levels: < 0.1 stable, <= 0.25 moderate,
    else major.
    """
    rows_a, rows_b = _check_rows(rows_a, "rows_a"), _check_rows(rows_b, "rows_b")
    sensitive = _check_sensitive(sensitive)
    _check_columns(rows_a, [text_column, label_column, *sensitive], "dataset_drift rows_a")
    _check_columns(rows_b, [text_column, label_column, *sensitive], "dataset_drift rows_b")
    _report(progress, "drift_columns", 0)

    all_columns: list[str] = []
    for r in itertools.chain(rows_a, rows_b):
        for key in r:
            if key not in all_columns:
                all_columns.append(key)
    columns = {}
    for col in all_columns:
        if col == text_column:
            continue
        va, vb = [r.get(col) for r in rows_a], [r.get(col) for r in rows_b]
        kind = "categorical" if col in sensitive or col == label_column else _column_kind(va + vb)
        if kind == "categorical":
            psi, shares = population_stability_index([group_value(v) for v in va], [group_value(v) for v in vb])
            columns[col] = {"kind": kind, "psi": psi, "level": _psi_level(psi), "shares": shares}
        elif kind == "numeric":
            xa = np.array([float(v) for v in va if not is_missing(v)])
            xb = np.array([float(v) for v in vb if not is_missing(v)])
            columns[col] = {"kind": kind, **_ks(xa, xb)}
        else:
            columns[col] = {"kind": kind,
                            "reason": f"more than {MAX_CATEGORIES} distinct non-numeric values"}

    _report(progress, "drift_text", 40)
    ta = [str(r.get(text_column)) for r in rows_a if not is_missing(r.get(text_column))]
    tb = [str(r.get(text_column)) for r in rows_b if not is_missing(r.get(text_column))]
    text_length = {
        "chars": _ks(np.array([len(t) for t in ta], dtype=float), np.array([len(t) for t in tb], dtype=float)),
        "words": _ks(np.array([len(t.split()) for t in ta], dtype=float),
                     np.array([len(t.split()) for t in tb], dtype=float)),
    }

    la = [v for v in (_label_key(r.get(label_column)) for r in rows_a) if v is not None]
    lb = [v for v in (_label_key(r.get(label_column)) for r in rows_b) if v is not None]
    if la and lb:
        psi, shares = population_stability_index(la, lb)
        cats = sorted(shares)
        table = np.array([[Counter(la)[c] for c in cats], [Counter(lb)[c] for c in cats]])
        chi2_p = float(stats.chi2_contingency(table)[1]) if len(cats) > 1 else 1.0
        label_shift = {"psi": psi, "level": _psi_level(psi), "shares": shares,
                       "max_abs_share_change": max(abs(s["b"] - s["a"]) for s in shares.values()),
                       "chi2_p_value": chi2_p}
    else:
        label_shift = {"psi": None, "level": None, "shares": {}, "max_abs_share_change": None,
                       "chi2_p_value": None}

    _report(progress, "drift_groups", 70)
    groups, new, vanished = {}, [], []
    for attrs in _slices(sensitive):
        name = _slice_name(attrs)
        ga, gb = set(_group_keys(rows_a, attrs)), set(_group_keys(rows_b, attrs))
        groups[name] = {"new": sorted(gb - ga), "vanished": sorted(ga - gb)}
        new.extend({"slice": name, "group": g} for g in groups[name]["new"])
        vanished.extend({"slice": name, "group": g} for g in groups[name]["vanished"])

    miss_a, miss_b = _missing_table(rows_a), _missing_table(rows_b)
    missing = {c: {"a": miss_a.get(c, {"share": 1.0})["share"], "b": miss_b.get(c, {"share": 1.0})["share"]}
               for c in all_columns}

    vocab_a = set()
    for t in ta:
        vocab_a.update(tokenize(t))
    tokens_b = Counter()
    for t in tb:
        tokens_b.update(tokenize(t))
    n_tok_b = sum(tokens_b.values())
    oov = {t: c for t, c in tokens_b.items() if t not in vocab_a}
    vocabulary = {"b_tokens": n_tok_b,
                  "oov_token_share": (sum(oov.values()) / n_tok_b) if n_tok_b else None,
                  "new_terms": [t for t, _ in sorted(oov.items(), key=lambda kv: (-kv[1], kv[0]))[:20]]}
    _report(progress, "drift_done", 100)
    return {"schema": DRIFT_SCHEMA, "version": SCHEMA_VERSION,
            "rows": {"a": len(rows_a), "b": len(rows_b)},
            "columns": columns, "text_length": text_length, "label_shift": label_shift,
            "groups": groups, "new_groups": new, "vanished_groups": vanished,
            "missing": missing, "vocabulary": vocabulary}


# -------------------------------------------------------------------------------------- mitigations
def _cells(rows: list[dict], label_column: str, sensitive: list[str]) -> tuple[list[str], list[str | None]]:
    groups = _group_keys(rows, sensitive)
    labels = [_label_key(r.get(label_column)) for r in rows]
    return groups, labels


def reweighing_weights(rows: list[dict], label_column: str, sensitive: list[str],
                       progress: Progress = None) -> list[float]:
    """Kamiran & Calders (2012) reweighing: w(g, y) = P(g) P(y) / P(g, y), g the full intersection of the
    sensitive attributes, probabilities over labelled rows. Under these weights the label is independent
    of every sensitive slice (each group's weighted label distribution equals the overall one) and group
    shares are unchanged, provided every (group, label) cell has rows: a label that a group lacks cannot
    be weighted into it (the datasheet flags such groups "no positive label" / "no negative label").
    Rows without a label get weight 1."""
    rows = _check_rows(rows)
    sensitive = _check_sensitive(sensitive)
    _check_columns(rows, [label_column, *sensitive], "reweighing_weights")
    groups, labels = _cells(rows, label_column, sensitive)
    pairs = [(g, y) for g, y in zip(groups, labels) if y is not None]
    if not pairs:
        raise InputError("no row has a label")
    n = len(pairs)
    n_g = Counter(g for g, _ in pairs)
    n_y = Counter(y for _, y in pairs)
    n_gy = Counter(pairs)
    _report(progress, "reweighing", 100)
    # P(g)P(y)/P(g,y) = n_g n_y / (n n_gy), computed in that order to keep rounding minimal.
    return [1.0 if y is None else (n_g[g] * n_y[y]) / (n * n_gy[(g, y)]) for g, y in zip(groups, labels)]


def _largest_remainder(total: int, shares: dict[str, float]) -> dict[str, int]:
    raw = {k: total * s for k, s in shares.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    left = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def stratified_resample(rows: list[dict], label_column: str, sensitive: list[str], seed: int,
                        progress: Progress = None) -> list[dict]:
    """Kamiran & Calders uniform resampling: every group (full intersection of the sensitive attributes)
    keeps its size, and its rows per label are resampled to the overall label distribution (largest-
    remainder rounding). A (group, label) cell that must grow keeps all its rows and draws the extra ones
    with replacement; one that must shrink is sampled without replacement. A cell with no rows cannot
    grow, so that group keeps a gap. Rows without a label are kept once. Returns shallow copies, shuffled
    with `seed`."""
    rows = _check_rows(rows)
    sensitive = _check_sensitive(sensitive)
    _check_columns(rows, [label_column, *sensitive], "stratified_resample")
    groups, labels = _cells(rows, label_column, sensitive)
    labelled = [y for y in labels if y is not None]
    if not labelled:
        raise InputError("no row has a label")
    overall = {y: c / len(labelled) for y, c in Counter(labelled).items()}
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    unlabelled: list[int] = []
    for i, (g, y) in enumerate(zip(groups, labels)):
        if y is None:
            unlabelled.append(i)
        else:
            cells[(g, y)].append(i)
    rng = np.random.default_rng(seed)
    chosen: list[int] = list(unlabelled)
    group_sizes = Counter(g for g, y in zip(groups, labels) if y is not None)
    for gi, g in enumerate(sorted(group_sizes)):
        targets = _largest_remainder(group_sizes[g], overall)
        for y in sorted(targets):
            members = cells.get((g, y), [])
            target = targets[y]
            if not members:
                continue
            if target <= len(members):
                picked = rng.choice(members, size=target, replace=False).tolist()
            else:
                picked = members + rng.choice(members, size=target - len(members), replace=True).tolist()
            chosen.extend(picked)
        _report(progress, "stratified_resample", 100 * (gi + 1) / len(group_sizes))
    order = rng.permutation(len(chosen))
    return [dict(rows[chosen[k]]) for k in order]
