"""Server-side SVG shared by the charts of the audit report (governance/audits/charts.py) and the datasheet
pages (governance/datasets/charts.py): the frame, the palette, the bar of one group, the horizontal axis.

Pure functions: plain numbers in, SVG markup out. No script, no stylesheet, no network. Each chart is an
`<svg role="img">` named by its own `<title>` and `<desc>`; every label is escaped before the markup is
marked safe. The pages keep the same numbers in a table next to each chart: that table is the text
alternative (screen readers, copy-paste).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
ROW_H = 26
BAR_H = 12
TOP = 46  # room for the visible title and the axis ticks
FONT = 'font-family="system-ui, sans-serif" font-size="13"'
INK = "#1c2430"
GRID = "#dfe3e8"
BAR_FILL = "#1f5fbf"
SMALL_FILL = "#9aa5b1"


@dataclass(frozen=True)
class Bar:
    """One group's value with its interval (either end may be missing); `flagged`: too small to judge."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def svg_open(*, title: str, description: str, height: int, width: int = WIDTH) -> list[str]:
    """The opening of a chart: the `<svg>` element labelled by its title and description, and the title
    drawn at the top (hidden from screen readers, which read the `<title>`)."""
    uid = uuid.uuid4().hex[:8]
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px" aria-labelledby="t-{uid} d-{uid}">',
            f'<title id="t-{uid}">{escape(title)}</title><desc id="d-{uid}">{escape(description)}</desc>',
            f'<text x="0" y="14" fill="{INK}" {FONT} font-weight="600" aria-hidden="true">{escape(title)}</text>']


def svg_close(parts: list[str]) -> SafeString:
    """The chart's markup, closed. Its parts put every text through escape(); numbers are formatted floats."""
    return mark_safe("".join(parts) + "</svg>")  # nosec B308 B703


def axis_scale(domain: tuple[float, float], x0: float, x1: float) -> Callable[[float], float]:
    """The x position of a value on a horizontal axis that spans `domain` from x0 to x1, clamped to it."""
    lo, hi = domain
    span = (hi - lo) or 1.0

    def x(value: float) -> float:
        return x0 + (min(max(value, lo), hi) - lo) / span * (x1 - x0)

    return x


def axis_ticks(*, x: Callable[[float], float], domain: tuple[float, float], height: int,
               label: Callable[[float], str]) -> list[str]:
    """Five ticks evenly across the domain: a grid line down the plot, and the tick's label above it."""
    lo, hi = domain
    span = (hi - lo) or 1.0
    parts = []
    for i in range(5):
        tick = lo + span * i / 4
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{TOP - 4}" y2="{height - 6}" '
                     f'stroke="{GRID}"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{TOP - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
                     f'{escape(label(tick))}</text>')
    return parts
