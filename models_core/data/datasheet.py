"""Datasheet for a labelled text dataset: representation and label rates by group (with bootstrap
intervals) and data quality. Drift between two versions is `models_core.data.drift`; the pre-processing
mitigations (reweighing, stratified resampling) are `models_core.data.reweighing`; the row conventions
below are `models_core.data.rows`'.

Public function
---------------
``build_datasheet(rows, text_column, label_column, sensitive, weights=None, positive_label=None, seed=0,
n_boot=1000, min_group_size=30, progress=None) -> dict``

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

``dataset_drift`` schema: see its docstring in models_core.data.drift.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from models_core.data.quality import duplicates_report, missing_table, text_lengths, vocabulary_report
from models_core.data.rows import (SEPARATOR, Progress, attribute_slices, check_columns, check_rows,
                                   check_sensitive, check_weights, group_value, is_missing, label_key, num,
                                   report_progress, resolve_positive_label, slice_name)
from models_core.errors import InputError

SCHEMA = "models_core.datasheet"
SCHEMA_VERSION = 1
CONFIDENCE = 0.95
MIN_BOOT = 20
# Cells (replicates x atoms) materialised at once by the bootstrap: bounds memory at ~40 MB per array.
BOOT_CELLS_PER_CHUNK = 5_000_000


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
    slices = attribute_slices(sensitive)
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
        name = slice_name(attrs)
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
            report_progress(progress, "datasheet_bootstrap", 10 + 60 * done / n_boot)
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
                "share": {"estimate": num(est_share[col]), "ci": ci_share[col]},
                "positive_rate": {"estimate": num(est_rate[col]), "ci": ci_rate[col]},
                "share_gap": {"estimate": num(est_share[col] - est_share[ref]), "ci": ci_share_gap[col]},
                "positive_rate_gap": {"estimate": num(rate_gap), "ci": ci_rate_gap[col]},
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


# ---------------------------------------------------------------------------------------- datasheet
def build_datasheet(rows: list[dict], text_column: str, label_column: str, sensitive: list[str],
                    weights: list[float] | None = None, positive_label: Any = None, seed: int = 0,
                    n_boot: int = 1000, min_group_size: int = 30, progress: Progress = None) -> dict:
    """The datasheet of `rows` (schema in the module docstring); JSON-able, deterministic for a seed."""
    rows = check_rows(rows)
    sensitive = check_sensitive(sensitive)
    check_columns(rows, [text_column, label_column, *sensitive], "build_datasheet")
    if n_boot < MIN_BOOT:
        raise InputError(f"n_boot must be at least {MIN_BOOT}")
    if min_group_size < 1:
        raise InputError("min_group_size must be at least 1")
    n = len(rows)
    w = check_weights(weights, n)
    report_progress(progress, "datasheet_prepare", 0)

    labels = [label_key(r.get(label_column)) for r in rows]
    positive = resolve_positive_label(labels, positive_label)
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

    report_progress(progress, "datasheet_quality", 75)
    texts = [(i, r.get(text_column)) for i, r in enumerate(rows) if not is_missing(r.get(text_column))]
    texts = [(i, t if isinstance(t, str) else str(t)) for i, t in texts]
    duplicates = duplicates_report(rows, text_column, labels)
    lengths = text_lengths([t for _, t in texts])
    report_progress(progress, "datasheet_vocabulary", 85)
    vocabulary = vocabulary_report(texts, rows, sensitive)
    report_progress(progress, "datasheet_done", 100)
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
        "missing": missing_table(rows),
        "duplicates": duplicates,
        "text_length": lengths,
        "vocabulary": vocabulary,
    }
