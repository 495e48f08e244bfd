"""Readers of stored explanation reports across schema versions.

"models_core.explain/1" (before issue 18) stored each text's method agreement under "stability" (the
smallest Spearman correlation between methods and LIME's two seeds, clipped at 0, top-k with k = min(5, n))
and ranked model tokens, punctuation included, in the global view. "models_core.explain/2" stores it
under "agreement" (unclipped, k < n, its parts), real stability under "stability", and ranks whole words
with punctuation and stop words set aside. Stored results are never rewritten (their hash is evidence);
`upgrade` returns a copy a /2 reader can show, with `legacy` saying what the old numbers mean.
"""

from __future__ import annotations

import copy

SCHEMA_V1 = "models_core.explain/1"
SCHEMA_V2 = "models_core.explain/2"


def upgrade(report: dict | None) -> dict | None:
    """A /2-shaped copy of a stored report (the report itself when it is already /2 or not a report)."""
    if not isinstance(report, dict) or report.get("schema", SCHEMA_V1) != SCHEMA_V1 or not report.get("texts"):
        return report
    out = copy.deepcopy(report)
    for text in out.get("texts") or []:
        if not isinstance(text, dict) or "agreement" in text:
            continue
        old = text.pop("stability", None) or {}
        pairs = list(old.get("methods") or [])
        overlaps = [p.get("top_k_overlap") for p in pairs if p.get("top_k_overlap") is not None]
        text["agreement"] = {"score": old.get("score"), "min_top_k_overlap": min(overlaps) if overlaps else None,
                             "k": min(5, len(text.get("tokens") or [])), "weakest": None, "methods": pairs,
                             "clipped_at_zero": True, "includes_seed_pairs": bool(old.get("seeds"))}
        seeds = old.get("seeds") or {}
        text["stability"] = {"score": None, "perturbation": None, "words_compared": 0, "methods": {},
                             "seeds": seeds} if seeds else None
    glob = out.get("global")
    if isinstance(glob, dict):
        glob.setdefault("unit", "token")
    out["legacy"] = {"schema": SCHEMA_V1,
                     "note": "explained before issue 18: the agreement score is the smallest rank correlation "
                             "between methods and between LIME's seeds, clipped at 0, with top-k = min(5, tokens); "
                             "no perturbation stability was measured; the global view ranks model tokens, "
                             "punctuation and stop words included"}
    return out
