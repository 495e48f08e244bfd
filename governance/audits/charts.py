"""Server-side SVG for the audit report: bars with interval whiskers, and an intersection heatmap.

The frame, palette, bar type and axis are governance/charts.py's (accessible, escaped, self-contained);
the report keeps the same numbers in a table next to each chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString

from governance.charts import (BAR_FILL, BAR_H, FONT, GRID, INK, ROW_H, SMALL_FILL, TOP, WIDTH, Bar, axis_scale,
                               axis_ticks, finite, svg_close, svg_open)

LABEL_W = 180
VALUE_W = 70
EMPTY_FILL = "#f2f4f7"


@dataclass(frozen=True)
class Cell:
    """One cell of a heatmap: the value that colours it and the row count printed under it."""

    value: float | None
    count: int = 0


def interval_bars(*, title: str, description: str, bars: Sequence[Bar],
                  domain: tuple[float, float] = (0.0, 1.0)) -> SafeString:
    """Horizontal bars from the domain's start to each value, a whisker over [low, high], value at the right."""
    x0, x1 = LABEL_W, WIDTH - VALUE_W
    x = axis_scale(domain, x0, x1)
    height = TOP + ROW_H * max(1, len(bars)) + 8
    parts = svg_open(title=title, description=description, height=height)
    parts += axis_ticks(x=x, domain=domain, height=height, label=lambda tick: f"{tick:.2f}")
    for row, bar in enumerate(bars):
        cy = TOP + ROW_H * row + ROW_H / 2
        name = bar.label + (" (too small)" if bar.flagged else "")
        parts.append(f'<text x="{x0 - 6}" y="{cy + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{escape(name[:30])}</text>')
        if not finite(bar.value):
            parts.append(f'<text x="{x0 + 4}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>undefined</text>')
            continue
        fill = SMALL_FILL if bar.flagged else BAR_FILL
        parts.append(f'<rect x="{x0}" y="{cy - BAR_H / 2:.1f}" width="{max(x(bar.value) - x0, 1):.1f}" '
                     f'height="{BAR_H}" fill="{fill}"/>')
        if finite(bar.low) and finite(bar.high):
            a, b = x(bar.low), x(bar.high)
            parts.append(f'<path d="M{a:.1f},{cy:.1f}H{b:.1f}M{a:.1f},{cy - 6:.1f}V{cy + 6:.1f}'
                         f'M{b:.1f},{cy - 6:.1f}V{cy + 6:.1f}" stroke="{INK}" stroke-width="1.5" fill="none">'
                         f'<title>{escape(f"{bar.label}: interval {bar.low:.3f} to {bar.high:.3f}")}</title></path>')
        parts.append(f'<text x="{x1 + 6}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>{bar.value:.3f}</text>')
    return svg_close(parts)


def _shade(value: float) -> tuple[str, str]:
    """Fill from light (0) to dark blue (1), and a text colour that stays readable on it."""
    t = min(max(value, 0.0), 1.0)
    light, dark = (232, 240, 252), (18, 58, 130)
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(light, dark))
    return f"#{r:02x}{g:02x}{b:02x}", ("#ffffff" if t > 0.5 else INK)


def heatmap(*, title: str, description: str, row_name: str, column_name: str, rows: Sequence[str],
            columns: Sequence[str], cells: dict[tuple[str, str], Cell]) -> SafeString:
    """A grid of rows x columns coloured by each cell's value (0..1), with the value and count printed in it."""
    label_w, cell_w, cell_h, top = 140, 110, 46, 62
    width = label_w + cell_w * max(1, len(columns)) + 10
    height = top + cell_h * max(1, len(rows)) + 10
    parts = svg_open(title=title, description=description, height=height, width=width)
    parts.append(f'<text x="{label_w}" y="32" fill="{INK}" {FONT}>{escape(column_name)} →</text>')
    parts.append(f'<text x="0" y="{top - 8}" fill="{INK}" {FONT}>{escape(row_name)} ↓</text>')
    for j, column in enumerate(columns):
        parts.append(f'<text x="{label_w + cell_w * j + cell_w / 2:.1f}" y="{top - 8}" text-anchor="middle" '
                     f'fill="{INK}" {FONT}>{escape(str(column)[:16])}</text>')
    for i, row in enumerate(rows):
        y = top + cell_h * i
        parts.append(f'<text x="{label_w - 8}" y="{y + cell_h / 2 + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{escape(str(row)[:20])}</text>')
        for j, column in enumerate(columns):
            cell = cells.get((row, column), Cell(None, 0))
            x = label_w + cell_w * j
            if finite(cell.value):
                fill, ink = _shade(cell.value)
                text = f"{cell.value:.3f}"
            else:
                fill, ink, text = EMPTY_FILL, INK, "—"
            tip = f"{row}, {column}: {text} ({cell.count} rows)"
            parts.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}" '
                         f'stroke="{GRID}"><title>{escape(tip)}</title></rect>')
            parts.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + 20}" text-anchor="middle" fill="{ink}" {FONT} '
                         f'font-weight="600">{escape(text)}</text>')
            parts.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + 36}" text-anchor="middle" fill="{ink}" '
                         f'font-family="system-ui, sans-serif" font-size="11">n={cell.count}</text>')
    return svg_close(parts)


# One colour per curve, dark enough on white; curves beyond the palette reuse it with a dashed line.
CURVE_COLOURS = ("#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#0f766e", "#b91c1c")


def reliability_chart(*, title: str, description: str,
                      curves: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> SafeString:
    """Observed positive rate (y) against mean predicted probability (x) per bin, one line per group, over the
    diagonal of perfect calibration; both axes span [0, 1]."""
    size, left, top = 300, 48, TOP
    width = left + size + 200
    height = top + size + 30
    x = axis_scale((0.0, 1.0), left, left + size)

    def y(value: float) -> float:
        return top + size - min(max(value, 0.0), 1.0) * size

    parts = svg_open(title=title, description=description, height=height, width=width)
    parts += [f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="{GRID}"/>',
              f'<path d="M{x(0):.1f},{y(0):.1f}L{x(1):.1f},{y(1):.1f}" stroke="{GRID}" stroke-dasharray="4 3"/>']
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(tick):.1f}" y="{top + size + 16}" text-anchor="middle" fill="{INK}" {FONT}>'
                     f'{tick:.1f}</text>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{tick:.1f}</text>')
    for i, (label, points) in enumerate(curves):
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        dash = ' stroke-dasharray="6 3"' if i >= len(CURVE_COLOURS) else ""
        shown = [(px, py) for px, py in points if finite(px) and finite(py)]
        if len(shown) > 1:
            path = "M" + "L".join(f"{x(px):.1f},{y(py):.1f}" for px, py in shown)
            parts.append(f'<path d="{path}" stroke="{colour}" stroke-width="2" fill="none"{dash}/>')
        for px, py in shown:
            parts.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{colour}">'
                         f'<title>{escape(f"{label}: predicted {px:.3f}, observed {py:.3f}")}</title></circle>')
        ly = top + 14 + 20 * i
        parts.append(f'<rect x="{left + size + 16}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + size + 34}" y="{ly + 1}" fill="{INK}" {FONT}>{escape(str(label)[:22])}</text>')
    return svg_close(parts)
