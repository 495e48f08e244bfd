"""Explanations (models_core.explain.sample*): SHAP against exact Shapley values and against the shap library,
IG completeness, LIME against the lime library, stability flags, the global view, sample selection and
the edge cases of explain_sample. The model is a real frozen-MiniLM classifier trained by the core on
the synthetic hiring data once per module."""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import numpy as np
import pytest
import shap
import torch

from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.errors import InputError
from models_core.explain.global_view import global_view, select_sample
from models_core.explain.ig import integrated_gradients
from models_core.explain.methods import ShapTrees, lime_many, lime_tokens, shap_library, shap_values
from models_core.explain.sample import IG_DELTA_MAX, explain_sample
from models_core.explain.kernel import kernel_values
from models_core.explain.shapley import (all_coalitions, exact_shapley, exact_shapley_tokens, owen_values,
                                         shapley_from_table)
from models_core.explain.stability import agreement, perturbation_stability
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, mask_segments, masked_texts,
                                      plain_tokenizer, tokenize_for_explanation)
from models_core.training.config import TrainConfig
from models_core.training.trainer import train_classifier

SHORT_TEXTS = [  # <= 10 words, <= 9 tokens: exact Shapley values stay cheap
    "She led a team of engineers.",
    "He shadowed a school curriculum review",
    "Nurse with two years of experience, she mentored",
    "Captain of the women's chess club",
]


@pytest.fixture(scope="module")
def bundle():
    rows = hiring_rows(SyntheticSpec(n_rows=400, seed=3))
    result = train_classifier([r["text"] for r in rows], [int(r["hired"] == "yes") for r in rows], 2,
                              TrainConfig(epochs=3, seed=0))
    return result.bundle


@pytest.fixture(scope="module")
def predictor(bundle):
    return CachedPredictor(bundle.predict_proba)


@pytest.fixture(scope="module")
def adapter(bundle):
    return ShapTokenizerAdapter(bundle.tokenizer)


@pytest.fixture(scope="module")
def tokenized_short(bundle):
    tokenizer = plain_tokenizer(bundle.tokenizer)
    return [tokenize_for_explanation(tokenizer, t, 128) for t in SHORT_TEXTS]


@pytest.fixture(scope="module")
def exact_short(predictor, tokenized_short, adapter):
    return [exact_shapley_tokens(predictor, t, 1, adapter.mask_token) for t in tokenized_short]


# ---- the masking game ------------------------------------------------------------------------------

def test_masked_strings_equal_shap_text_masker(adapter, bundle):
    masker = shap.maskers.Text(adapter)
    tokenizer = plain_tokenizer(bundle.tokenizer)
    rng = np.random.default_rng(0)
    for text in ["  She architected a naïve café's data warehouse.", "Skills: python, sql, excel."]:
        tokenized = tokenize_for_explanation(tokenizer, text, None)
        for _ in range(20):
            keep = rng.random(len(tokenized)) < 0.5
            full = np.concatenate([[True], keep, [True]])  # shap's rows include [CLS] and [SEP]
            assert mask_segments(tokenized.segments, keep, adapter.mask_token, tokenized.prefix) == \
                masker(full, text)[0][0]


def test_exact_shapley_recovers_known_values_of_a_game_with_interaction():
    # f = 0.1*[a] + 0.2*[b] + 0.4*[a and c]: Shapley gives a 0.1 + 0.2, b 0.2, c 0.2, d 0
    def predict(texts):
        out = []
        for t in texts:
            words = t.replace("[MASK]", " ").split()  # "[MASK]c": a masked segment loses its space
            p = 0.1 * ("a" in words) + 0.2 * ("b" in words) + 0.4 * ("a" in words and "c" in words)
            out.append([1 - p, p])
        return np.array(out)

    result = exact_shapley(predict, ["a ", "b ", "c ", "d"], 1, "[MASK]")
    np.testing.assert_allclose(result.values, [0.3, 0.2, 0.2, 0.0], atol=1e-12)
    assert result.base_value == pytest.approx(0.0) and result.value == pytest.approx(0.7)


def test_kernel_enumerates_exactly_when_budget_covers_every_coalition(predictor, tokenized_short, exact_short,
                                                                      adapter):
    short = tokenized_short[0]
    [result] = kernel_values(predictor, [(short, 1)], adapter.mask_token, budget=2 ** len(short))
    assert result.exact and not result.sampled
    np.testing.assert_allclose(result.values, exact_short[0].values, atol=1e-12)


# ---- SHAP against exact Shapley values and against the shap library --------------------------------

def test_shap_correlates_with_exact_shapley_and_sums_to_fx_minus_fully_masked(
        predictor, tokenized_short, exact_short, adapter):
    results = shap_values(predictor, ShapTrees(adapter), [(t, 1) for t in tokenized_short], players="tokens")
    for result, exact in zip(results, exact_short):
        assert result.info["algorithm"] == "kernel"
        assert result.info["evaluations"] < 2 ** len(result.values)  # an approximation, not the enumeration
        assert np.corrcoef(result.values, exact.values)[0, 1] >= 0.95
        assert result.values.sum() == pytest.approx(result.value - result.base_value, abs=1e-4)
        assert result.base_value == pytest.approx(exact.base_value, abs=1e-6)
        assert result.value == pytest.approx(exact.value, abs=1e-6)


def test_owen_path_sums_to_fx_minus_fully_masked_and_tracks_exact_values(
        predictor, tokenized_short, exact_short, adapter):
    trees = ShapTrees(adapter)
    results = owen_values(predictor, [(t, trees(t), 1) for t in tokenized_short], adapter.mask_token)
    for result, exact in zip(results, exact_short):
        assert result.values.sum() == pytest.approx(exact.value - exact.base_value, abs=1e-4)
        assert np.corrcoef(result.values, exact.values)[0, 1] >= 0.9  # shap's own algorithm: 0.94-0.999 here


def test_owen_path_reproduces_shap_partition_explainer(bundle, predictor, tokenized_short, adapter):
    trees = ShapTrees(adapter)
    ours = owen_values(predictor, [(t, trees(t), 1) for t in tokenized_short[2:3]], adapter.mask_token)
    for tokenized, mine in zip(tokenized_short[2:3], ours):
        theirs = shap_library(bundle.predict_proba, adapter, tokenized, 1)
        np.testing.assert_allclose(mine.values, theirs.values, atol=1e-6)
        assert mine.evaluations < theirs.info["evaluations"]  # [CLS]/[SEP] leaves cost shap evaluations


# ---- Integrated Gradients, LIME --------------------------------------------------------------------

def test_integrated_gradients_complete_to_fx_minus_masked_baseline(bundle, tokenized_short, exact_short, adapter):
    tokenizer = plain_tokenizer(bundle.tokenizer)
    for tokenized, exact in list(zip(tokenized_short, exact_short))[1:3]:
        ig = integrated_gradients(bundle.model, tokenizer, tokenized, 1, adapter.mask_token, n_steps=32)
        assert ig.values.sum() == pytest.approx(ig.value - ig.base_value, abs=5e-3)
        # the baseline is the fully masked text SHAP starts from
        assert ig.base_value == pytest.approx(exact.base_value, abs=1e-4)
        assert ig.value == pytest.approx(exact.value, abs=1e-4)


def test_integrated_gradients_at_the_default_steps_complete_within_1e_3(bundle, tokenized_short, adapter):
    tokenizer = plain_tokenizer(bundle.tokenizer)
    for tokenized in tokenized_short:
        ig = integrated_gradients(bundle.model, tokenizer, tokenized, 1, adapter.mask_token)
        assert ig.info["n_steps"] >= 64
        gap = abs(ig.values.sum() - (ig.value - ig.base_value))
        assert gap <= IG_DELTA_MAX == 1e-3
        assert ig.info["delta"] == pytest.approx(gap, abs=1e-6)


def test_saturated_head_is_complete_or_flagged_with_its_gap(bundle):
    # logits x 60: softmax saturates, the path integral is steep where the class flips
    model = copy.deepcopy(bundle.model)
    with torch.no_grad():
        model.head.linear.weight.mul_(60.0)
        model.head.linear.bias.mul_(60.0)
    saturated = dataclasses.replace(bundle, model=model)
    texts = ["She led a team of engineers.", "Captain of the women's chess club"]
    report = explain_sample(saturated, texts, [1, 1], {"gender": ["female", "female"]}, methods=("ig",), seed=0)
    config = report["config"]["ig"]
    assert config["quadrature"] == "gauss-legendre panels" and config["delta_max"] == 1e-3
    for record in report["texts"]:
        info = record["method_info"]["ig"]
        # the first round is the configured panels (fewer when two cut points of the probe coincide)
        assert info["steps_tried"][0] <= config["n_steps"] and sum(info["steps_tried"]) <= config["max_steps"]
        assert (info["delta"] <= 1e-3) or ("ig_incomplete" in record["flags"])
    for record in report["texts"]:
        base = record["method_info"]["ig"]["base_value"]
        gap = abs(sum(record["attributions"]["ig"]) - (record["value"] - base))
        delta = record["method_info"]["ig"]["delta"]
        assert delta == pytest.approx(gap, abs=1e-5)
        assert ("ig_incomplete" in record["flags"]) == (delta > 1e-3)
        if "ig_incomplete" not in record["flags"]:
            assert gap <= 1e-3
    # the first flips the class over a short stretch of the path: uniform Gauss-Legendre leaves a gap of ~2.9 even at
    # 256 steps, the panels split there until it completes
    first = report["texts"][0]
    uniform = integrated_gradients(model, plain_tokenizer(bundle.tokenizer),
                                   tokenize_for_explanation(plain_tokenizer(bundle.tokenizer), texts[0], None), 1,
                                   "[MASK]", 256)
    assert uniform.info["delta"] > 1e-3 >= first["method_info"]["ig"]["delta"]
    assert "ig_incomplete" not in first["flags"] and sum(first["method_info"]["ig"]["steps_tried"]) < 256


def test_lime_with_deduplicated_batches_equals_lime_library(bundle, tokenized_short):
    from lime.lime_text import LimeTextExplainer

    tokenized = tokenized_short[2]
    counting = CachedPredictor(bundle.predict_proba)
    ours = lime_tokens(counting, tokenized, 1, num_samples=600, seed=5)
    reference = LimeTextExplainer(random_state=5).explain_instance(
        tokenized.text, bundle.predict_proba, labels=(1,), num_features=100, num_samples=600)
    by_word = {reference.domain_mapper.indexed_string.word(i): w for i, w in reference.local_exp[1]}
    assert len(by_word) == 8
    for word, weight in by_word.items():
        spans = [m.span() for m in re.finditer(rf"\b{re.escape(word)}\b", tokenized.text)]
        members = [i for i, (s, e) in enumerate(tokenized.offsets) if any(a <= s and e <= b for a, b in spans)]
        # equal up to float32 rounding: the model scores each string in a batch of another padded length
        assert members and sum(ours.values[i] for i in members) == pytest.approx(weight, abs=1e-6), word
    assert ours.values[tokenized.tokens.index(",")] == 0.0  # punctuation is not a LIME word
    # duplicates among 600 samples of 8 words are built and scored once
    assert ours.info["distinct"] < 600 / 2 and counting.evaluations <= ours.info["distinct"] + 1


# ---- stability ---------------------------------------------------------------------------------------

def test_method_agreement_flags_methods_that_disagree_and_shows_negative_correlation_unclipped():
    shap_values = np.array([0.5, 0.3, 0.1, 0.0, -0.1, -0.4])
    agreeing, flags = agreement({"shap": shap_values, "ig": shap_values * 0.9 + 0.01})
    assert flags == [] and agreeing["score"] > 0.9 and agreeing["k"] == 3  # k = min(5, 6 // 2) < n
    contrived = shap_values[::-1].copy()  # the opposite ranking
    report, flags = agreement({"shap": shap_values, "lime": contrived})
    assert "low_method_agreement" in flags
    assert report["score"] == pytest.approx(-1.0)  # shown as it is, not clipped at 0
    assert report["methods"][0]["spearman"] == pytest.approx(-1.0) and report["weakest"] == ["lime", "shap"]


def test_seed_instability_is_flagged_apart_from_method_agreement():
    words = np.array([0.5, 0.3, 0.1, 0.0, -0.1, -0.4])
    reseeded = {"lime": (words, np.array([0.0, 0.2, -0.3, 0.4, 0.0, 0.1]))}
    report, flags = perturbation_stability({"lime": words}, {"lime": words}, ([0, 1, 2, 3, 4, 5],) * 2,
                                           "neutral word appended", reseeded)
    assert flags == ["unstable_across_seeds"]
    assert report["methods"]["lime"]["top_k_overlap"] == 1.0 and report["seeds"]["lime"]["top_k_overlap"] < 0.6


# ---- sample selection and the global view ------------------------------------------------------------

def test_select_sample_covers_every_group_and_outcome_stratum():
    groups = ["female"] * 90 + ["male"] * 10
    correct = [True] * 80 + [False] * 10 + [True] * 8 + [False] * 2
    chosen = select_sample(groups, correct, n=20, seed=1)
    assert len(chosen) == 20 and len(set(chosen)) == 20
    strata = {(groups[i], correct[i]) for i in chosen}
    assert strata == {("female", True), ("female", False), ("male", True), ("male", False)}
    assert sum(1 for i in chosen if groups[i] == "male" and not correct[i]) == 2  # small stratum taken whole
    assert chosen == select_sample(groups, correct, n=20, seed=1)
    assert chosen != select_sample(groups, correct, n=20, seed=2)
    assert select_sample(groups, correct, n=500, seed=0) == list(range(100))


def test_global_view_ranks_the_token_only_one_group_relies_on_as_top_proxy():
    tokens = [["she", "led", "python"], ["he", "led", "python"]] * 3
    values = [np.array([-0.3, 0.1, 0.2]), np.array([0.05, 0.1, 0.2])] * 3
    view = global_view(tokens, values, {"gender": ["female", "male"] * 3}, "shap")
    assert view["top_tokens"][0]["token"] == "python"
    top = view["proxies"]["gender"][0]
    assert top["token"] == "she" and top["higher_in"] == "female" and top["gap"] == pytest.approx(0.3)
    assert top["mean_by_group"] == {"female": pytest.approx(-0.3), "male": 0.0}
    assert view["by_group"]["gender"]["male"][0]["token"] == "python"


# ---- explain_sample and its edge cases ---------------------------------------------------------------

def test_explain_sample_report_is_json_and_consistent(bundle):
    texts = ["She led a team of engineers.", "He mentored a data warehouse team.", "Skills: python, sql."]
    report = explain_sample(bundle, texts, [1, 1, 0], {"gender": ["female", "male", "male"]},
                            methods=("shap", "lime", "ig"), seed=0, lime_num_samples=100, ig_panels=2)
    json.dumps(report)
    assert report["methods"] == ["shap", "lime", "ig"] and len(report["texts"]) == 3
    for record, text in zip(report["texts"], texts):
        assert record["text"] == text and not record["truncated"]
        n = len(record["tokens"])
        assert all(len(record["attributions"][m]) == n for m in report["methods"])
        assert sum(record["attributions"]["shap"]) == pytest.approx(record["value"] - record["base_value"],
                                                                    abs=1e-4)
        assert {"score", "methods", "k", "weakest"} <= set(record["agreement"])
        assert {"score", "perturbation", "methods", "seeds"} <= set(record["stability"])
        assert "lime" in record["stability"]["seeds"] and set(record["stability"]["methods"]) == set(report["methods"])
        assert len(record["word_attributions"]["shap"]) == len(record["words"])
    assert report["global"]["method"] == "shap" and "gender" in report["global"]["proxies"]
    assert report["compute"]["model_evaluations"] > 0


def test_one_token_text_gets_the_whole_effect(bundle):
    report = explain_sample(bundle, ["python"], [1], {}, methods=("shap", "ig"), ig_panels=4)
    record = report["texts"][0]
    assert record["tokens"] == [{"token": "python", "start": 0, "end": 6}]
    assert record["attributions"]["shap"][0] == pytest.approx(record["value"] - record["base_value"], abs=1e-9)
    assert record["attributions"]["ig"][0] == pytest.approx(record["attributions"]["shap"][0], abs=5e-3)


@pytest.mark.parametrize("bad", ["", "   \n"])
def test_empty_text_is_refused_with_a_clear_error(bundle, bad):
    with pytest.raises(InputError, match="text #1 is empty"):
        explain_sample(bundle, ["fine text", bad], [1, 1], {})


def test_text_longer_than_the_model_limit_is_explained_as_truncated(bundle):
    text = " ".join(["experienced engineer"] * 70) + " with the women's chess club"
    limit = bundle.config["max_length"]
    report = explain_sample(bundle, [text], [1], {}, methods=("shap",), shap_max_evals=20)
    record = report["texts"][0]
    assert record["truncated"] and "truncated" in record["flags"] and report["config"]["max_length"] == limit
    assert len(record["tokens"]) == limit - 2 and record["original_length"] == len(text)
    assert text.startswith(record["text"]) and "women" not in record["text"]
    # what is explained is what the model sees of the whole text
    assert bundle.predict_proba([text])[0, 1] == pytest.approx(record["value"], abs=1e-6)


def test_non_ascii_text_offsets_point_at_the_tokens(bundle):
    text = "Zoë führte ein Team — naïve café 数据"
    report = explain_sample(bundle, [text], [1], {}, methods=("shap",))
    record = report["texts"][0]
    assert record["tokens"]
    for token in record["tokens"]:
        piece = text[token["start"]:token["end"]]
        assert piece and piece.strip() == piece
    covered = "".join(text[t["start"]:t["end"]] for t in record["tokens"])
    assert covered.replace(" ", "") == text.replace(" ", "")


def test_lime_many_batches_texts_and_seeds_without_changing_any_explanation(bundle, tokenized_short):
    items = [(t, 1) for t in tokenized_short[:3]]
    alone = [lime_tokens(CachedPredictor(bundle.predict_proba), t, target, num_samples=300, seed=s)
             for s in (0, 1) for t, target in items]
    counting = CachedPredictor(bundle.predict_proba)
    together = lime_many(counting, items + items, num_samples=300, seed=[0] * 3 + [1] * 3)
    assert counting.calls == 1  # every text, both seeds: one batched predict_proba call
    for a, b in zip(alone, together):  # equal up to the float32 rounding of differently padded batches
        np.testing.assert_allclose(a.values, b.values, atol=1e-6)
        assert a.base_value == pytest.approx(b.base_value, abs=1e-6)
        assert {k: v for k, v in a.info.items() if k != "r2"} == {k: v for k, v in b.info.items() if k != "r2"}


def test_lime_on_text_without_words_gives_zero_weights_not_an_error(bundle):
    tokenizer = plain_tokenizer(bundle.tokenizer)
    tokenized = tokenize_for_explanation(tokenizer, "?! ...", None)
    [result] = lime_many(CachedPredictor(bundle.predict_proba), [(tokenized, 0)], num_samples=50)
    assert result.info["words"] == 0 and not result.values.any()
    with pytest.raises(InputError, match="seeds"):
        lime_many(CachedPredictor(bundle.predict_proba), [(tokenized, 0)], num_samples=50, seed=[0, 1])
