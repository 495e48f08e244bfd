"""Display of a stored "explanations" result (models_core.explain/2, or /1 through schema.upgrade): token heatmaps and global bar charts.

Everything here reshapes stored numbers for the page; nothing is recomputed from the model. A heatmap shows
the explained text exactly as stored, each token's characters (its `start`/`end` offsets) tinted by its
attribution, scaled to the largest |attribution| of that text and method, with the value on hover (`title`)
and in the table that follows it.
"""

from __future__ import annotations

import math

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from governance.datasets.charts import Bar, interval_bars

register = template.Library()

METHOD_NAMES = {"shap": "SHAP", "lime": "LIME", "ig": "Integrated Gradients"}
FLAG_TEXT = {
    "truncated": "truncated to the model's token limit",
    "low_method_agreement": "methods disagree (low agreement)",
    "unstable_across_seeds": "unstable across seeds",
    "unstable_under_perturbation": "unstable under a meaning-preserving edit",
    "ig_incomplete": "Integrated Gradients incomplete",
}
# Diverging colours (towards the explained class / away from it); at most 60% opacity over white keeps
# the dark text above 4.5:1 contrast.
POSITIVE_RGB = (214, 96, 77)
NEGATIVE_RGB = (67, 147, 195)
MAX_ALPHA = 0.6


@register.filter
def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, str(method))


@register.filter
def flag_text(flag: str) -> str:
    return FLAG_TEXT.get(flag, str(flag).replace("_", " "))


def _finite(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _tint(value: float | None, scale: float) -> str:
    if value is None or scale <= 0:
        return "transparent"
    r, g, b = POSITIVE_RGB if value > 0 else NEGATIVE_RGB
    alpha = math.sqrt(min(1.0, abs(value) / scale)) * MAX_ALPHA  # square root: small values stay visible
    return f"rgba({r},{g},{b},{alpha:.2f})"


@register.simple_tag
def token_heatmap(item: dict, method: str):
    """The text of one explanation with each token's characters tinted by its `method` attribution."""
    text = item.get("text") or ""
    tokens = item.get("tokens") or []
    values = [_finite(v) for v in (item.get("attributions") or {}).get(method) or []]
    scale = max((abs(v) for v in values if v is not None), default=0.0)
    parts, cursor = [], 0
    for k, tok in enumerate(tokens):
        start, end = int(tok.get("start", cursor)), int(tok.get("end", cursor))
        if start < cursor or end < start:  # overlapping or odd offsets: show the token's text as given
            start, end = cursor, cursor
        parts.append(escape(text[cursor:start]))
        value = values[k] if k < len(values) else None
        shown = text[start:end] or tok.get("token", "")
        hover = f"{tok.get('token', shown)}: {'—' if value is None else f'{value:+.4f}'} ({method_name(method)})"
        parts.append(f'<span class="tok" style="background:{_tint(value, scale)}" title="{escape(hover)}">'
                     f'{escape(shown)}</span>')
        cursor = max(cursor, end)
    parts.append(escape(text[cursor:]))
    # Every piece of text above went through escape(); colours and numbers are formatted here.
    return mark_safe("".join(parts))  # nosec B308 B703


@register.simple_tag
def token_rows(item: dict, methods: list) -> list[dict]:
    """One row per token with its value under each method, for the accessible table."""
    columns = [(item.get("attributions") or {}).get(m) or [] for m in methods]
    return [{"token": tok.get("token", ""),
             "values": [_finite(col[k]) if k < len(col) else None for col in columns]}
            for k, tok in enumerate(item.get("tokens") or [])]


def _upper(values: list[float]) -> float:
    """A round upper end for the axis whose quarters are round too: 1, 1.2, 2, 4, 6, 8 or 10 × 10^k."""
    top = max((v for v in values if v is not None), default=0.0)
    if top <= 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(top))
    return next(m * scale for m in (1, 1.2, 2, 4, 6, 8, 10) if m * scale >= top - 1e-12)


@register.simple_tag
def token_bars(tokens: list, title: str, description: str, limit: int = 15, key: str = "mean_abs"):
    """A horizontal bar chart of tokens by `key` (mean |attribution| by default)."""
    rows = [t for t in (tokens or [])[:limit] if _finite(t.get(key)) is not None]
    values = [abs(_finite(t[key])) for t in rows]
    bars = [Bar(label=str(t.get("token", "")), value=v) for t, v in zip(rows, values)]
    return interval_bars(title=title, description=description, bars=bars, domain=(0.0, _upper(values)),
                         percent=False)


@register.filter
def explanation_flagged(texts: list) -> list:
    """The explanations that carry at least one flag."""
    return [t for t in texts or [] if t.get("flags")]
