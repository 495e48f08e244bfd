"""The figures of one monitoring window, computed from counts the database aggregates.

One GROUP BY scan over the window's decisions (joined to their outcomes) returns a count per cell
(predicted label, outcome or none, each sensitive attribute's value): the prediction mix, the attribute mix,
the outcomes and the fairness table are all sums of those cells, so the web and worker processes handle a few
hundred cells whether the window holds a thousand decisions or ten million. Drift compares the mixes with the
training data's (PSI, the datasheets' measure; also the largest change of a share and a chi-squared test);
fairness runs `models_core.fairness.report.fairness_report` on the cells with their counts (its bootstrap
resamples the count tensor, so the intervals are the ones of the expanded rows).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from scipy import stats

from models_core.data.drift import psi_from_counts, psi_level
from models_core.errors import CoreError
from models_core.fairness.group_metrics import MISSING
from models_core.fairness.report import fairness_report
from models_core.fairness.rules import evaluate_thresholds

NO_OUTCOME = None


def _attribute_sql(index: int) -> str:
    if connection.vendor == "postgresql":
        return f"d.attributes ->> %(a{index})s"
    return f"json_extract(d.attributes, '$.' || %(a{index})s)"


def window_cells(*, deployment_id: int, start: datetime, end: datetime, attributes: list[str]) -> list[tuple]:
    """(predicted label, outcome label or None, *attribute values, count) for every non-empty cell."""
    attribute_columns = "".join(f", {_attribute_sql(i)}" for i in range(len(attributes)))
    groups = ", ".join(str(i) for i in range(1, len(attributes) + 3))
    params: dict[str, Any] = {"deployment": deployment_id, "start": start, "end": end,
                              **{f"a{i}": a for i, a in enumerate(attributes)}}
    # Partition pruning on decided_at and the (deployment_id, decided_at) index keep this to the window. Only
    # constant SQL and placeholders are joined here: the attribute names travel as parameters.
    sql = (f"SELECT d.predicted_label, o.label{attribute_columns}, count(*) FROM serving_decision d "  # nosec B608
           f"LEFT JOIN serving_decisionoutcome o ON o.decision_id = d.id AND o.deployment_id = %(deployment)s "
           f"WHERE d.deployment_id = %(deployment)s AND d.decided_at >= %(start)s AND d.decided_at < %(end)s "
           f"GROUP BY {groups}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def training_counts(*, dataset_version_id: int, attributes: list[str]) -> dict[str, Counter]:
    """The training data's counts per label and per value of each sensitive attribute (one scan)."""
    from governance.datasets.models import DatasetRecord

    counts: dict[str, Counter] = {"label": Counter(), **{a: Counter() for a in attributes}}
    rows = DatasetRecord.objects.filter(version_id=dataset_version_id).values_list("label", "attributes")
    for label, values in rows.iterator(chunk_size=5000):
        counts["label"][str(label)] += 1
        for a in attributes:
            value = (values or {}).get(a)
            counts[a][MISSING if value in (None, "") else str(value)] += 1
    return counts


def _drift(reference: Counter, live: Counter) -> dict:
    if not sum(reference.values()) or not sum(live.values()):
        return {"psi": None, "level": None, "shares": {}, "max_abs_share_change": None, "chi2_p_value": None}
    psi, shares = psi_from_counts(reference, live)
    change = max(abs(s["b"] - s["a"]) for s in shares.values())
    cats = sorted(shares)
    table = np.array([[reference.get(c, 0) for c in cats], [live.get(c, 0) for c in cats]])
    p_value = float(stats.chi2_contingency(table)[1]) if len(cats) > 1 and (table.sum(axis=0) > 0).all() else 1.0
    return {"psi": psi, "level": psi_level(psi), "shares": shares, "max_abs_share_change": change,
            "chi2_p_value": p_value}


def window_figures(*, cells: list[tuple], attributes: list[str], training: dict[str, Counter],
                   label_names: list[str], positive_label: str | None, n_boot: int, seed: int) -> dict:
    """The report's `results` (prediction mix, drift, outcomes, fairness) from the cells and the reference."""
    n = sum(c[-1] for c in cells)
    mix: Counter = Counter()
    attribute_mix = {a: Counter() for a in attributes}
    for cell in cells:
        mix[cell[0]] += cell[-1]
        for i, a in enumerate(attributes):
            attribute_mix[a][MISSING if cell[2 + i] in (None, "") else cell[2 + i]] += cell[-1]
    known = [c for c in cells if c[1] is not NO_OUTCOME]
    with_outcomes = sum(c[-1] for c in known)
    correct = sum(c[-1] for c in known if c[0] == c[1])
    results: dict[str, Any] = {
        "decisions": n,
        "prediction_mix": {label: {"count": mix.get(label, 0), "share": mix.get(label, 0) / n if n else None}
                           for label in sorted(set(label_names) | set(mix))},
        "drift": {"prediction_vs_training_labels": _drift(training["label"], mix),
                  "attributes": {a: _drift(training[a], attribute_mix[a]) for a in attributes},
                  "reference": "the training data's labels and sensitive attributes"},
        "outcomes": {"count": with_outcomes, "accuracy": correct / with_outcomes if with_outcomes else None},
        "fairness": None,
    }
    if known and attributes:
        labels = sorted(set(label_names) | {c[0] for c in known} | {c[1] for c in known})
        positive = positive_label if positive_label in labels else labels[-1]
        try:
            results["fairness"] = fairness_report(
                [c[1] for c in known], [c[0] for c in known],
                {a: [c[2 + i] for c in known] for i, a in enumerate(attributes)},
                labels=labels, positive_label=positive, n_boot=n_boot, seed=seed,
                counts=[int(c[-1]) for c in known])
        except CoreError as exc:
            results["fairness_error"] = str(exc)
    return results


def window_checks(*, results: dict, policy, attributes: list[str]) -> list[dict]:
    """The policy's thresholds judged on the figures: one entry per check, `passed` or not."""
    checks = []
    drift = results["drift"]
    targets = [("prediction mix", drift["prediction_vs_training_labels"])] + \
              [(f"attribute {a}", drift["attributes"][a]) for a in attributes]
    for name, figure in targets:
        if policy.max_psi is not None and figure["psi"] is not None:
            checks.append({"rule": f"psi: {name}", "measured": figure["psi"], "threshold": policy.max_psi,
                           "passed": figure["psi"] <= policy.max_psi,
                           "message": f"PSI of the {name} against the training data is {figure['psi']:.3f} "
                                      f"(max {policy.max_psi})"})
    shift = drift["prediction_vs_training_labels"]["max_abs_share_change"]
    if policy.max_prediction_shift is not None and shift is not None:
        checks.append({"rule": "prediction shift", "measured": shift, "threshold": policy.max_prediction_shift,
                       "passed": shift <= policy.max_prediction_shift,
                       "message": f"a predicted label's share moved by {shift:.3f} from the training labels' "
                                  f"(max {policy.max_prediction_shift})"})
    if policy.fairness_rules and results.get("fairness"):
        for judged in evaluate_thresholds(results["fairness"], policy.fairness_rules):
            bound = judged["max"] if judged["max"] is not None else judged["min"]
            where = judged["grouping"] + (f" / {judged['group']}" if judged["group"] else "")
            compared = "undefined" if judged["compared"] is None else f"{judged['compared']:.3f}"
            checks.append({"rule": f"fairness: {judged['metric']}", "measured": judged["compared"],
                           "threshold": bound, "passed": judged["passed"],
                           "message": f"{judged['metric']} on {where}: {compared} ({judged['bound']}; "
                                      f"{'max' if judged['max'] is not None else 'min'} {bound})"})
    return checks
