"""Charts and tables of an audit's STORED robustness result for the report (nothing is recomputed)."""

from __future__ import annotations

from django import template

from governance.audits.charts import Bar, interval_bars
from governance.audits.robustness import suites_in_order

register = template.Library()


def _bar(label: str, figure: dict | None) -> Bar:
    figure = figure or {}
    low, high = (figure.get("ci") or [None, None])[:2]
    return Bar(label=label, value=figure.get("value"), low=low, high=high)


def _domain(bars: list[Bar]) -> tuple[float, float]:
    """0 to the largest upper bound (at least 0.1, at most 1), so small rates stay readable."""
    top = max([b.high if b.high is not None else (b.value or 0.0) for b in bars] + [0.1])
    return 0.0, min(1.0, round(top * 1.15 + 0.005, 2))


def _described(bars: list[Bar]) -> str:
    return "; ".join(f"{b.label}: {b.value:.3f}" + (f" [{b.low:.3f}, {b.high:.3f}]" if b.low is not None else "")
                     if b.value is not None else f"{b.label}: no text changed" for b in bars)


@register.simple_tag
def robustness_suite_chart(result: dict):
    """Flip rate of each invariance suite with its bootstrap interval."""
    bars = [_bar(s.get("label", name), s.get("flip_rate")) for name, s in suites_in_order(result)]
    return interval_bars(title="Flip rate by invariance suite",
                         description=f"Share of perturbed texts whose predicted class changed, with bootstrap "
                                     f"intervals. {_described(bars)}.", bars=bars, domain=_domain(bars))


@register.simple_tag
def robustness_group_charts(result: dict) -> list[dict]:
    """Per sensitive attribute: the flip rate of each suite in each group (suites that changed a text)."""
    attributes: dict[str, list[Bar]] = {}
    for name, suite in suites_in_order(result):
        for attribute, groups in (suite.get("by_group") or {}).items():
            for group, figures in groups.items():
                attributes.setdefault(attribute, []).append(
                    _bar(f"{suite.get('label', name)[:16]}: {group}", figures.get("flip_rate")))
    return [{"attribute": attribute, "svg": interval_bars(
        title=f"Flip rate by suite and {attribute}",
        description=f"Flip rate of each suite per {attribute} group, with bootstrap intervals. {_described(bars)}.",
        bars=bars, domain=_domain(bars))} for attribute, bars in attributes.items()]


@register.filter
def robustness_groups(suite: dict) -> list[dict]:
    """A suite's per-group figures as rows: attribute, group, texts changed, flipped, flip rate, mean |Δp|."""
    return [{"attribute": attribute, "group": group, **figures}
            for attribute, groups in (suite.get("by_group") or {}).items() for group, figures in groups.items()]


@register.filter
def ordered_suites(result: dict) -> list[tuple[str, dict]]:
    """The result's suites in the order the audit ran them (audits.robustness.suites_in_order)."""
    return suites_in_order(result)
