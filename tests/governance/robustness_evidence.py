"""Stored robustness results without a trained model: the real models_core.robustness report of a small
deterministic test model over generated texts with names in them, as the audit worker stores it."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

import numpy as np

from models_core.robustness.report import robustness_report

TEXTS = [f"{name} applied. {name.split()[0]} is {'excellent' if i % 3 else 'weak'} with {i + 2} years, and isn't late."
         for i, name in enumerate(["Maria Lopez", "James Smith", "Aisha Khan", "Priya Sharma", "Kwame Mensah",
                                   "Mei Chen"] * 20)]
GENDER = ["female" if i % 2 == 0 else "male" for i in range(len(TEXTS))]


def _praised(text: str) -> bool:
    """'excellent' in any case, or within a typo or two of it."""
    return any(SequenceMatcher(None, word, "excellent").ratio() >= 0.8 for word in re.findall(r"\w+", text.lower()))


def steady_model(batch: list[str]) -> np.ndarray:
    p = np.array([0.9 if _praised(t) else 0.1 for t in batch])
    return np.column_stack([1 - p, p])


def brittle_model(batch: list[str]) -> np.ndarray:
    """Reads lower-case 'excellent' only and scores Arabic names down: casing and name swaps flip it."""
    p = np.array([(0.9 if "excellent" in t else 0.1) - (0.5 if "Aisha" in t else 0.0) for t in batch]).clip(0.05)
    return np.column_stack([1 - p, p])


def robustness_result(model=steady_model, **config) -> dict:
    settings = {"seed": 0, "n_boot": 300, "adversarial": {"candidates": "synonyms",
                                                          "synonyms": {"excellent": ["fine", "EXCELLENT"]}},
                "directional": [{"phrase": "Two missed payments.", "direction": "down"}], **config}
    return robustness_report(TEXTS, model, {"gender": GENDER}, settings)
