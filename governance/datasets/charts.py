"""Server-side SVG charts for the datasheet pages: horizontal bars with interval whiskers, and a histogram.

The frame, palette, bar type and axis are governance/charts.py's (accessible, escaped, self-contained);
pages show the same numbers in a table beside each chart. Values are drawn from stored results only.
"""

from __future__ import annotations

import math
from typing import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString

from governance.charts import (BAR_FILL, BAR_H, FONT, INK, ROW_H, SMALL_FILL, TOP, WIDTH, Bar, axis_scale,
                               axis_ticks, finite, svg_close, svg_open)

LABEL_W = 170          # left column for group names
VALUE_W = 80           # right column for the value text


def _fmt(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}%" if percent else f"{value:.3g}"


def nice_max(values: Sequence[float | None], cap: float = 1.0) -> float:
    """The smallest tenth at or above the largest value (at most `cap`), so short bars are not squashed."""
    top = max((v for v in values if finite(v)), default=0.0)
    return min(cap, max(0.1, math.ceil(top * 10 - 1e-9) / 10))


def interval_bars(*, title: str, description: str, bars: Sequence[Bar], domain: tuple[float, float] = (0.0, 1.0),
                  marker: float | None = None, marker_label: str = "", percent: bool = True) -> SafeString:
    """Horizontal bars from 0 to each value with a whisker for its interval; `marker` draws a dashed line
    (e.g. the overall rate)."""
    lo_d, hi_d = domain
    x0, x1 = LABEL_W, WIDTH - VALUE_W
    x = axis_scale(domain, x0, x1)
    height = TOP + ROW_H * max(1, len(bars)) + 8
    parts = svg_open(title=title, description=description, height=height)
    parts += axis_ticks(x=x, domain=domain, height=height, label=lambda tick: _fmt(tick, percent))
    for row, bar in enumerate(bars):
        cy = TOP + ROW_H * row + ROW_H / 2
        name = bar.label + (" (small)" if bar.flagged else "")
        parts.append(f'<text x="{x0 - 6}" y="{cy + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{escape(name[:28])}</text>')
        if bar.value is None:
            parts.append(f'<text x="{x0 + 4}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>no data</text>')
            continue
        base = x(max(lo_d, min(0.0, hi_d)))
        left, right = sorted((base, x(bar.value)))
        fill = SMALL_FILL if bar.flagged else BAR_FILL
        parts.append(f'<rect x="{left:.1f}" y="{cy - BAR_H / 2:.1f}" width="{max(right - left, 1):.1f}" '
                     f'height="{BAR_H}" fill="{fill}"/>')
        if bar.low is not None and bar.high is not None:
            a, b = x(bar.low), x(bar.high)
            parts.append(f'<path d="M{a:.1f},{cy:.1f}H{b:.1f}M{a:.1f},{cy - 5:.1f}V{cy + 5:.1f}'
                         f'M{b:.1f},{cy - 5:.1f}V{cy + 5:.1f}" stroke="{INK}" stroke-width="1.5" fill="none"/>')
        parts.append(f'<text x="{x1 + 6}" y="{cy + 4:.1f}" fill="{INK}" {FONT}>{escape(_fmt(bar.value, percent))}'
                     f'</text>')
    if marker is not None:
        parts.append(f'<line x1="{x(marker):.1f}" x2="{x(marker):.1f}" y1="{TOP - 4}" y2="{height - 6}" '
                     f'stroke="{INK}" stroke-dasharray="4 3"><title>{escape(marker_label)}</title></line>')
    return svg_close(parts)


def histogram(*, title: str, description: str, edges: Sequence[float], counts: Sequence[int],
              unit: str = "") -> SafeString:
    """Vertical bars, one per bin [edges[i], edges[i+1]); the axis names the first, middle and last edge."""
    height, bottom, left, right, top = 226, 30, 48, 12, 36
    parts = svg_open(title=title, description=description, height=height)
    if not counts:
        parts.append(f'<text x="{left}" y="{height / 2}" fill="{INK}" {FONT}>no data</text>')
        return svg_close(parts)
    top_count = max(counts) or 1
    plot_w, plot_h = WIDTH - left - right, height - bottom - top
    bin_w = plot_w / len(counts)
    parts.append(f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" fill="{INK}" {FONT}>{top_count}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end" fill="{INK}" {FONT}>0</text>')
    for i, count in enumerate(counts):
        h = plot_h * count / top_count
        parts.append(f'<rect x="{left + i * bin_w + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bin_w - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="{BAR_FILL}"><title>{escape(f"{edges[i]:g}–{edges[i + 1]:g}")}'
                     f' {escape(unit)}: {count}</title></rect>')
    parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{INK}"/>')
    for i in sorted({0, len(counts) // 2, len(counts)}):
        parts.append(f'<text x="{left + i * bin_w:.1f}" y="{height - 10}" text-anchor="middle" fill="{INK}" {FONT}>'
                     f'{escape(f"{edges[i]:g}")}</text>')
    return svg_close(parts)
