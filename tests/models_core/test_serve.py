"""`models_core.serve.decide`: the argmax of the bundle's probabilities, or a mitigated version's group
thresholds, equal to fairlearn's ThresholdOptimizer decisions the audit reproduces."""

from __future__ import annotations

import numpy as np
import pytest

from models_core.encoder.bundle import bundle_from_pretrained
from models_core.errors import InputError
from models_core.serve import decide

TEXTS = ["She led a ward of nurses.", "He coded payment systems.", "Chess club captain.", "x"]


@pytest.fixture(scope="module")
def bundle(tiny_bert_dir):
    return bundle_from_pretrained(tiny_bert_dir, num_labels=2, label_names=["no", "yes"], seed=3)


def test_decide_is_the_argmax_of_predict_proba(bundle):
    decided = decide(bundle, TEXTS)
    expected = bundle.predict_proba(TEXTS)
    np.testing.assert_allclose(decided.probabilities, expected, atol=1e-6)
    assert decided.predictions == expected.argmax(axis=1).tolist() and decided.rule == "argmax"


def test_group_thresholds_follow_the_mitigation_and_need_the_attribute(bundle):
    from models_core.fairness.mitigation import apply_thresholds

    thresholds = {"constraints": "demographic_parity", "groups": {
        "female": {"p0": 0.0, "p1": 1.0, "operation0": {"operator": ">", "threshold": 0.0},
                   "operation1": {"operator": ">", "threshold": 0.0}},
        "male": {"p0": 0.0, "p1": 1.0, "operation0": {"operator": ">", "threshold": 1.0},
                 "operation1": {"operator": ">", "threshold": 1.0}}}}
    mitigation = {"attribute": "gender", "positive_label": "yes", "seed": 0, "thresholds": thresholds}
    groups = {"gender": ["female", "male", "female", "male"]}
    decided = decide(bundle, TEXTS, mitigation=mitigation, groups=groups)
    scores = bundle.predict_proba(TEXTS)[:, 1]
    assert decided.predictions == apply_thresholds(scores, groups["gender"], thresholds, seed=0).tolist()
    assert decided.predictions == [1, 0, 1, 0] and decided.rule == "group thresholds"
    with pytest.raises(InputError, match="attributes.gender"):
        decide(bundle, TEXTS, mitigation=mitigation, groups={})
