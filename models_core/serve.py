"""Online decisions for a served model: the class probabilities and the decided class of a small batch.

Plain data in, plain data out. The decided class is the argmax, or for a mitigated model version (its
artifact metadata carries `mitigation`) the group thresholds applied to the positive-class probability, as
`models_core.audit` decides when it audits the same version, so a served decision equals the audited one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models_core.encoder.bundle import ClassifierBundle
from models_core.encoder.inference import predict_dataset
from models_core.errors import InputError
from models_core.fairness.mitigation import apply_thresholds


@dataclass(frozen=True)
class Decisions:
    probabilities: np.ndarray   # (n, num_labels) float64
    predictions: list[int]      # the decided class index per text
    rule: str                   # "argmax" | "group thresholds"


def decide(bundle: ClassifierBundle, texts: Sequence[str], *, mitigation: Mapping[str, Any] | None = None,
           groups: Mapping[str, Sequence[Any]] | None = None) -> Decisions:
    """Decide for every text, in order. `groups` (attribute -> one value per text) is needed only by a
    mitigated model, for the attribute its thresholds are per (InputError when missing or unknown)."""
    texts = list(texts)
    if not texts:
        return Decisions(np.zeros((0, bundle.num_labels)), [], "argmax")
    inference = predict_dataset(bundle, texts, batch_size=len(texts))
    if not mitigation:
        return Decisions(inference.probabilities, [int(p) for p in inference.predictions], "argmax")
    attribute = mitigation["attribute"]
    values = (groups or {}).get(attribute)
    if values is None or len(values) != len(texts) or any(v in (None, "") for v in values):
        raise InputError(f"this model decides with thresholds per '{attribute}': give attributes.{attribute} "
                         f"with every text")
    names = list(bundle.label_names)
    positive = names.index(mitigation["positive_label"]) if mitigation.get("positive_label") in names else 1
    chosen = apply_thresholds(inference.probabilities[:, positive], list(values), mitigation["thresholds"],
                              seed=mitigation["seed"])
    negative = 1 - positive
    return Decisions(inference.probabilities, [positive if c else negative for c in chosen], "group thresholds")
