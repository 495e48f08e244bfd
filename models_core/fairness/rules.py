"""Policy rules judged against a fairness report (`evaluate_thresholds`): the gates of audits and approvals.

Takes a `fairness_report` dict and rule dicts (plain JSON); returns one plain result dict per judged value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models_core.errors import InputError
from models_core.fairness.group_metrics import DISPARITY_NAMES, DISPARITY_RATES, METRIC_NAMES

UNDEFINED_CHOICES = ("zero", "fail")


def evaluate_thresholds(report: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Judge policy rules against a `fairness_report` output.

    A rule is a dict with
      - "metric": a disparity name (judged per grouping) or a metric name (judged on "overall", or
        on every non-empty group of a grouping when "grouping" is given);
      - "grouping": a grouping name such as "gender" or "gender × age_band", "*" for every grouping,
        or "overall" / absent (metrics only);
      - "max" and/or "min": the bound(s) the value must respect (inclusive);
      - "judge_on": "point" (default), "upper" or "lower" — which number is compared: the point
        estimate or an end of its confidence interval ("upper" with "max" is the cautious reading);
      - "class": for multiclass reports, one label (as str) or "*" (default: every class);
      - "skip_small": if true, per-group metric rules ignore groups flagged too_small;
      - "undefined": "zero" (default, fairlearn's convention: a rate with an empty denominator counts
        as 0, and the result says which groups) or "fail" (the value fails when any group it compares
        has such a rate, e.g. a group with no positive labels under equal opportunity).
    Returns one result per judged value: the rule, class, grouping, group, value, bound used
    ("point"/"upper"/"lower"), the compared number, passed (bool), the groups the value leaves out
    ("left_out", e.g. empty intersections) and those whose rate counted as 0 ("undefined_groups"), each
    with the reason. An undefined number fails (closed gate) with a "note".
    """
    results = []
    for rule in rules:
        metric = rule.get("metric")
        if metric not in METRIC_NAMES and metric not in DISPARITY_NAMES:
            raise InputError(f"unknown metric {metric!r} in rule {dict(rule)!r}")
        if "max" not in rule and "min" not in rule:
            raise InputError(f"rule {dict(rule)!r} has neither 'max' nor 'min'")
        judge_on = rule.get("judge_on", "point")
        if judge_on not in ("point", "upper", "lower"):
            raise InputError(f"judge_on must be 'point', 'upper' or 'lower', got {judge_on!r}")
        if rule.get("undefined", "zero") not in UNDEFINED_CHOICES:
            raise InputError(f"undefined must be one of {', '.join(UNDEFINED_CHOICES)}, got {rule.get('undefined')!r}")
        for class_key, class_report in _classes_for_rule(report, rule):
            for grouping, group, stat in _targets_for_rule(class_report, rule, metric):
                results.append(_judge(rule, class_key, grouping, group, stat, judge_on))
    return results


def _classes_for_rule(report: Mapping[str, Any], rule: Mapping[str, Any]) -> list[tuple[str | None, Mapping]]:
    if report.get("task") != "multiclass_ovr":
        return [(None, report)]
    wanted = rule.get("class", "*")
    if wanted == "*":
        return list(report["classes"].items())
    if str(wanted) not in report["classes"]:
        raise InputError(f"class {wanted!r} is not in the report")
    return [(str(wanted), report["classes"][str(wanted)])]


def _targets_for_rule(class_report: Mapping, rule: Mapping, metric: str) -> list[tuple]:
    grouping = rule.get("grouping")
    if metric in METRIC_NAMES and grouping in (None, "overall"):
        return [("overall", None, class_report["overall"]["metrics"][metric])]
    if grouping in (None, "overall"):
        raise InputError(f"disparity {metric!r} needs a grouping (a name or '*')")
    names = list(class_report["groupings"]) if grouping == "*" else [grouping]
    targets = []
    for name in names:
        if name not in class_report["groupings"]:
            raise InputError(f"grouping {name!r} is not in the report")
        entry = class_report["groupings"][name]
        if metric in DISPARITY_NAMES:
            targets.append((name, None, _with_exclusions(entry, metric)))
            continue
        for group, data in entry["groups"].items():
            if data["count"] == 0 or (rule.get("skip_small") and data["too_small"]):
                continue
            stat = data["metrics"][metric]
            if stat.get("undefined"):
                stat = {**stat, "undefined_groups": [{"group": group, "rates": [metric], "reason": stat["undefined"],
                                                      "counted_as": 0.0}]}
            targets.append((name, group, stat))
    return targets


def _with_exclusions(entry: Mapping, metric: str) -> Mapping:
    """A disparity with the groups it leaves out and those counted as 0. Reports of schema 1 (before
    fairlearn's convention) did not list them: there a non-empty group whose compared rate is null was
    skipped, and is listed here as undefined, and an empty group as left out."""
    stat = entry["disparities"][metric]
    if "undefined_groups" in stat:
        return stat
    rates = DISPARITY_RATES[metric.rsplit("_", 1)[0]]
    left_out, undefined = [], []
    for group, data in entry["groups"].items():
        if data["count"] == 0:
            left_out.append({"group": group, "reason": "no rows"})
            continue
        nulls = [r for r in rates if data["metrics"][r]["value"] is None]
        if nulls:
            undefined.append({"group": group, "rates": nulls, "reason": "rate undefined (left out: schema 1 report)",
                              "counted_as": None})
    return {**stat, "left_out": left_out, "undefined_groups": undefined}


def _judge(rule: Mapping, class_key: str | None, grouping: str, group: str | None, stat: Mapping,
           judge_on: str) -> dict:
    value = stat["value"]
    note = None
    if judge_on == "point":
        compared = value
    elif stat.get("ci") is None:
        compared, note = None, "no confidence interval in the report (n_boot=0)"
    else:
        compared = stat["ci"][1] if judge_on == "upper" else stat["ci"][0]
    left_out, undefined = list(stat.get("left_out") or []), list(stat.get("undefined_groups") or [])
    if compared is None:
        passed = False
        note = note or "value undefined for this data"
    else:
        passed = (("max" not in rule or compared <= rule["max"])
                  and ("min" not in rule or compared >= rule["min"]))
    notes = [note] if note else []
    if undefined:
        named = "; ".join(f"{u['group']} ({u['reason']})" for u in undefined)
        if rule.get("undefined", "zero") == "fail":
            passed = False
            notes.append(f"fails: the rule allows no undefined group, and {named} has none to measure")
        else:
            notes.append(f"counted as 0 (fairlearn's convention): {named}")
    if left_out:
        notes.append("left out: " + "; ".join(f"{g['group']} ({g['reason']})" for g in left_out))
    return {"rule": dict(rule), "metric": rule["metric"], "class": class_key, "grouping": grouping,
            "group": group, "value": value, "ci": stat.get("ci"), "bound": judge_on,
            "compared": compared, "max": rule.get("max"), "min": rule.get("min"),
            "passed": bool(passed), "note": "; ".join(notes) or None, "left_out": left_out,
            "undefined_groups": undefined, "undefined": rule.get("undefined", "zero")}
