"""The rows of a labelled text dataset (plain dicts): missing values, groups, slices, labels, weights.

Shared by the datasheet, drift and reweighing modules: validation of the rows, sensitive columns and
weights, the group each row falls in for a slice of sensitive attributes, and the positive label.
Takes lists of dicts; returns plain values. Imports only numpy, pandas and models_core.errors.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from models_core.errors import InputError

MISSING = "(missing)"
SEPARATOR = " × "
POSITIVE_WORDS = {"1", "1.0", "true", "yes", "y", "positive", "pos"}
_NOT_LETTER = re.compile(r"[\W\d_]+")
Progress = Callable[[dict], None] | None


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


def num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def report_progress(progress: Progress, stage: str, percent: float, **extra: Any) -> None:
    if progress is not None:
        progress({"stage": stage, "percent": float(percent), **extra})


def check_rows(rows: Sequence[dict], name: str = "rows") -> list[dict]:
    if isinstance(rows, (str, bytes, dict)):
        raise InputError(f"{name} must be a list of dicts")
    rows = list(rows)
    if not rows:
        raise InputError(f"{name} is empty")
    if not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{name} must be a list of dicts")
    return rows


def check_sensitive(sensitive: Sequence[str]) -> list[str]:
    if isinstance(sensitive, str):
        raise InputError("sensitive must be a list of column names")
    sensitive = list(sensitive)
    if not sensitive:
        raise InputError("sensitive must name at least one column")
    if len(set(sensitive)) != len(sensitive):
        raise InputError("sensitive has repeated columns")
    return sensitive


def check_columns(rows: list[dict], columns: Sequence[str], name: str) -> None:
    present = set().union(*(r.keys() for r in rows))
    absent = [c for c in columns if c not in present]
    if absent:
        raise InputError(f"{name}: column(s) {absent} not found in any row")


def attribute_slices(sensitive: list[str]) -> list[tuple[str, ...]]:
    """Single attributes, then every combination of two or more, in a stable order."""
    out: list[tuple[str, ...]] = []
    for k in range(1, len(sensitive) + 1):
        out.extend(itertools.combinations(sensitive, k))
    return out


def slice_name(attrs: Sequence[str]) -> str:
    return SEPARATOR.join(attrs)


def group_keys(rows: list[dict], attrs: Sequence[str]) -> list[str]:
    return [SEPARATOR.join(group_value(r.get(a)) for a in attrs) for r in rows]


def label_key(value: Any) -> str | None:
    return None if is_missing(value) else str(value)


def resolve_positive_label(labels: list[str | None], positive_label: Any) -> str:
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


def check_weights(weights: Sequence[float] | None, n: int) -> np.ndarray:
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
