"""SVG line charts of a deployment's monitoring over time (the model page): one point per report, with the
bootstrap interval where there is one. Pure: numbers in, escaped SVG out (governance/charts.py's frame)."""

from __future__ import annotations

from django.utils.html import escape

from governance.charts import BAR_FILL, FONT, GRID, INK, finite, svg_close, svg_open

HEIGHT = 180
LEFT, RIGHT, TOP, BOTTOM = 48, 620, 30, 150


def line_chart(*, title: str, description: str, points: list[tuple[str, float | None, float | None, float | None]],
               limit: float | None = None):
    """`points`: (label, value, low, high) in time order; `limit`: the policy's threshold, drawn dashed."""
    values = [v for _, v, lo, hi in points for v in (v, lo, hi) if finite(v)] + ([limit] if finite(limit) else [])
    top = max(values + [0.0]) * 1.1 or 1.0
    parts = svg_open(title=title, description=description, height=HEIGHT)

    def y(value: float) -> float:
        return BOTTOM - (value / top) * (BOTTOM - TOP)

    step = (RIGHT - LEFT) / max(len(points) - 1, 1)
    for tick in (0.0, top / 2, top):
        parts.append(f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                     f'{tick:.2f}</text>')
    if finite(limit):
        parts.append(f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y(limit):.1f}" y2="{y(limit):.1f}" stroke="#b3261e" '
                     f'stroke-dasharray="6 4"/>')
    line = []
    for i, (label, value, low, high) in enumerate(points):
        x = LEFT + i * step
        if finite(low) and finite(high):
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" stroke="{INK}"/>')
        if finite(value):
            line.append(f"{x:.1f},{y(value):.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="3.5" fill="{BAR_FILL}">'
                         f'<title>{escape(label)}: {value:.3f}</title></circle>')
        if i in (0, len(points) - 1):
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
                         f'{escape(label)}</text>')
    if len(line) > 1:
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="{BAR_FILL}" stroke-width="2"/>')
    return svg_close(parts)


def _first_disparity(fairness: dict | None) -> tuple[float | None, float | None, float | None, str]:
    if not fairness or "groupings" not in fairness:
        return None, None, None, ""
    name, grouping = next(iter(fairness["groupings"].items()))
    stat = grouping["disparities"].get("demographic_parity_difference") or {}
    ci = stat.get("ci") or [None, None]
    return stat.get("value"), ci[0], ci[1], name


def monitoring_charts(reports) -> list:
    """The charts of a deployment's reports (oldest first): decisions, PSI of the prediction mix, the
    demographic parity difference with its interval."""
    if not reports:
        return []
    label = [f"{r.window_start:%Y-%m-%d} ({r.window})" for r in reports]
    psi = [(r.results.get("drift") or {}).get("prediction_vs_training_labels", {}).get("psi") for r in reports]
    fairness = [_first_disparity(r.results.get("fairness")) for r in reports]
    grouping = next((f[3] for f in fairness if f[3]), "")
    limit = (reports[-1].results.get("checks") or [{}])
    psi_limit = next((c["threshold"] for c in limit if c.get("rule") == "psi: prediction mix"), None)
    return [
        line_chart(title="Decisions per window", description="How many decisions each monitored window held.",
                   points=[(lbl, float(r.decisions), None, None) for lbl, r in zip(label, reports)]),
        line_chart(title="PSI of the prediction mix against the training labels",
                   description="Population stability index per window; the dashed line is the policy's maximum.",
                   points=[(lbl, p, None, None) for lbl, p in zip(label, psi)], limit=psi_limit),
        line_chart(title=f"Demographic parity difference ({grouping or 'no outcomes yet'}), 95% interval",
                   description="Point estimate and bootstrap interval per window, on decisions with outcomes.",
                   points=[(lbl, f[0], f[1], f[2]) for lbl, f in zip(label, fairness)]),
    ]
