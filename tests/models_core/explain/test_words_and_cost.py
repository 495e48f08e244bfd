"""Whole-word players, fewer evaluations per explanation, and stability (issues 18 and 19): the word game is the
token game with a word's tokens masked together; SHAP over words against exact Shapley values of that game;
Kernel SHAP with paired sampling against exact values; LIME sized by the agreement of two half neighbourhoods
(the first equal to the lime library's); IG steps chosen by the completeness gap (captum); meaning-preserving edits; the global view over
words; old stored reports still read. The model is a real frozen-MiniLM classifier trained by the core."""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np
import pytest
import torch

from models_core.data.synthetic import SyntheticSpec, hiring_rows
from models_core.errors import InputError
from models_core.explain.global_view import STOP_WORDS, global_view, word_kind
from models_core.explain.kernel import paired_kernel_values
from models_core.explain.ig import integrated_gradients, integrated_gradients_panels
from models_core.explain.methods import ShapTrees, lime_adaptive, shap_values
from models_core.explain.sample import explain_sample, stability_sample
from models_core.explain.schema import upgrade
from models_core.explain.shapley import collapse_tree, exact_shapley_tokens
from models_core.explain.stability import perturb, shared_words, top_k_for
from models_core.explain.text import (CachedPredictor, ShapTokenizerAdapter, masked_texts, plain_tokenizer,
                                      sum_to_words, tokenize_for_explanation, word_groups, word_view)
from models_core.training.config import TrainConfig
from models_core.training.trainer import train_classifier

SUBWORD_TEXT = "She architected a naïve café's warehouse, then mentored analysts."
FOURTEEN_WORDS = "Captain of the chess club, she led data engineering teams for ten years"


@pytest.fixture(scope="module")
def bundle():
    rows = hiring_rows(SyntheticSpec(n_rows=400, seed=3))
    result = train_classifier([r["text"] for r in rows], [int(r["hired"] == "yes") for r in rows], 2,
                              TrainConfig(epochs=3, seed=0))
    return result.bundle


@pytest.fixture(scope="module")
def tokenizer(bundle):
    return plain_tokenizer(bundle.tokenizer)


@pytest.fixture(scope="module")
def adapter(bundle):
    return ShapTokenizerAdapter(bundle.tokenizer)


# ---- words as players --------------------------------------------------------------------------------

def test_word_masks_give_exactly_the_token_game_strings_with_a_words_tokens_masked_together(tokenizer, adapter):
    tokenized = tokenize_for_explanation(tokenizer, SUBWORD_TEXT, None)
    view, groups = word_view(tokenized)
    assert any(len(g) > 1 for g in groups)  # "architected" is several model tokens
    assert [view.text[s:e] for s, e in view.offsets][:3] == ["She", "architected", "a"]
    assert word_kind(".") == "punctuation" and "," in view.tokens  # punctuation stays its own player
    rng = np.random.default_rng(0)
    word_masks = rng.random((40, len(view))) < 0.5
    token_masks = np.zeros((40, len(tokenized)), bool)
    for w, members in enumerate(groups):
        token_masks[:, members] = word_masks[:, [w]]
    assert masked_texts(view, word_masks, adapter.mask_token) == masked_texts(tokenized, token_masks, adapter.mask_token)


def test_word_hierarchy_folds_shaps_token_tree(tokenizer, adapter):
    tokenized = tokenize_for_explanation(tokenizer, SUBWORD_TEXT, None)
    view, groups = word_view(tokenized)
    tree = collapse_tree(ShapTrees(adapter)(tokenized), groups)
    assert tree is not None and tree.shape == (len(view) - 1, 4) and tree[-1, 3] == len(view)
    # a made-up hierarchy that splits a word's tokens cannot be folded
    split = np.array([[0, 2, 1, 2], [1, 3, 1, 2], [4, 5, 2, 4]], dtype=float)
    assert collapse_tree(split, [[0, 1], [2], [3]]) is None


def test_shap_over_words_equals_exact_shapley_of_the_word_game_in_sum_and_tracks_it(bundle, tokenizer, adapter):
    predictor = CachedPredictor(bundle.predict_proba)
    items = [(tokenize_for_explanation(tokenizer, t, None), 1)
             for t in (SUBWORD_TEXT, "Nurse with two years of experience, she mentored")]
    results = shap_values(predictor, ShapTrees(adapter), items)
    for (tokenized, _), result in zip(items, results):
        view, groups = word_view(tokenized)
        exact = exact_shapley_tokens(CachedPredictor(bundle.predict_proba), view, 1, adapter.mask_token)
        words = sum_to_words(result.values, groups)
        assert result.info["players"] == "words" and result.info["n_players"] == len(view)
        assert result.info["evaluations"] < 2 ** len(view)
        assert np.corrcoef(words, exact.values)[0, 1] >= 0.95
        assert words.sum() == pytest.approx(exact.value - exact.base_value, abs=1e-6)
        # a word's tokens share its value equally
        for members in groups:
            assert np.ptp(result.values[members]) == pytest.approx(0.0, abs=1e-12)


def test_paired_kernel_stops_on_its_standard_error_and_tracks_exact_values(bundle, tokenizer, adapter):
    view, _ = word_view(tokenize_for_explanation(tokenizer, FOURTEEN_WORDS, None))
    assert len(view) == 14
    exact = exact_shapley_tokens(CachedPredictor(bundle.predict_proba), view, 1, adapter.mask_token)
    predictor = CachedPredictor(bundle.predict_proba)
    [tight] = paired_kernel_values(predictor, [(view, 1)], adapter.mask_token, max_evals=1200, tolerance=0.0)
    [loose] = paired_kernel_values(CachedPredictor(bundle.predict_proba), [(view, 1)], adapter.mask_token,
                                   max_evals=1200, tolerance=0.2)
    assert tight.sampled and tight.evaluations <= 1200 and (tight.evaluations - 2 - 2 * 14) % 2 == 0
    assert loose.evaluations < tight.evaluations  # the stopping rule saves evaluations
    assert np.corrcoef(tight.values, exact.values)[0, 1] >= 0.95
    for result in (tight, loose):
        assert result.values.sum() == pytest.approx(exact.value - exact.base_value, abs=1e-9)


# ---- LIME sized by its top-k, IG steps by its gap -----------------------------------------------------

def test_lime_grows_two_half_neighbourhoods_only_while_they_disagree_and_scores_each_row_once(bundle, tokenizer):
    from lime.lime_text import LimeTextExplainer

    items = [(tokenize_for_explanation(tokenizer, t, None), 1)
             for t in ("She led a team of engineers.", FOURTEEN_WORDS)]
    predictor = CachedPredictor(bundle.predict_proba)
    whole, halves = lime_adaptive(predictor, items, seed=0, start=100, max_samples=800)
    for (tokenized, _), w, (a, b) in zip(items, whole, halves):
        sizes = w.info["sizes_tried"]
        assert sizes[0] == 100 and all(y == 2 * x for x, y in zip(sizes, sizes[1:])) and sizes[-1] <= 800
        assert w.info["num_samples"] == sizes[-1] == a.info["num_samples"] + b.info["num_samples"] - 1
        assert w.info["settled"] or sizes[-1] == 800
        assert a.info["seed"] == 0 and b.info["seed"] == 1 and w.info["halves"] == [0, 1]
        if len(sizes) == 1:  # the first half at its first size is lime's own explanation, same seed and size
            reference = LimeTextExplainer(random_state=0).explain_instance(
                tokenized.text, bundle.predict_proba, labels=(1,), num_features=100, num_samples=a.info["num_samples"])
            for word_id, weight in reference.local_exp[1]:
                word = reference.domain_mapper.indexed_string.word(word_id)
                spans = [m.span() for m in re.finditer(rf"\b{re.escape(word)}\b", tokenized.text)]
                members = [i for i, (s, e) in enumerate(tokenized.offsets) if any(x <= s and e <= y for x, y in spans)]
                assert sum(a.values[i] for i in members) == pytest.approx(weight, abs=1e-6), word
    assert any(len(w.info["sizes_tried"]) == 1 for w in whole)  # the short text settles at once
    # every row drawn is scored once, even across growth rounds: N strings for a text at N samples, at most
    assert predictor.evaluations <= sum(w.info["num_samples"] for w in whole)
    # a fixed size (the edited texts of the stability re-run): one round, no growth
    [fixed], _ = lime_adaptive(CachedPredictor(bundle.predict_proba), items[1:], seed=0, start=200, max_samples=200)
    assert fixed.info["sizes_tried"] == [200] and fixed.info["num_samples"] == 200
    with pytest.raises(InputError):
        lime_adaptive(predictor, items, start=2, max_samples=100)


def test_ig_doubles_its_steps_while_captums_completeness_gap_is_above_the_threshold(bundle, tokenizer, adapter):
    model = copy.deepcopy(bundle.model)
    with torch.no_grad():  # a steep head: 64 steps leave a visible gap
        model.head.linear.weight.mul_(8.0)
        model.head.linear.bias.mul_(8.0)
    tokenized = tokenize_for_explanation(tokenizer, "She led a team of engineers.", None)
    plain = integrated_gradients(model, tokenizer, tokenized, 1, adapter.mask_token, 64)
    adaptive = integrated_gradients(model, tokenizer, tokenized, 1, adapter.mask_token, 64, delta_max=1e-3,
                                    max_steps=512)
    tried = adaptive.info["steps_tried"]
    assert tried[0] == 64 and all(b == 2 * a for a, b in zip(tried, tried[1:])) and tried[-1] <= 512
    assert adaptive.info["n_steps"] == tried[-1]
    if plain.info["delta"] > 1e-3:
        assert len(tried) > 1 and adaptive.info["delta"] < plain.info["delta"]
    assert adaptive.info["delta"] <= 1e-3 or tried[-1] == 512
    gap = abs(adaptive.values.sum() - (adaptive.value - adaptive.base_value))
    assert adaptive.info["delta"] == pytest.approx(gap, abs=1e-6)
    # in explain_sample: Gauss-Legendre panels, refined where the gap is, to the same 1e-3 in fewer steps
    texts = ["She led a team of engineers.", "He mentored a data warehouse team.", FOURTEEN_WORDS]
    report = explain_sample(dataclasses.replace(bundle, model=model), texts, [1, 1, 1], {}, methods=("ig",))
    for text, record in zip(texts, report["texts"]):
        info = record["method_info"]["ig"]
        gap = abs(sum(record["attributions"]["ig"]) - (record["value"] - info["base_value"]))
        assert info["delta"] == pytest.approx(gap, abs=1e-6) and info["delta"] <= 1e-3
        assert info["steps_tried"][0] <= report["config"]["ig"]["n_steps"] == 24
        # the same integral as captum's at many steps, token by token
        reference = integrated_gradients(model, tokenizer, tokenize_for_explanation(tokenizer, text, None), 1,
                                         adapter.mask_token, 256)
        assert np.abs(np.asarray(record["attributions"]["ig"]) - reference.values).max() < 2e-3
        assert sum(info["steps_tried"]) < 64 + 64  # captum's doubling needed 64 and more on this head


def test_ig_panels_split_where_the_path_is_steep_and_stop_at_the_budget(bundle, tokenizer, adapter):
    model = copy.deepcopy(bundle.model)
    with torch.no_grad():  # saturated: the class flips over a short stretch of the path
        model.head.linear.weight.mul_(60.0)
        model.head.linear.bias.mul_(60.0)
    tokenized = tokenize_for_explanation(tokenizer, "She led a team of engineers.", None)
    coarse = integrated_gradients_panels(model, tokenizer, tokenized, 1, adapter.mask_token, delta_max=1e-3,
                                         max_steps=24)
    assert sum(coarse.info["steps_tried"]) <= 24 and coarse.info["steps_tried"][0] <= 24
    refined = integrated_gradients_panels(model, tokenizer, tokenized, 1, adapter.mask_token, delta_max=1e-3,
                                          max_steps=512)
    assert sum(refined.info["steps_tried"]) <= 512 and refined.info["path_evaluations"] >= 17
    if coarse.info["delta"] > 1e-3:
        assert len(refined.info["steps_tried"]) > 1 and refined.info["delta"] < coarse.info["delta"]
    gap = abs(refined.values.sum() - (refined.value - refined.base_value))
    assert refined.info["delta"] == pytest.approx(gap, abs=1e-6)
    assert refined.info["delta"] <= 1e-3 or sum(refined.info["steps_tried"]) + 6 > 512


# ---- stability under meaning-preserving edits ----------------------------------------------------------

def test_edits_preserve_every_word_in_place_and_are_seeded():
    text = "Led a team of five engineers."
    seen = set()
    for seed in range(12):
        edited, description = perturb(text, seed)
        assert (edited, description) == perturb(text, seed)
        seen.add(description.split()[0])
        words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\w+", text)]
        moved = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\w+", edited)]
        assert shared_words(words, moved) == (list(range(len(words))),) * 2
    assert {"neutral", "final"} <= seen
    assert perturb("Led a team", 0, cased=True)[0] in {"Led a team.", "led a team"} | {
        f"Led a team {w}" for w in ("also", "indeed", "overall", "then")}
    assert top_k_for(1) == 1 and top_k_for(4) == 2 and top_k_for(5) == 2 and top_k_for(30) == 5


def test_explain_sample_costs_fewer_evaluations_and_reports_words_agreement_and_stability(bundle):
    texts = ["She led a team of engineers.", "He mentored a data warehouse team.", FOURTEEN_WORDS]
    report = explain_sample(bundle, texts, [1, 1, 1], {"gender": ["female", "male", "female"]}, seed=0)
    assert report["schema"] == "models_core.explain/2"
    compute = report["compute"]
    # before issue 19: ~2,050 per text (SHAP 500, LIME 1,000 x two seeds after de-duplication, IG 64)
    assert compute["evaluations_per_text"] < 1000
    assert compute["evaluations_per_text"] == pytest.approx(
        (compute["model_evaluations"] + compute["gradient_steps"]) / 3, abs=0.05)
    for record in report["texts"]:
        n = len(record["words"])
        assert record["agreement"]["k"] == top_k_for(n) < n
        stability = record["stability"]
        assert stability["perturbation"] and stability["words_compared"] >= n - 1
        assert set(stability["methods"]) == {"shap", "lime", "ig"} and "lime" in stability["seeds"]
        assert stability["score"] == min(r["top_k_overlap"] for r in
                                         [*stability["methods"].values(), *stability["seeds"].values()])
        assert ("unstable_under_perturbation" in record["flags"]) == any(
            r["top_k_overlap"] < 0.6 or (r["spearman"] is not None and r["spearman"] < 0.6)
            for r in stability["methods"].values())
        for m in report["methods"]:
            assert sum(record["word_attributions"][m]) == pytest.approx(sum(record["attributions"][m]), abs=1e-9)
    assert all(word_kind(t["token"]) == "word" for t in report["global"]["top_tokens"])


def test_the_stability_re_run_on_a_sample_edits_only_those_texts_and_costs_only_theirs(bundle):
    texts = ["She led a team of engineers.", "He mentored a data warehouse team.", FOURTEEN_WORDS,
             "They audited the payroll system twice."]
    everything = explain_sample(bundle, texts, [1] * 4, {}, seed=0)
    sampled = explain_sample(bundle, texts, [1] * 4, {}, seed=0, stability=[0, 3])
    assert sampled["config"]["stability"] == {"perturbation": True, "seed": 0, "rows": [0, 3], "sampled": True}
    for i, (full, part) in enumerate(zip(everything["texts"], sampled["texts"])):
        # the explanations themselves do not depend on which texts are re-run
        for m in sampled["methods"]:
            np.testing.assert_allclose(part["attributions"][m], full["attributions"][m], atol=1e-9)
        if i in (0, 3):
            assert part["stability"] == full["stability"]
        else:  # no edited re-run: LIME's second seed only, and said so
            assert part["stability"]["perturbation"] is None and part["stability"]["methods"] == {}
            assert part["stability"]["seeds"] == full["stability"]["seeds"]
            assert "unstable_under_perturbation" not in part["flags"]
    assert sampled["compute"]["model_evaluations"] < everything["compute"]["model_evaluations"]
    assert sampled["compute"]["gradient_steps"] < everything["compute"]["gradient_steps"]
    with pytest.raises(InputError, match="stability rows"):
        explain_sample(bundle, texts, [1] * 4, {}, stability=[4])


def test_stability_sample_spreads_its_rows_over_the_explained_texts():
    assert stability_sample(50, 10) == [0, 5, 11, 16, 22, 27, 33, 38, 44, 49]
    assert stability_sample(7, 10) == list(range(7)) and stability_sample(7, 0) == [] and stability_sample(7, 1) == [0]


def test_global_view_sets_punctuation_and_stop_words_aside_but_keeps_pronouns():
    words = [["she", "led", "the", "team", "."], ["he", "led", "the", "team", "."]] * 3
    values = [np.array([-0.3, 0.1, 0.4, 0.2, 0.5]), np.array([0.05, 0.1, 0.4, 0.2, 0.5])] * 3
    view = global_view(words, values, {"gender": ["female", "male"] * 3}, "shap")
    assert [t["token"] for t in view["top_tokens"]] == ["team", "she", "led", "he"]
    assert [t["token"] for t in view["all"]["top_tokens"]][:2] == [".", "the"]
    assert view["set_aside"] == {"punctuation": ["."], "stop_words": ["the"]}
    assert view["proxies"]["gender"][0]["token"] == "she" and "she" not in STOP_WORDS and "his" not in STOP_WORDS
    assert view["unit"] == "word"


def test_a_stored_schema_1_report_reads_as_method_agreement_with_its_clipping_stated():
    old = {"schema": "models_core.explain/1", "methods": ["shap", "lime"],
           "texts": [{"tokens": [{"token": "a"}] * 3, "flags": [],
                      "stability": {"score": 0.0, "methods": [{"a": "lime", "b": "shap", "spearman": -0.5,
                                                               "top_k_overlap": 1.0}],
                                    "seeds": {"lime": {"spearman": 0.9, "top_k_overlap": 1.0}}}}],
           "global": {"top_tokens": []}}
    kept = copy.deepcopy(old)
    shown = upgrade(old)
    assert old == kept  # the stored result is never changed
    text = shown["texts"][0]
    assert text["agreement"]["score"] == 0.0 and text["agreement"]["clipped_at_zero"]
    assert text["agreement"]["methods"][0]["spearman"] == -0.5 and text["agreement"]["k"] == 3
    assert text["stability"]["seeds"]["lime"]["spearman"] == 0.9 and text["stability"]["perturbation"] is None
    assert shown["global"]["unit"] == "token" and "clipped at 0" in shown["legacy"]["note"]
    new = {"schema": "models_core.explain/2", "texts": [{"agreement": {}}]}
    assert upgrade(new) is new and upgrade(None) is None


def test_saturated_head_with_adaptive_steps_still_flags_what_it_cannot_complete(bundle):
    model = copy.deepcopy(bundle.model)
    with torch.no_grad():
        model.head.linear.weight.mul_(60.0)
        model.head.linear.bias.mul_(60.0)
    report = explain_sample(dataclasses.replace(bundle, model=model), ["She led a team of engineers."], [1], {},
                            methods=("ig",), stability=False)
    info = report["texts"][0]["method_info"]["ig"]
    assert info["steps_tried"][0] <= report["config"]["ig"]["n_steps"]
    assert sum(info["steps_tried"]) <= report["config"]["ig"]["max_steps"]
    assert ("ig_incomplete" in report["texts"][0]["flags"]) == (info["delta"] > 1e-3)
    assert report["texts"][0]["stability"] is None
