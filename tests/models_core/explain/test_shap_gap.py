"""SHAP: the product's path (whole-word players, `shap_values` at the product's budget) against shap's own
Partition explainer (Text masker, default budget) on texts of 10, 30 and 60 model tokens, per word (shap's
token values summed into words); and, where it can be afforded, both against a near-exact reference. A long
text's budget grows with its words (`methods.paired_budget`: 500 strings up to 30 words, 50 more per word
beyond, at most 2,000).
The measured gap is the one stated in models_core/README.md and in the report's method note
(`sample.SHAP_GAP`): this test holds the product to it. The model is a real frozen-MiniLM classifier."""

from __future__ import annotations

import numpy as np
import pytest

from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.explain.kernel import paired_kernel_values
from models_core.explain.methods import ShapTrees, paired_budget, shap_library, shap_values
from models_core.explain.sample import SHAP_GAP, SHAP_MAX_EVALS
from models_core.explain.shapley import exact_shapley_tokens
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, plain_tokenizer, sum_to_words,
                                      tokenize_for_explanation, word_view)
from models_core.training.config import TrainConfig
from models_core.training.trainer import train_classifier


@pytest.fixture(scope="module")
def bundle():
    rows = hiring_rows(SyntheticSpec(n_rows=400, seed=3))
    return train_classifier([r["text"] for r in rows], [int(r["hired"] == "yes") for r in rows], 2,
                            TrainConfig(epochs=3, seed=0)).bundle


def texts_of(bundle, n_tokens: int, k: int = 2) -> list:
    """The first `k` held-out hiring texts cut after the first word that brings them to `n_tokens` tokens."""
    tokenizer = plain_tokenizer(bundle.tokenizer)
    rows = hiring_rows(SyntheticSpec(n_rows=60, seed=11))
    out = []
    for i, row in enumerate(rows):
        words = (row["text"] + " " + rows[(i + 1) % len(rows)]["text"]).split()
        for end in range(3, len(words) + 1):
            tokenized = tokenize_for_explanation(tokenizer, " ".join(words[:end]), None)
            if len(tokenized) >= n_tokens:
                out.append(tokenized)
                break
        if len(out) == k:
            return out
    raise AssertionError("not enough long texts")


@pytest.mark.parametrize("n_tokens", [10, 30, 60])
def test_product_shap_against_shap_partition_explainer_at_the_products_budget(bundle, n_tokens):
    adapter = ShapTokenizerAdapter(bundle.tokenizer)
    predictor = CachedPredictor(bundle.predict_proba)
    stated = SHAP_GAP["texts"][[g["tokens"] for g in SHAP_GAP["texts"]].index(n_tokens)]
    for tokenized in texts_of(bundle, n_tokens):
        view, groups = word_view(tokenized)
        [ours] = shap_values(predictor, ShapTrees(adapter), [(tokenized, 1)], max_evals=SHAP_MAX_EVALS)
        theirs = shap_library(bundle.predict_proba, adapter, tokenized, 1)
        mine, lib = sum_to_words(ours.values, groups), sum_to_words(theirs.values, groups)
        pearson, diff = float(np.corrcoef(mine, lib)[0, 1]), float(np.abs(mine - lib).max())
        print(f"{len(tokenized)} tokens, {len(view)} words: {ours.info['algorithm']} {ours.info['evaluations']} "
              f"evaluations (shap {theirs.info['evaluations']}): Pearson {pearson:.3f}, max |diff| {diff:.4f}")
        assert ours.info["evaluations"] <= paired_budget(len(view), SHAP_MAX_EVALS)
        assert pearson >= stated["pearson"] and diff <= stated["max_abs_diff"]
        # ours sums to f(x) - f(all masked) exactly (shap's Partition drops the credit left queued when its
        # budget binds, so its sum can fall short)
        assert mine.sum() == pytest.approx(ours.value - ours.base_value, abs=1e-9)
        assert ours.value == pytest.approx(float(bundle.predict_proba([tokenized.text])[0, 1]), abs=1e-6)
        if len(view) <= 14:  # affordable: exact Shapley values of the word game
            reference = exact_shapley_tokens(predictor, view, 1, adapter.mask_token).values
        else:  # near-exact: the paired kernel with 8,000 strings, two other seeds, averaged (at 61 words the
            # two runs agree to Pearson ~0.94 with each other, so their mean is within ~0.98 of the true values)
            reference = np.mean([near.values for seed in (7, 9) for near in paired_kernel_values(
                predictor, [(view, 1)], adapter.mask_token, max_evals=8000, seed=seed, tolerance=0.0,
                round_pairs=512)], axis=0)
        ours_to_ref = float(np.corrcoef(mine, reference)[0, 1])
        shap_to_ref = float(np.corrcoef(lib, reference)[0, 1])
        print(f"  against the reference: ours {ours_to_ref:.3f}, shap {shap_to_ref:.3f}")
        assert ours_to_ref >= (0.95 if n_tokens <= 30 else 0.80) and ours_to_ref >= shap_to_ref - 0.02
