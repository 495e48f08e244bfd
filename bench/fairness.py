"""Benchmark: models_core.fairness.report vs fairlearn on 1,000,000 seeded predictions, in one run.

Two sensitive features, gender (2 levels) x age band (3 levels): six intersectional groups.
fairlearn computes, as its documentation shows, a MetricFrame over the intersection (count,
selection rate, accuracy, precision, recall, FPR, FNR) plus demographic_parity_difference and
equalized_odds_difference. The engine computes its whole report (each attribute alone and the
intersection, all metrics and disparities) with n_boot=0 for the ratio (median of 5); the bootstrap
time is the time the report with n_boot=1000 spends drawing and evaluating the replicates, bracketed by
its progress events (median of 5). Weighted: the same rows with reweighing weights (P(group)·P(label) /
P(group, label) per gender × age band × label, as datasets' reweighed versions carry), compared with fairlearn's
MetricFrame given ``sample_params`` (every metric but count) and the disparity functions given
``sample_weight``; timed once each. Last line:
RESULT fairness ratio=<fairlearn s / engine s> max_abs_diff=<largest |difference|> weighted_max_abs_diff=<...>
       bootstrap_s=<s>

Run: .venv/bin/python bench/fairness.py [--rows N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import accuracy_score, precision_score, recall_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from models_core.fairness.report import GROUP_SEPARATOR, fairness_report  # noqa: E402


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["female", "male"]), n)
    age = rng.choice(np.array(["18-29", "30-44", "45+"]), n, p=[0.35, 0.4, 0.25])
    y_true = (rng.random(n) < np.where(gender == "female", 0.3, 0.45)).astype(np.int64)
    noise = rng.random(n) < np.where(age == "45+", 0.25, 0.15)
    y_pred = np.where(noise, 1 - y_true, y_true)
    return y_true, y_pred, gender, age


def reweighing(y_true, gender, age) -> np.ndarray:
    """Kamiran & Calders weights per (gender x age band, label) cell: P(group) P(label) / P(group, label)."""
    cell = (np.unique(gender, return_inverse=True)[1] * 3 + np.unique(age, return_inverse=True)[1]) * 2 + y_true
    joint = np.bincount(cell, minlength=12).reshape(6, 2) / len(cell)
    expected = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    return (expected / joint).ravel()[cell]


def compare(report, mf, dpd, eod) -> list[float]:
    """|ours - fairlearn| for every group's count and metrics of the intersection, DPD and EOD."""
    grouping = report["groupings"]["gender" + GROUP_SEPARATOR + "age_band"]
    diffs = []
    for (g, a), row in mf.by_group.iterrows():
        ours = grouping["groups"][g + GROUP_SEPARATOR + a]
        diffs.append(abs(ours["count"] - row["count"]))
        diffs.extend(abs(ours["metrics"][m]["value"] - row[m]) for m in row.index if m != "count")
    diffs.append(abs(grouping["disparities"]["demographic_parity_difference"]["value"] - dpd))
    diffs.append(abs(grouping["disparities"]["equalized_odds_difference"]["value"] - eod))
    return diffs


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    y_true, y_pred, gender, age = make_data(args.rows)
    sensitive = {"gender": gender, "age_band": age}

    engine_s, report = best_of(lambda: fairness_report(y_true, y_pred, sensitive, n_boot=0), 5)

    boot_times = []

    def with_bootstrap():
        # The progress events bracket the bootstrap: "percent 10" once the counts are built, then one
        # event per replicate chunk; the last one carries replicates=1000.
        stamps = {}

        def progress(event):
            if event["percent"] == 10.0 and "replicates" not in event:
                stamps["start"] = time.perf_counter()
            if event.get("replicates") == 1000:
                stamps["end"] = time.perf_counter()

        result = fairness_report(y_true, y_pred, sensitive, n_boot=1000, seed=0, progress=progress)
        boot_times.append(stamps["end"] - stamps["start"])
        return result

    boot_total_s, _ = best_of(with_bootstrap, 5)
    bootstrap_s = statistics.median(boot_times)

    metrics = {"count": count, "selection_rate": selection_rate, "accuracy": accuracy_score,
               "precision": precision_score, "true_positive_rate": recall_score,
               "false_positive_rate": false_positive_rate, "false_negative_rate": false_negative_rate}

    def fairlearn_run(weights=None):
        features = pd.DataFrame(sensitive)
        params = None if weights is None else {m: {"sample_weight": weights} for m in metrics if m != "count"}
        mf = MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=features,
                         sample_params=params)
        dpd = demographic_parity_difference(y_true, y_pred, sensitive_features=features, sample_weight=weights)
        eod = equalized_odds_difference(y_true, y_pred, sensitive_features=features, sample_weight=weights)
        return mf, dpd, eod

    fairlearn_s, (mf, dpd, eod) = best_of(fairlearn_run, 1)
    diffs = compare(report, mf, dpd, eod)
    max_abs_diff = max(diffs)
    ratio = fairlearn_s / engine_s

    weights = reweighing(y_true, gender, age)
    weighted_engine_s, weighted = best_of(
        lambda: fairness_report(y_true, y_pred, sensitive, n_boot=0, sample_weight=weights), 1)
    weighted_boot_s, _ = best_of(
        lambda: fairness_report(y_true, y_pred, sensitive, n_boot=1000, seed=0, sample_weight=weights), 1)
    weighted_fairlearn_s, (wmf, wdpd, weod) = best_of(lambda: fairlearn_run(weights), 1)
    weighted_diffs = compare(weighted, wmf, wdpd, weod)
    weighted_max_abs_diff = max(weighted_diffs)

    print(f"rows={args.rows} groups=6 (2x3) numbers_compared={len(diffs)}")
    print(f"fairlearn MetricFrame+DPD+EOD: {fairlearn_s:.3f} s")
    print(f"engine report (2 attributes + intersection, no bootstrap): {engine_s * 1000:.1f} ms")
    print(f"engine report with 1000 bootstrap replicates: {boot_total_s * 1000:.1f} ms "
          f"(replicates alone {bootstrap_s * 1000:.1f} ms)")
    print(f"weighted (reweighing): fairlearn {weighted_fairlearn_s:.3f} s, engine {weighted_engine_s * 1000:.1f} ms "
          f"(ratio {weighted_fairlearn_s / weighted_engine_s:.1f}), engine + 1000 weighted replicates "
          f"{weighted_boot_s * 1000:.1f} ms, numbers_compared={len(weighted_diffs)}")
    print(f"RESULT fairness ratio={ratio:.1f} max_abs_diff={max_abs_diff:.3g} "
          f"weighted_max_abs_diff={weighted_max_abs_diff:.3g} bootstrap_s={bootstrap_s:.4f}")


if __name__ == "__main__":
    main()
