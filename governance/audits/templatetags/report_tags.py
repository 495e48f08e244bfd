"""Small formatting filters for stored results (the report renders stored numbers, never recomputes)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def get(mapping, key):
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def num(value, digits=3):
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return value


@register.filter
def ci(metric, digits=3):
    """'0.250 [0.230, 0.270]' from {'value': .., 'ci': [..]}."""
    if not isinstance(metric, dict) or metric.get("value") is None:
        return "—"
    text = num(metric["value"], digits)
    bounds = metric.get("ci")
    if bounds and bounds[0] is not None and bounds[1] is not None:
        text += f" [{num(bounds[0], digits)}, {num(bounds[1], digits)}]"
    return text


@register.filter
def label(name):
    return str(name).replace("_", " ")
