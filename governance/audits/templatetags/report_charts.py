"""Charts and summaries of an audit's STORED results for the report templates (nothing is recomputed)."""

from __future__ import annotations

from django import template

from governance.audits.charts import Bar, Cell, heatmap, interval_bars, reliability_chart

register = template.Library()

CHART_METRIC = "selection_rate"


def _ci(stat: dict | None) -> tuple[float | None, float | None, float | None]:
    stat = stat or {}
    bounds = stat.get("ci") or [None, None]
    return stat.get("value"), bounds[0], bounds[1]


@register.simple_tag
def group_rate_chart(name: str, grouping: dict, confidence: float | None = None):
    """Selection rate of each group of one grouping, with its bootstrap interval as a whisker."""
    bars = []
    for group, data in grouping.get("groups", {}).items():
        if not data.get("count"):
            continue
        value, low, high = _ci((data.get("metrics") or {}).get(CHART_METRIC))
        bars.append(Bar(label=str(group), value=value, low=low, high=high, flagged=bool(data.get("too_small"))))
    level = f"{100 * confidence:.0f}% " if confidence else ""
    description = "; ".join(
        f"{b.label}: {b.value:.3f}" + (f" [{b.low:.3f}, {b.high:.3f}]" if b.low is not None and b.high is not None
                                       else "") if b.value is not None else f"{b.label}: undefined" for b in bars)
    return interval_bars(title=f"Selection rate by {name}",
                         description=f"Share predicted positive per group, with {level}bootstrap intervals. "
                                     f"{description}.", bars=bars)


@register.simple_tag
def intersection_heatmaps(fairness: dict) -> list[dict]:
    """One heatmap per two-attribute grouping (rows: first attribute, columns: second), by selection rate."""
    maps = []
    for name, grouping in (fairness.get("groupings") or {}).items():
        attributes = grouping.get("attributes") or []
        if len(attributes) != 2:
            continue
        first, second = attributes
        rows, columns, cells = [], [], {}
        for data in grouping.get("groups", {}).values():
            r, c = str(data["values"][first]), str(data["values"][second])
            rows += [r] if r not in rows else []
            columns += [c] if c not in columns else []
            value = _ci((data.get("metrics") or {}).get(CHART_METRIC))[0]
            cells[(r, c)] = Cell(value=value if data.get("count") else None, count=int(data.get("count") or 0))
        rows, columns = sorted(rows), sorted(columns)
        summary = "; ".join(f"{r}, {c}: " + (f"{cells[(r, c)].value:.3f}" if cells.get((r, c)) and
                                              cells[(r, c)].value is not None else "no rows")
                            for r in rows for c in columns)
        maps.append({"name": name, "svg": heatmap(
            title=f"Selection rate by {first} × {second}",
            description=f"Share predicted positive in each intersection of {first} (rows) and {second} (columns). "
                        f"{summary}.", row_name=first, column_name=second, rows=rows, columns=columns,
            cells=cells)})
    return maps


@register.filter
def verdict_summary(results) -> dict:
    """{'passed': n, 'failed': n, 'total': n} of a stored fairness verdict (a list of judged rules)."""
    results = results if isinstance(results, list) else []
    passed = sum(1 for r in results if r.get("passed"))
    return {"passed": passed, "failed": len(results) - passed, "total": len(results)}


@register.simple_tag
def calibration_charts(name: str, grouping: dict, confidence: float | None = None) -> dict:
    """ROC AUC (bars with interval whiskers) and ECE of each group of one grouping, and its reliability curves."""
    auc, ece, curves = [], [], []
    for group, data in grouping.get("groups", {}).items():
        if not data.get("count"):
            continue
        flagged = bool(data.get("too_small"))
        value, low, high = _ci(data.get("roc_auc"))
        auc.append(Bar(label=str(group), value=value, low=low, high=high, flagged=flagged))
        value, low, high = _ci(data.get("ece"))
        ece.append(Bar(label=str(group), value=value, low=low, high=high, flagged=flagged))
        curves.append((str(group), [(b.get("mean_predicted"), (b.get("observed_rate") or {}).get("value"))
                                    for b in data.get("reliability") or [] if b.get("count")]))
    level = f"{100 * confidence:.0f}% " if confidence else ""

    def said(bars):
        return "; ".join(f"{b.label}: {b.value:.3f}" if b.value is not None else f"{b.label}: undefined"
                         for b in bars)

    top = max([b.high or b.value or 0.0 for b in ece] + [0.1])
    return {
        "auc": interval_bars(title=f"ROC AUC by {name}", bars=auc,
                             description=f"Area under the ROC curve per group with {level}bootstrap intervals; "
                                         f"undefined where a group has one class. {said(auc)}."),
        "ece": interval_bars(title=f"Expected calibration error by {name}", bars=ece,
                             domain=(0.0, min(1.0, round(top * 1.2 + 0.005, 2))),
                             description=f"ECE per group (lower is better) with {level}bootstrap intervals. "
                                         f"{said(ece)}."),
        "reliability": reliability_chart(title=f"Reliability by {name}", curves=curves,
                                         description="Observed positive rate against mean predicted probability "
                                                     "per score bin, one line per group; the dashed diagonal is "
                                                     "perfect calibration."),
    }
