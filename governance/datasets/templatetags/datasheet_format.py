"""Formatting filters for stored datasheet and drift numbers (rendering only, never recomputing)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pct(value, digits=1):
    """0.2481 -> '24.8%'; None -> '—'."""
    if value is None or value == "":
        return "—"
    try:
        return f"{100 * float(value):.{int(digits)}f}%"
    except (TypeError, ValueError):
        return value


@register.filter
def pp(value, digits=1):
    """A difference of proportions in percentage points, signed: -0.191 -> '−19.1 pp'."""
    if value is None or value == "":
        return "—"
    number = 100 * float(value)
    if abs(number) < 0.5 * 10 ** -int(digits):
        number = 0.0
    return f"{number:+.{int(digits)}f} pp".replace("-", "−")


@register.filter
def points(value, digits=1):
    """A size of a difference of proportions, unsigned: 0.191 -> '19.1 pp'."""
    if value is None or value == "":
        return "—"
    return f"{100 * float(value):.{int(digits)}f} pp"


@register.filter
def est_ci(entry, kind="pct"):
    """{'estimate': e, 'ci': [lo, hi]} -> '24.8% [22.7%, 27.1%]' (kind 'pp' for gaps)."""
    if not isinstance(entry, dict) or entry.get("estimate") is None:
        return "—"
    fmt = pp if kind == "pp" else pct
    text = fmt(entry["estimate"])
    bounds = entry.get("ci")
    if bounds and bounds[0] is not None and bounds[1] is not None:
        text += f" [{fmt(bounds[0])}, {fmt(bounds[1])}]"
    return text


@register.filter
def excludes_zero(entry) -> bool:
    """True when an interval lies wholly above or below zero."""
    bounds = entry.get("ci") if isinstance(entry, dict) else None
    return bool(bounds and bounds[0] is not None and bounds[1] is not None and (bounds[0] > 0 or bounds[1] < 0))


@register.filter
def num(value, digits=3):
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}g}" if abs(float(value)) < 1e-3 and value != 0 \
            else f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return value


@register.filter
def get(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None
