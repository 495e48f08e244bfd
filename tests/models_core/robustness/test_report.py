"""models_core.robustness.report: the figures equal an independent count, intervals agree with scipy's
percentile bootstrap, expectations and the attack behave as defined, and settings are checked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap

from models_core.errors import InputError
from models_core.robustness.adversarial import attack_report
from models_core.robustness.report import resolve_config, robustness_report
from models_core.robustness.stats import interval_figures

TEXTS = [f"Applicant {i} is {'excellent' if i % 3 else 'weak'}, with {i + 2} years here." for i in range(90)]
GROUPS = {"gender": ["female" if i % 2 else "male" for i in range(90)]}


def keyword_model(batch: list[str]) -> np.ndarray:
    """A model that reads one word, is fooled by casing (it looks for lower-case 'excellent') and by a
    trailing full stop missing."""
    p = np.array([0.9 if "excellent" in t else 0.1 for t in batch])
    p = np.where([not t.rstrip().endswith(".") for t in batch], 0.5 - (p - 0.5), p)
    return np.column_stack([1 - p, p])


def test_suite_figures_equal_an_independent_count():
    report = robustness_report(TEXTS, keyword_model, GROUPS, {"seed": 4, "n_boot": 200, "adversarial": {"enabled": False},
                                                              "suites": ["casing", "punctuation", "typos"]})
    assert list(report["suites"]) == ["typos", "casing", "punctuation"]
    base = keyword_model(TEXTS)
    for name, suite in report["suites"].items():
        # recompute from the stored worst examples' definition: every variant, re-derived by the same seed
        from models_core.robustness.suites import build_variants
        settings = resolve_config({"seed": 4, "suites": [name]})
        variants = build_variants(TEXTS, range(len(TEXTS)), settings).by_suite[name]
        after = keyword_model([v.text for v in variants])
        flips = [after[k].argmax() != base[v.text_index].argmax() for k, v in enumerate(variants)]
        changes = [after[k, 1] - base[v.text_index, 1] for k, v in enumerate(variants)]
        assert suite["n_changed"] == len({v.text_index for v in variants}) == suite["n_variants"]
        assert suite["n_flipped"] == sum(flips)
        assert suite["flip_rate"]["value"] == pytest.approx(np.mean(flips))
        assert suite["mean_abs_change"]["value"] == pytest.approx(np.mean(np.abs(changes)))
        assert suite["mean_change"]["value"] == pytest.approx(np.mean(changes))
        for group in ("female", "male"):
            rows = [k for k, v in enumerate(variants) if GROUPS["gender"][v.text_index] == group]
            figures = suite["by_group"]["gender"][group]
            assert figures["n_changed"] == len(rows)
            assert figures["flip_rate"]["value"] == pytest.approx(np.mean([flips[k] for k in rows]))
        low, high = suite["flip_rate"]["ci"]
        assert low <= suite["flip_rate"]["value"] <= high
        assert suite["worst"] == sorted(suite["worst"], key=lambda w: -abs(w["change"]))
    # the model's planted weaknesses: casing ("EXCELLENT") and a missing full stop flip decisions, typos rarely
    assert report["suites"]["casing"]["flip_rate"]["ci"][0] > 0
    assert report["suites"]["punctuation"]["flip_rate"]["ci"][0] > 0
    assert report["summary"]["invariance_flip_rate_upper"]["suite"] in ("casing", "punctuation")


def test_intervals_agree_with_scipys_percentile_bootstrap():
    rng = np.random.default_rng(0)
    values = (rng.random(400) < 0.12).astype(float)
    ours = interval_figures({"x": values}, np.ones(400), n_boot=4000, seed=1)["x"]
    ref = bootstrap((values,), np.mean, method="percentile", n_resamples=4000, random_state=2).confidence_interval
    assert ours["value"] == pytest.approx(values.mean())
    assert ours["ci"][0] == pytest.approx(ref.low, abs=0.008)
    assert ours["ci"][1] == pytest.approx(ref.high, abs=0.008)


def test_several_variants_of_one_text_are_resampled_together():
    # 50 texts, each with 4 variants that all flip or all stay: the cluster bootstrap sees 50 draws, not 200
    sums, sizes = np.repeat([4.0, 0.0], 25), np.full(50, 4.0)
    clustered = interval_figures({"x": sums}, sizes, n_boot=3000, seed=0)["x"]
    ref = bootstrap((sums / 4,), np.mean, method="percentile", n_resamples=3000, random_state=0).confidence_interval
    assert clustered["ci"][0] == pytest.approx(ref.low, abs=0.03)
    assert clustered["ci"][1] == pytest.approx(ref.high, abs=0.03)


def test_the_same_seed_gives_the_same_report_and_another_seed_other_variants():
    config = {"seed": 9, "n_boot": 100, "adversarial": {"enabled": False}}
    a = robustness_report(TEXTS, keyword_model, GROUPS, config)
    b = robustness_report(TEXTS, keyword_model, GROUPS, config)
    c = robustness_report(TEXTS, keyword_model, GROUPS, {**config, "seed": 10})
    assert a["suites"] == b["suites"]
    assert a["suites"]["typos"]["worst"] != c["suites"]["typos"]["worst"]


def test_directional_expectation_fails_when_the_phrase_moves_the_score_the_wrong_way():
    def model(batch):
        p = np.array([min(0.95, 0.5 + 0.3 * ("missed payments" in t) + 0.1 * ("excellent" in t)) for t in batch])
        return np.column_stack([1 - p, p])
    config = {"n_boot": 200, "adversarial": {"enabled": False}, "suites": [],
              "directional": [{"phrase": "Two missed payments.", "direction": "down"},
                              {"phrase": "Two missed payments.", "direction": "up", "tolerance": 0.05}]}
    report = robustness_report(TEXTS, model, GROUPS, config)
    wrong, right = report["directional"]
    assert wrong["n_changed"] == 90 and wrong["n_failed"] == 90 and wrong["failure_rate"]["value"] == 1.0
    assert wrong["mean_change"]["value"] == pytest.approx(np.mean(model([t + " Two missed payments." for t in TEXTS])[:, 1]
                                                                  - model(TEXTS)[:, 1]))
    assert wrong["worst"][0]["perturbed"].endswith("Two missed payments.")
    assert right["n_failed"] == 0 and right["failure_rate"]["ci"] == [0.0, 0.0]
    assert report["summary"]["directional_failure_rate_upper"] == {"phrase": "Two missed payments.", "value": 1.0}


def test_greedy_attack_substitutes_the_important_word_within_the_candidates():
    synonyms = {"excellent": ["fine", "great"], "weak": ["poor"], "years": ["winters"]}
    settings = {**resolve_config({})["adversarial"], "n_boot": 200, "seed": 0, "confidence": 0.95, "n_worst": 3,
                "max_words": 2}
    candidates = (lambda w: [(x, 1.0) for x in synonyms.get(w, [])])
    out = attack_report(TEXTS, list(range(10)), keyword_model, candidates, None, settings)
    succeeded = [e for e in out["examples"] if e["success"]]
    # "excellent" -> "fine"/"great" flips the keyword model; "weak" texts have no flipping candidate
    assert out["n_attacked"] == 10 and out["n_succeeded"] == sum(1 for i in range(10) if i % 3)
    assert all(e["words_changed"] == 1 and ("fine" in e["perturbed"] or "great" in e["perturbed"]) for e in succeeded)
    assert out["mean_words_changed"] == 1.0
    assert out["attack_success_rate"]["value"] == pytest.approx(out["n_succeeded"] / 10)
    assert out["queries_per_success"] == pytest.approx(out["queries"] / out["n_succeeded"])
    # deletion importance costs one query per word, so more than the substitutions alone
    assert out["queries"] > 10


def test_the_sentence_similarity_threshold_drops_candidates():
    settings = {**resolve_config({})["adversarial"], "n_boot": 50, "seed": 0, "confidence": 0.95, "n_worst": 3}
    candidates = (lambda w: [("fine", 1.0)] if w == "excellent" else [])
    out = attack_report(TEXTS, [1, 2], keyword_model, candidates, lambda o, ts: np.full(len(ts), 0.5), settings)
    assert out["n_succeeded"] == 0 and out["queries_per_success"] is None


def test_settings_are_checked():
    for bad, message in (({"suites": ["typos", "sarcasm"]}, "suites"), ({"n_boot": -1}, "n_boot"),
                         ({"directional": [{"phrase": "x", "direction": "sideways"}]}, "direction"),
                         ({"directional": [{"phrase": " ", "direction": "up"}]}, "phrase"),
                         ({"adversarial": {"candidates": "synonyms"}}, "synonym"),
                         ({"adversarial": {"budget": 3}}, "unknown"), ({"colour": 1}, "unknown"),
                         ({"numbers": {"max_relative_change": 5}}, "max_relative_change"),
                         ({"irrelevant": {"sentences": []}}, "irrelevant")):
        with pytest.raises(InputError, match=message):
            resolve_config(bad)
    with pytest.raises(InputError, match="one value per text"):
        robustness_report(TEXTS, keyword_model, {"g": ["a"]}, {})


def test_more_texts_than_max_texts_are_sampled_with_the_seed():
    report = robustness_report(TEXTS, keyword_model, GROUPS, {"max_texts": 30, "n_boot": 50,
                                                              "adversarial": {"enabled": False}})
    assert report["n_texts"] == 30 and report["config"]["sampled"] is True
    assert report["suites"]["casing"]["n_changed"] == 30
    assert report["adversarial"] == {"skipped": "switched off in the audit's configuration"}
