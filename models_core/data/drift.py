"""How two versions of a dataset differ (`dataset_drift`): label, group and column shares, population
stability index, Kolmogorov-Smirnov tests on numeric columns and text lengths.

Takes two lists of row dicts; returns a plain JSON dict (schema in `dataset_drift`'s docstring).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats

from models_core.errors import InputError

from models_core.data.quality import missing_table, tokenize
from models_core.data.rows import (Progress, attribute_slices, check_columns, check_rows, check_sensitive,
                                   group_keys, group_value, is_missing, label_key, num, report_progress,
                                   slice_name)

DRIFT_SCHEMA = "models_core.dataset_drift"
SCHEMA_VERSION = 1
PSI_EPSILON = 1e-4
MAX_CATEGORIES = 50


def _shares(values: list[str]) -> dict[str, float]:
    counts = Counter(values)
    n = len(values)
    return {k: c / n for k, c in counts.items()}


def population_stability_index(a: Sequence[str], b: Sequence[str]) -> tuple[float, dict]:
    """PSI = sum over categories of (q - p) ln(q / p), p = share in a, q = share in b, each floored at
    PSI_EPSILON so a category present on one side only gives a large finite term."""
    return psi_from_counts(Counter(list(a)), Counter(list(b)))


def psi_from_counts(counts_a: Mapping[str, float], counts_b: Mapping[str, float]) -> tuple[float, dict]:
    """`population_stability_index` from the counts per category of each side (a GROUP BY's answer)."""
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    if min(counts_a.values(), default=0) < 0 or min(counts_b.values(), default=0) < 0:
        raise InputError("PSI needs non-negative counts")
    pa = {k: v / total_a for k, v in counts_a.items() if v}
    pb = {k: v / total_b for k, v in counts_b.items() if v}
    cats = sorted(set(pa) | set(pb))
    psi = 0.0
    for c in cats:
        p, q = max(pa.get(c, 0.0), PSI_EPSILON), max(pb.get(c, 0.0), PSI_EPSILON)
        psi += (q - p) * math.log(q / p)
    return psi, {c: {"a": pa.get(c, 0.0), "b": pb.get(c, 0.0)} for c in cats}


def psi_level(psi: float) -> str:
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
    rows_a, rows_b = check_rows(rows_a, "rows_a"), check_rows(rows_b, "rows_b")
    sensitive = check_sensitive(sensitive)
    check_columns(rows_a, [text_column, label_column, *sensitive], "dataset_drift rows_a")
    check_columns(rows_b, [text_column, label_column, *sensitive], "dataset_drift rows_b")
    report_progress(progress, "drift_columns", 0)

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
            columns[col] = {"kind": kind, "psi": psi, "level": psi_level(psi), "shares": shares}
        elif kind == "numeric":
            xa = np.array([float(v) for v in va if not is_missing(v)])
            xb = np.array([float(v) for v in vb if not is_missing(v)])
            columns[col] = {"kind": kind, **_ks(xa, xb)}
        else:
            columns[col] = {"kind": kind,
                            "reason": f"more than {MAX_CATEGORIES} distinct non-numeric values"}

    report_progress(progress, "drift_text", 40)
    ta = [str(r.get(text_column)) for r in rows_a if not is_missing(r.get(text_column))]
    tb = [str(r.get(text_column)) for r in rows_b if not is_missing(r.get(text_column))]
    text_length = {
        "chars": _ks(np.array([len(t) for t in ta], dtype=float), np.array([len(t) for t in tb], dtype=float)),
        "words": _ks(np.array([len(t.split()) for t in ta], dtype=float),
                     np.array([len(t.split()) for t in tb], dtype=float)),
    }

    la = [v for v in (label_key(r.get(label_column)) for r in rows_a) if v is not None]
    lb = [v for v in (label_key(r.get(label_column)) for r in rows_b) if v is not None]
    if la and lb:
        psi, shares = population_stability_index(la, lb)
        cats = sorted(shares)
        table = np.array([[Counter(la)[c] for c in cats], [Counter(lb)[c] for c in cats]])
        chi2_p = float(stats.chi2_contingency(table)[1]) if len(cats) > 1 else 1.0
        label_shift = {"psi": psi, "level": psi_level(psi), "shares": shares,
                       "max_abs_share_change": max(abs(s["b"] - s["a"]) for s in shares.values()),
                       "chi2_p_value": chi2_p}
    else:
        label_shift = {"psi": None, "level": None, "shares": {}, "max_abs_share_change": None,
                       "chi2_p_value": None}

    report_progress(progress, "drift_groups", 70)
    groups, new, vanished = {}, [], []
    for attrs in attribute_slices(sensitive):
        name = slice_name(attrs)
        ga, gb = set(group_keys(rows_a, attrs)), set(group_keys(rows_b, attrs))
        groups[name] = {"new": sorted(gb - ga), "vanished": sorted(ga - gb)}
        new.extend({"slice": name, "group": g} for g in groups[name]["new"])
        vanished.extend({"slice": name, "group": g} for g in groups[name]["vanished"])

    miss_a, miss_b = missing_table(rows_a), missing_table(rows_b)
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
    report_progress(progress, "drift_done", 100)
    return {"schema": DRIFT_SCHEMA, "version": SCHEMA_VERSION,
            "rows": {"a": len(rows_a), "b": len(rows_b)},
            "columns": columns, "text_length": text_length, "label_shift": label_shift,
            "groups": groups, "new_groups": new, "vanished_groups": vanished,
            "missing": missing, "vocabulary": vocabulary}
