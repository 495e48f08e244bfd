"""Shapes stored datasheets and drift results for the pages: chart SVGs and side-by-side tables.

Nothing here recomputes a statistic; it only arranges the numbers the worker stored (and the drift the
selector returned) for the templates.
"""

from __future__ import annotations

from governance.datasets.charts import Bar, histogram, interval_bars, nice_max


def _bar(label: str, entry: dict, flagged: bool) -> Bar:
    ci = entry.get("ci") or [None, None]
    return Bar(label=label, value=entry.get("estimate"), low=ci[0], high=ci[1], flagged=flagged)


def overall_positive_rate(sheet: dict) -> float | None:
    positive = sheet["labels"]["positive_label"]
    entry = sheet["labels"]["distribution"].get(positive)
    return entry["weighted_share"] if entry else None


def ordered_slices(sheet: dict) -> list[tuple[str, dict]]:
    """Slices in the order the version declares its attributes, single attributes before intersections
    (stored JSON has its keys sorted)."""
    order = {a: i for i, a in enumerate(sheet["config"]["sensitive"])}
    return sorted(sheet["slices"].items(),
                  key=lambda kv: (len(kv[1]["attributes"]), [order.get(a, len(order)) for a in kv[1]["attributes"]]))


def _rate_top(groups: dict) -> float:
    return nice_max([(d["positive_rate"].get("ci") or [None, None])[1] or d["positive_rate"]["estimate"]
                     for d in groups.values()])


def slice_figures(sheet: dict, *, caption: str = "", rate_tops: dict[str, float] | None = None) -> list[dict]:
    """Per slice: the stored slice, a positive-rate chart and a share chart (95 % intervals as whiskers).
    `rate_tops` fixes the rate axis per slice (so two sheets' charts share a scale)."""
    positive = sheet["labels"]["positive_label"]
    overall = overall_positive_rate(sheet)
    weighted = " (weighted)" if sheet["config"]["weighted"] else ""
    out = []
    for name, data in ordered_slices(sheet):
        groups = data["groups"]
        rate_bars = [_bar(g, d["positive_rate"], d["too_small"]) for g, d in groups.items()]
        share_bars = [_bar(g, d["share"], d["too_small"]) for g, d in groups.items()]
        rate_top = (rate_tops or {}).get(name) or _rate_top(groups)
        share_top = nice_max([b.high if b.high is not None else b.value for b in share_bars])
        out.append({
            "name": name,
            "data": data,
            "rate_chart": interval_bars(
                title=f"{caption}Rate of label '{positive}' by {name}{weighted}",
                description=f"Bars show each group's rate of '{positive}' with its 95% bootstrap interval; "
                            f"the dashed line is the overall rate. The table below lists the same numbers.",
                bars=rate_bars, domain=(0.0, rate_top), marker=overall,
                marker_label=f"overall rate {overall:.1%}" if overall is not None else ""),
            "share_chart": interval_bars(
                title=f"{caption}Share of rows by {name}{weighted}",
                description="Bars show each group's share of the rows with its 95% bootstrap interval. "
                            "The table below lists the same numbers.",
                bars=share_bars, domain=(0.0, share_top)),
        })
    return out


def length_figures(sheet: dict) -> list[dict]:
    out = []
    for unit, label in (("chars", "characters"), ("words", "words")):
        stats = sheet["text_length"][unit]
        out.append({"unit": label, "stats": stats, "chart": histogram(
            title=f"Text length in {label}",
            description=f"Histogram of text lengths in {label}: {len(stats['histogram']['counts'])} bins from "
                        f"{stats['min']} to {stats['max']}; the table beside it gives the quartiles.",
            edges=stats["histogram"]["edges"], counts=stats["histogram"]["counts"], unit=label)})
    return out


def side_by_side(sheet_a: dict | None, sheet_b: dict | None) -> list[dict]:
    """Per slice present in either datasheet, one row per group with A's and B's stored entries (or None)."""
    if not sheet_a or not sheet_b:
        return []
    tops = {name: max(_rate_top(sheet["slices"][name]["groups"]) for sheet in (sheet_a, sheet_b)
                      if name in sheet["slices"])
            for name in {*sheet_a["slices"], *sheet_b["slices"]}}
    charts_a = {f["name"]: f["rate_chart"] for f in slice_figures(sheet_a, caption="A: ", rate_tops=tops)}
    charts_b = {f["name"]: f["rate_chart"] for f in slice_figures(sheet_b, caption="B: ", rate_tops=tops)}
    out = []
    for name in dict.fromkeys([n for n, _ in ordered_slices(sheet_a)] + [n for n, _ in ordered_slices(sheet_b)]):
        ga = sheet_a["slices"].get(name, {}).get("groups", {})
        gb = sheet_b["slices"].get(name, {}).get("groups", {})
        out.append({"name": name, "chart_a": charts_a.get(name), "chart_b": charts_b.get(name),
                    "reference_a": sheet_a["slices"].get(name, {}).get("reference_group"),
                    "reference_b": sheet_b["slices"].get(name, {}).get("reference_group"),
                    "groups": [{"group": g, "a": ga.get(g), "b": gb.get(g)} for g in sorted({*ga, *gb})]})
    return out
