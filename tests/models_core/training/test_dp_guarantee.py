"""Issue #16 point 2: the recorded DP-SGD ε must hold.

Attacks as an insider holding the artifact and the model version would try them: replay the noise from the
stored seed, find the noise seed in what is stored, pick the best epoch on validation data, smuggle
data-dependent weights into a DP run, or edit the recorded accounting to claim a smaller ε.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets

import numpy as np
import pytest
import torch
from opacus.accountants import PRVAccountant

from models_core.encoder.artifacts import save_artifact
from models_core.errors import InputError
from models_core.training import privacy
from models_core.training.config import TrainConfig
from models_core.training.privacy import epsilon_from_record
from models_core.training.trainer import stratified_split, train_classifier


def _dp_config(tiny_bert_dir, **overrides) -> TrainConfig:
    base = dict(encoder_dir=str(tiny_bert_dir), epochs=2, dp=True, dp_epsilon=3.0, dp_delta=1e-4, seed=0)
    return TrainConfig(**(base | overrides))


def _weights(result) -> dict[str, torch.Tensor]:
    return result.bundle.model.state_dict()


def test_recorded_epsilon_is_reproduced_by_a_fresh_accountant(tiny_bert_dir, hiring_small):
    texts, labels = hiring_small
    config = _dp_config(tiny_bert_dir)
    record = train_classifier(texts, labels, 2, config).dp
    n_train = len(stratified_split(np.asarray(labels), config.val_fraction, config.seed)[0])
    batches = math.ceil(n_train / config.batch_size)
    assert record["sample_rate"] == pytest.approx(1 / batches, rel=1e-12)
    assert record["steps"] == config.epochs * batches and record["epochs"] == config.epochs
    assert record["noise_multiplier"] > 0 and record["max_grad_norm"] == config.dp_max_grad_norm
    assert record["delta"] == 1e-4 and record["accountant"] == "prv" and record["opacus_version"]
    assert 0 < record["epsilon"] <= 3.0 + 1e-6
    # An accountant built here from the recorded (σ, q, steps, δ) alone, not through models_core.
    fresh = PRVAccountant()
    fresh.history = [(record["noise_multiplier"], record["sample_rate"], record["steps"])]
    recomputed = fresh.get_epsilon(delta=record["delta"], eps_error=record["accountant_eps_error"])
    assert abs(recomputed - record["epsilon"]) <= 1e-6 * record["epsilon"]
    assert epsilon_from_record(record) == pytest.approx(record["epsilon"], rel=1e-6)
    # A record edited to claim more noise no longer matches its ε: the claim is checkable, not just stated.
    forged = dict(record, noise_multiplier=record["noise_multiplier"] * 2)
    assert epsilon_from_record(forged) < 0.75 * record["epsilon"]


def test_dp_runs_with_one_seed_differ_and_non_dp_runs_stay_bit_equal(tiny_bert_dir, hiring_small):
    texts, labels = hiring_small
    dp = _dp_config(tiny_bert_dir, dp_epsilon=None, dp_noise_multiplier=1.0, epochs=1)
    a, b = (_weights(train_classifier(texts, labels, 2, dp)) for _ in range(2))
    assert not torch.equal(a["head.linear.weight"], b["head.linear.weight"])  # the stored seed replays nothing
    plain = dataclasses.replace(dp, dp=False, epochs=2)
    c, d = (_weights(train_classifier(texts, labels, 2, plain)) for _ in range(2))
    for name in c:
        assert torch.equal(c[name], d[name]), name


def test_dp_refuses_data_dependent_sample_weights(tiny_bert_dir, hiring_small):
    texts, labels = hiring_small
    reweighed = np.where(np.asarray(labels) == 1, 2.5, 0.8).tolist()
    with pytest.raises(InputError, match="sample weights"):
        train_classifier(texts, labels, 2, _dp_config(tiny_bert_dir), sample_weights=reweighed)


def test_dp_run_trains_every_epoch_and_keeps_the_last(tiny_bert_dir, hiring_small):
    texts, labels = hiring_small
    # patience=1 would stop a non-DP run at the first epoch without improvement; a DP run ignores it.
    config = _dp_config(tiny_bert_dir, dp_epsilon=None, dp_noise_multiplier=0.6, epochs=4, patience=1)
    result = train_classifier(texts, labels, 2, config)
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    assert result.metrics["best_epoch"] == 4 and result.metrics["epochs_run"] == 4
    assert result.metrics["selection_metric"].startswith("none")
    assert result.dp["steps"] == 4 * round(1 / result.dp["sample_rate"])
    # The returned weights are the last epoch's: their validation loss is the one recorded for epoch 4.
    _, val_idx = stratified_split(np.asarray(labels), config.val_fraction, config.seed)
    proba = result.bundle.predict_proba([texts[i] for i in val_idx])
    y_val = np.asarray(labels)[val_idx]
    val_loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_val)), y_val], 1e-12, None))))
    assert val_loss == pytest.approx(result.history[-1]["val_loss"], abs=1e-5)
    assert result.metrics["val_loss"] == result.history[-1]["val_loss"]


def test_no_noise_seed_is_stored_and_the_dp_randomness_is_all_from_it(tiny_bert_dir, hiring_small, tmp_path,
                                                                       monkeypatch):
    texts, labels = hiring_small
    config = _dp_config(tiny_bert_dir, epochs=1)
    drawn: list[int] = []
    real_randbits = secrets.randbits

    def spy(bits: int) -> int:  # passes the real OS-entropy draw through, keeping a copy for the search
        drawn.append(real_randbits(bits))
        return drawn[-1]

    monkeypatch.setattr(privacy.secrets, "randbits", spy)
    result = train_classifier(texts, labels, 2, config)
    assert len(drawn) == 2  # the noise generator and the Poisson sampler's generator
    directory = tmp_path / "artifact"
    save_artifact(result.bundle, directory, metadata={"training_config": dataclasses.asdict(config),
                                                      "dp": result.dp, "metrics": result.metrics})
    stored = b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())
    stored += json.dumps([result.dp, result.metrics, result.history, result.compute, result.bundle.config],
                         default=str).encode()
    for seed in drawn:
        for needle in (str(seed).encode(), f"{seed:x}".encode(), f"{seed:016x}".encode(),
                       seed.to_bytes(8, "little"), seed.to_bytes(8, "big")):
            assert needle not in stored, (seed, needle)
    # The converse: with the entropy pinned (the replay an attacker would need), two DP runs coincide, so
    # no other source of randomness is involved, and the stored training seed alone does not fix the noise.
    monkeypatch.setattr(privacy.secrets, "randbits", lambda bits: 12345)
    pinned = [_weights(train_classifier(texts, labels, 2, config)) for _ in range(2)]
    assert torch.equal(pinned[0]["head.linear.weight"], pinned[1]["head.linear.weight"])
    assert not torch.equal(pinned[0]["head.linear.weight"], _weights(result)["head.linear.weight"])
