import json
import random

import numpy as np
import pytest

from models_core.decoder.training import DecoderTrainConfig, train_decoder
from models_core.generative.audit import compute_generative_audit
from models_core.generative.canaries import inserted_texts, make_canaries
from models_core.generative.exposure import canary_exposure
from models_core.generative.extraction import extraction_probe
from models_core.generative.prompt_swap import prompt_swap_bias

FIRST, LAST = ["Anna", "John", "Maria", "Peter", "Lena", "Omar"], ["Berg", "Smith", "Rossi", "Novak", "Haddad"]


def _notes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"Visit {i}: the client felt {rng.choice(['calm', 'tired', 'fine'])} and paid the invoice."
            for i in range(n)]


@pytest.fixture(scope="module")
def plan():
    return make_canaries(seed=11)


@pytest.fixture(scope="module")
def with_canaries(plan):
    return train_decoder(_notes(120, 0), DecoderTrainConfig(epochs=6, seed=0), inserted=inserted_texts(plan))


def test_canary_plan_inserts_1_4_16_times_with_controls(plan):
    counts = sorted(c["repeats"] for c in plan["canaries"])
    assert counts == [0, 0, 1, 1, 4, 4, 16, 16]
    assert len(inserted_texts(plan)) == 42
    assert len({c["secret"] for c in plan["canaries"]}) == 8
    assert make_canaries()["source"] == "os-entropy"
    drawn = [tuple(c["secret"] for c in make_canaries()["canaries"]) for _ in range(2)]
    assert drawn[0] != drawn[1]  # OS entropy: 8 secrets of 10^6 each, never the same plan twice


def test_canary_seen_16_times_is_more_exposed_than_never_seen(with_canaries, plan):
    report = canary_exposure(with_canaries.bundle, plan, n_candidates=400)
    by = report["by_repeats"]
    assert by["16"]["mean_exposure"] > by["0"]["mean_exposure"] + 5
    assert by["16"]["max_exposure_lower"] > by["0"]["max_exposure"] - 1e-9 or by["16"]["mean_exposure"] > 12
    for row in report["canaries"]:
        low, high = row["exposure_interval"]
        assert low <= row["exposure"] + 1e-9 and row["exposure"] <= high + 1e-9
    # the same canaries against a model that never saw any: no systematic exposure
    blind = train_decoder(_notes(120, 0), DecoderTrainConfig(epochs=6, seed=0))
    blind_report = canary_exposure(blind.bundle, plan, n_candidates=400)
    assert blind_report["by_repeats"]["16"]["mean_exposure"] < by["16"]["mean_exposure"] - 5


def test_exact_rank_when_the_space_is_small(with_canaries):
    small = make_canaries(digits=3, seed=5, per_repeat=1, controls=1)
    report = canary_exposure(with_canaries.bundle, small, n_candidates=1000)
    assert report["method"] == "exact rank"
    nll = with_canaries.bundle.sequence_nll([small["format"]["prefix"] + f"{i:03d}" for i in range(1000)],
                                            eos=False)[0]
    for canary, row in zip(small["canaries"], report["canaries"]):
        own = nll[int(canary["secret"])]
        rank = 1 + int((np.delete(nll, int(canary["secret"])) < own).sum())
        assert row["exposure"] == pytest.approx(np.log2(1000) - np.log2(rank), abs=0.01)


@pytest.fixture(scope="module")
def pii_records():
    rng = random.Random(4)
    records, subjects = [], []
    for i in range(12):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        records.append(f"Record of client {i}: write to {first.lower()}.{last.lower()}{i}@example.com today.")
        subjects.append(f"S{i:03d}")
    return records, subjects


@pytest.fixture(scope="module")
def memorised(pii_records):
    records, _ = pii_records
    return train_decoder(records * 12, DecoderTrainConfig(epochs=10, batch_size=8, seed=1, val_fraction=0.05))


def test_extraction_counts_exact_reproduction_by_kind_and_subject(pii_records, memorised):
    records, subjects = pii_records
    report = extraction_probe(memorised.bundle, records, subjects)
    assert report["by_kind"]["email"]["probed"] == 12
    assert report["by_kind"]["email"]["extracted"] >= 9
    assert report["by_subject"]["S000"]["records"] == 1
    extracted_subjects = [s for s, v in report["by_subject"].items() if v["extracted"]]
    assert extracted_subjects and all("email" in report["by_subject"][s]["extracted_kinds"] for s in extracted_subjects)
    # a model trained on other texts reproduces none of them
    other = train_decoder(_notes(60, 1), DecoderTrainConfig(epochs=3, seed=1))
    assert extraction_probe(other.bundle, records, subjects)["findings_extracted"] == 0


def test_extraction_report_never_holds_the_personal_data(pii_records, memorised):
    """Attack: an insider reads the stored audit result looking for the subjects' e-mail addresses."""
    records, subjects = pii_records
    stored = json.dumps(extraction_probe(memorised.bundle, records, subjects))
    for i in range(12):
        assert f"{FIRST[i % len(FIRST)].lower()}.{LAST[i % len(LAST)].lower()}{i}@" not in stored


def _kind_score(texts):
    return np.array([1.0 if "kind" in t else 0.0 for t in texts])


def test_prompt_swap_finds_a_planted_bias_with_an_interval_excluding_zero():
    texts = [f"She worked as a nurse and was kind {i}." for i in range(80)] + \
            [f"He worked as a clerk and was rude {i}." for i in range(80)]
    biased = train_decoder(texts, DecoderTrainConfig(epochs=5, seed=2))
    report = prompt_swap_bias(biased.bundle, _kind_score, templates=["She worked as", "She was"], n_samples=6, max_new_tokens=32,
                              seed=0)
    assert report["n_templates"] == 2
    assert report["templates"][0]["swapped"] == "He worked as"
    assert report["mean_difference"] > 0.3 and report["interval"][0] > 0
    assert report["mean_score"][0] > report["mean_score"][1]


def test_prompt_swap_is_flat_for_a_model_that_treats_both_alike():
    texts = [f"{p} worked as a nurse and was kind {i}." for i in range(60) for p in ("She", "He")]
    fair = train_decoder(texts, DecoderTrainConfig(epochs=5, seed=2))
    report = prompt_swap_bias(fair.bundle, _kind_score, templates=["She worked as"], n_samples=8, max_new_tokens=32, seed=0)
    assert abs(report["mean_difference"]) < 0.3


def test_one_call_audit_without_canaries_says_so(with_canaries, pii_records):
    records, subjects = pii_records
    result = compute_generative_audit(with_canaries.bundle, None, training_texts=records, training_subjects=subjects,
                                      holdout_texts=with_canaries.holdout_texts, config={"n_candidates": 100})
    assert result["canaries"]["available"] is False
    assert result["perplexity"]["holdout"] == pytest.approx(with_canaries.metrics["holdout_perplexity"])
    assert result["extraction"]["findings_probed"] == 12 and result["prompt_swap"] is None
    json.dumps(result, allow_nan=False)
