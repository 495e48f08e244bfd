"""One call fits a threshold mitigation: `compute_threshold_mitigation(bundle, texts, labels, groups, ...)`.

Takes a loaded `ClassifierBundle` and validation rows as plain lists (texts, 1 for the positive class and
0 otherwise, one group value per row of the mitigated attribute); scores the rows, fits fairlearn's
ThresholdOptimizer on the positive-class probability (`models_core.fairness.mitigation`) and returns a
`ComputedMitigation`: the thresholds JSON, the validation figures before (argmax) and after (thresholds),
and the compute used. Never imports Django or anything above `models_core`; the caller picks the rows,
saves the artifact and stores the figures.

Progress stages: "scoring the validation split" (5-85 %), "fitting thresholds" (88 %).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models_core.encoder.bundle import ClassifierBundle
from models_core.encoder.inference import predict_dataset
from models_core.fairness.mitigation import apply_thresholds, fit_thresholds
from models_core.metrics import accuracy, demographic_parity_difference

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class ComputedMitigation:
    thresholds: dict[str, Any]   # fit_thresholds' JSON
    metrics: dict[str, Any]      # validation accuracy and demographic parity difference, before and after
    compute: dict[str, Any]      # models_core.compute of the scoring


def compute_threshold_mitigation(bundle: ClassifierBundle, texts: Sequence[str], labels: Sequence[int],
                                 groups: Sequence[str], *, positive: int, constraint: str, seed: int,
                                 progress: Progress | None = None) -> ComputedMitigation:
    """Fit group thresholds for class index `positive` of `bundle` on the rows; see the module docstring."""
    def report(stage: str, percent: float) -> None:
        if progress is not None:
            progress({"stage": stage, "percent": percent})

    inference = predict_dataset(bundle, list(texts), progress=lambda p: report(
        "scoring the validation split", 5 + 0.8 * p.get("percent", 0)))
    scores = inference.probabilities[:, positive]
    report("fitting thresholds", 88)
    thresholds = fit_thresholds(scores, labels, groups, constraints=constraint)
    decided = apply_thresholds(scores, groups, thresholds, seed=seed)
    before = (inference.predictions == positive).astype(int)
    metrics = {"val_accuracy_before": accuracy(labels, before), "val_accuracy": accuracy(labels, decided),
               "val_dp_difference_before": demographic_parity_difference(before, groups),
               "val_dp_difference": demographic_parity_difference(decided, groups),
               "n_validation": len(labels)}
    return ComputedMitigation(thresholds=thresholds, metrics=metrics, compute=inference.compute)
