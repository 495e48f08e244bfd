import numpy as np
import pytest
import torch

from models_core.encoder.bundle import bundle_from_pretrained
from models_core.encoder.inference import length_buckets, predict_dataset
from models_core.encoder.tokenization import encode_texts, pad_encodings

COMPUTE_KEYS = {"device", "wall_s", "cpu_s", "peak_mem_mb", "flops", "tokens", "energy_wh", "energy_assumption"}


@pytest.fixture(scope="module")
def minilm_bundle(minilm_dir):
    return bundle_from_pretrained(minilm_dir, num_labels=3, label_names=["a", "b", "c"], seed=5)


def test_length_buckets_cover_every_index_once_sorted_by_length():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    buckets = length_buckets(lengths, batch_size=3)
    assert sorted(np.concatenate(buckets).tolist()) == list(range(7))
    flat = [lengths[i] for i in np.concatenate(buckets)]
    assert flat == sorted(lengths)
    assert [len(b) for b in buckets] == [3, 3, 1]


def test_bucketed_predict_proba_equals_unbatched(minilm_bundle, hiring_small):
    texts = hiring_small[0][:8] + ["x", "Nurse with 2 years of experience."]
    bucketed = minilm_bundle.predict_proba(texts, batch_size=4)
    one_by_one = np.concatenate([minilm_bundle.predict_proba([t], batch_size=1) for t in texts])
    model = minilm_bundle.model.eval()
    with torch.inference_mode():  # one plain padded batch in the given order, no bucketing at all
        b = pad_encodings(encode_texts(minilm_bundle.tokenizer, texts), 0)
        plain = torch.softmax(model(b["input_ids"], b["attention_mask"]).double(), dim=1).numpy()
    assert bucketed.shape == (10, 3) and bucketed.dtype == np.float64
    assert np.abs(bucketed - one_by_one).max() <= 1e-5
    assert np.abs(bucketed - plain).max() <= 1e-5
    assert np.allclose(bucketed.sum(axis=1), 1.0)


def test_predict_dataset_returns_predictions_compute_and_progress(minilm_bundle, hiring_small):
    events = []
    out = predict_dataset(minilm_bundle, hiring_small[0][:30], batch_size=16, progress=events.append)
    assert out.probabilities.shape == (30, 3)
    assert out.predictions.tolist() == out.probabilities.argmax(axis=1).tolist()
    assert set(out.compute) == COMPUTE_KEYS
    assert out.compute["tokens"] == sum(len(e.ids) for e in encode_texts(minilm_bundle.tokenizer, hiring_small[0][:30]))
    assert out.compute["flops"] > 0 and out.compute["device"] == "cpu"
    assert [e["stage"] for e in events] == ["inference", "inference"]
    assert events[-1]["percent"] == 100.0


def test_empty_input_gives_empty_output(minilm_bundle):
    out = predict_dataset(minilm_bundle, [])
    assert out.probabilities.shape == (0, 3) and out.predictions.shape == (0,)


def test_token_budget_buckets_grow_for_short_texts_and_respect_the_budget():
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 129, 2000)
    buckets = length_buckets(lengths, batch_size=32, max_tokens=32 * 128)
    assert sorted(np.concatenate(buckets).tolist()) == list(range(2000))
    assert len(buckets) < 2000 / 32  # fewer, larger batches than fixed batches of 32
    for bucket in buckets:
        padded = len(bucket) * lengths[bucket].max()
        assert len(bucket) <= 32 or padded <= 32 * 128
        assert len(bucket) <= 32 or lengths[bucket].sum() >= 0.9 * padded
    padded_total = sum(len(b) * lengths[b].max() for b in buckets)
    assert padded_total <= 1.05 * lengths.sum()
