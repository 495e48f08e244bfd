"""Server-side SVG for the audit report: bars with interval whiskers, and an intersection heatmap.

Pure functions: plain numbers in, SVG markup out. No script, no stylesheet, no network. Each chart is an
`<svg role="img">` named by its own `<title>` and `<desc>`; every label is escaped before the markup is
marked safe. The report keeps the same numbers in a table next to each chart: that table is the text
alternative (screen readers, copy-paste).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
LABEL_W = 180
VALUE_W = 70
ROW_H = 26
BAR_H = 12
TOP = 46
FONT = 'font-family="system-ui, sans-serif" font-size="13"'
INK = "#1c2430"
GRID = "#dfe3e8"
BAR_FILL = "#1f5fbf"
SMALL_FILL = "#9aa5b1"
EMPTY_FILL = "#f2f4f7"


@dataclass(frozen=True)
class Bar:
    """One group's value with its interval (either end may be missing); `flagged`: too small to judge."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False


@dataclass(frozen=True)
class Cell:
    """One cell of a heatmap: the value that colours it and the row count printed under it."""

    value: float | None
    count: int = 0


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _open(title: str, description: str, width: int, height: int) -> list[str]:
    uid = uuid.uuid4().hex[:8]
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px" aria-labelledby="t-{uid} d-{uid}">',
            f'<title id="t-{uid}">{escape(title)}</title><desc id="d-{uid}">{escape(description)}</desc>',
            f'<text x="0" y="14" fill="{INK}" {FONT} font-weight="600" aria-hidden="true">{escape(title)}</text>']


def interval_bars(*, title: str, description: str, bars: Sequence[Bar],
                  domain: tuple[float, float] = (0.0, 1.0)) -> SafeString:
    """Horizontal bars from the domain's start to each value, a whisker over [low, high], value at the right."""
    lo_d, hi_d = domain
    span = (hi_d - lo_d) or 1.0
    x0, x1 = LABEL_W, WIDTH - VALUE_W

    def x(v: float) -> float:
        return x0 + (min(max(v, lo_d), hi_d) - lo_d) / span * (x1 - x0)

    height = TOP + ROW_H * max(1, len(bars)) + 8
    parts = _open(title, description, WIDTH, height)
    for i in range(5):
        tick = lo_d + span * i / 4
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP - 4}" y2="{height - 6}" stroke="{GRID}"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{TOP - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
                     f'{tick:.2f}</text>')
    for row, bar in enumerate(bars):
        cy = TOP + ROW_H * row + ROW_H / 2
        name = bar.label + (" (too small)" if bar.flagged else "")
        parts.append(f'<text x="{x0 - 6}" y="{cy + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{escape(name[:30])}</text>')
        if not _finite(bar.value):
            parts.append(f'<text x="{x0 + 4}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>undefined</text>')
            continue
        fill = SMALL_FILL if bar.flagged else BAR_FILL
        parts.append(f'<rect x="{x0}" y="{cy - BAR_H / 2:.1f}" width="{max(x(bar.value) - x0, 1):.1f}" '
                     f'height="{BAR_H}" fill="{fill}"/>')
        if _finite(bar.low) and _finite(bar.high):
            a, b = x(bar.low), x(bar.high)
            parts.append(f'<path d="M{a:.1f},{cy:.1f}H{b:.1f}M{a:.1f},{cy - 6:.1f}V{cy + 6:.1f}'
                         f'M{b:.1f},{cy - 6:.1f}V{cy + 6:.1f}" stroke="{INK}" stroke-width="1.5" fill="none">'
                         f'<title>{escape(f"{bar.label}: interval {bar.low:.3f} to {bar.high:.3f}")}</title></path>')
        parts.append(f'<text x="{x1 + 6}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>{bar.value:.3f}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # nosec B308 B703: every label above went through escape()


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
    parts = _open(title, description, width, height)
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
            if _finite(cell.value):
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
    parts.append("</svg>")
    return mark_safe("".join(parts))  # nosec B308 B703: every label above went through escape()
