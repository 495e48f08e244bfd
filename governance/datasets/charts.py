"""Server-side SVG charts for the datasheet pages: horizontal bars with interval whiskers, and a histogram.

Self-contained: no script, no stylesheet, no network. Each chart is an `<svg role="img">` labelled by its own
`<title>` and `<desc>`; pages show the same numbers in a table beside it, which is what screen readers and
copy-paste should use. Values are drawn from stored results only.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
LABEL_W = 170          # left column for group names
VALUE_W = 80           # right column for the value text
ROW_H = 26
BAR_H = 12
TOP = 46               # room for the visible title and the axis ticks
FONT = 'font-family="system-ui, sans-serif" font-size="13"'
BAR_FILL = "#1f5fbf"
SMALL_FILL = "#9aa5b1"
INK = "#1c2430"
GRID = "#dfe3e8"


@dataclass(frozen=True)
class Bar:
    """One group: its value and (optional) interval; `flagged` draws it grey and marks its label."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False


def _fmt(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}%" if percent else f"{value:.3g}"


def _open(title: str, description: str, height: int) -> tuple[str, list[str]]:
    uid = uuid.uuid4().hex[:8]
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
            f'width="100%" style="max-width:{WIDTH}px" aria-labelledby="t-{uid} d-{uid}">',
            f'<title id="t-{uid}">{escape(title)}</title><desc id="d-{uid}">{escape(description)}</desc>',
            f'<text x="0" y="14" fill="{INK}" font-family="system-ui, sans-serif" font-size="13" '
            f'font-weight="600" aria-hidden="true">{escape(title)}</text>']
    return uid, head


def nice_max(values: Sequence[float | None], cap: float = 1.0) -> float:
    """The smallest tenth at or above the largest value (at most `cap`), so short bars are not squashed."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    top = max(finite, default=0.0)
    return min(cap, max(0.1, math.ceil(top * 10 - 1e-9) / 10))


def interval_bars(*, title: str, description: str, bars: Sequence[Bar], domain: tuple[float, float] = (0.0, 1.0),
                  marker: float | None = None, marker_label: str = "", percent: bool = True) -> SafeString:
    """Horizontal bars from 0 to each value with a whisker for its interval; `marker` draws a dashed line
    (e.g. the overall rate)."""
    lo_d, hi_d = domain
    span = (hi_d - lo_d) or 1.0
    x0, x1 = LABEL_W, WIDTH - VALUE_W

    def x(v: float) -> float:
        return x0 + (min(max(v, lo_d), hi_d) - lo_d) / span * (x1 - x0)

    height = TOP + ROW_H * max(1, len(bars)) + 8
    _, parts = _open(title, description, height)
    for i in range(5):
        tick = lo_d + span * i / 4
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP - 4}" y2="{height - 6}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{TOP - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
                     f'{escape(_fmt(tick, percent))}</text>')
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
    parts.append("</svg>")
    # Every text in the SVG went through escape(); numbers are formatted floats.
    return mark_safe("".join(parts))  # nosec B308 B703


def histogram(*, title: str, description: str, edges: Sequence[float], counts: Sequence[int],
              unit: str = "") -> SafeString:
    """Vertical bars, one per bin [edges[i], edges[i+1]); the axis names the first, middle and last edge."""
    height, bottom, left, right, top = 226, 30, 48, 12, 36
    _, parts = _open(title, description, height)
    if not counts:
        parts.append(f'<text x="{left}" y="{height / 2}" fill="{INK}" {FONT}>no data</text></svg>')
        # Every text in the SVG went through escape(); numbers are formatted floats.
        return mark_safe("".join(parts))  # nosec B308 B703
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
    parts.append("</svg>")
    # Every text in the SVG went through escape(); numbers are formatted floats.
    return mark_safe("".join(parts))  # nosec B308 B703
