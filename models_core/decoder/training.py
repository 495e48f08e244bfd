"""Training a causal decoder from scratch on texts (`train_decoder`), optionally with DP-SGD (Opacus).

The texts are split (seeded) into a training and a holdout part; the holdout gives the perplexity. Extra
training-only texts (`inserted`: the memorisation audit's canaries, models_core.generative.canaries) join
the training part and never the holdout. Each text is one sequence <|endoftext|> text <|endoftext|>
(byte-level tokens, truncated to `max_length`); the loss is the mean next-token cross-entropy of each
sequence, averaged over the batch, so every record weighs the same however long it is.

DP-SGD trains every weight of the decoder (there is no frozen pretrained part): per-example clipping of the
whole gradient, Gaussian noise and Poisson sampling, the noise and the sampling drawn from per-run OS entropy
and never stored (models_core.training.privacy). The tied head shares one parameter between the embedding
and the output layer; Opacus sums its two per-example gradient contributions before clipping. Every epoch
runs and the last weights are kept (no selection on the holdout).

Without DP, everything (split, initialisation, shuffling) follows `seed`, inside `seeded` (deterministic
kernels): same texts and seed, same weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from models_core.compute import ComputeMeter
from models_core.decoder.bundle import DecoderBundle, bundle_config, pad_batch, token_nll
from models_core.decoder.config import DecoderConfig
from models_core.decoder.model import CausalLM
from models_core.decoder.tokenization import byte_level_tokenizer, check_texts
from models_core.errors import InputError
from models_core.training.loop import seeded
from models_core.training.privacy import ACCOUNTANT, dp_record, entropy_generator

Progress = Any

DP_COVERS = [
    "example-level (ε, δ)-differential privacy, under the recorded accountant, for each training-split record "
    "of this run (adding or removing one record), canaries included",
    "every weight of the decoder (trained from scratch: there is no pretrained part) and everything computed "
    "from them alone, generations included",
]
DP_DOES_NOT_COVER = [
    "the holdout split: its perplexity is released without noise",
    "hyperparameter tuning or model choice across several runs on the same data (each run spends its own ε)",
    "group-level privacy: a person with k records, or a canary inserted k times, is protected only at about k·ε",
    "attacks on the random number generator or on floating-point noise sampling (no secure_mode)",
]


@dataclass(frozen=True)
class DecoderTrainConfig:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_length: int = 128
    epochs: int = 10
    batch_size: int = 16
    lr: float | None = None              # None: 3e-3 (1e-2 with dp)
    weight_decay: float = 0.0
    seed: int = 0
    val_fraction: float = 0.1
    dp: bool = False
    dp_epsilon: float | None = None      # target ε; None: use dp_noise_multiplier
    dp_delta: float = 1e-5
    dp_max_grad_norm: float = 1.0
    dp_noise_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError("epochs and batch_size must be at least 1")
        if not 4 <= self.max_length <= 1024:
            raise InputError("max_length must be between 4 and 1024")
        if not 0.0 < self.val_fraction < 1.0:
            raise InputError("val_fraction must be strictly between 0 and 1")
        if self.lr is not None and not self.lr > 0:
            raise InputError("lr must be positive")
        if self.dp:
            if self.dp_epsilon is not None and not self.dp_epsilon > 0:
                raise InputError("dp_epsilon must be positive")
            if not 0.0 < self.dp_delta < 1.0 or not self.dp_max_grad_norm > 0 or not self.dp_noise_multiplier > 0:
                raise InputError("dp_delta must be in (0, 1), dp_max_grad_norm and dp_noise_multiplier positive")
        DecoderConfig(hidden_size=self.hidden_size, num_layers=self.num_layers, num_heads=self.num_heads,
                      intermediate_size=self.intermediate_size, max_position=self.max_length)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (1e-2 if self.dp else 3e-3)


@dataclass
class DecoderTrainResult:
    bundle: DecoderBundle
    metrics: dict[str, Any]
    compute: dict[str, Any]
    dp: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    holdout_texts: list[str] = field(default_factory=list)


def holdout_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, holdout) index split; at least one text in each part."""
    if n < 2:
        raise InputError("training a language model needs at least two texts (one is held out)")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(int(round(val_fraction * n)), 1), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _sequence_loss(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    nll = token_nll(model, ids, mask)                                   # (B, T-1)
    per_row = nll.sum(1) / mask[:, 1:].sum(1).clamp(min=1)              # mean over each sequence's tokens
    return per_row.sum() / max(len(ids), 1)                             # empty Poisson batch: 0


def _holdout_perplexity(bundle: DecoderBundle, texts: list[str]) -> float:
    return bundle.perplexity(texts) if texts else float("nan")


def train_decoder(texts: Sequence[str], config: DecoderTrainConfig, inserted: Sequence[str] = (),
                  progress: Progress | None = None) -> DecoderTrainResult:
    """Train a byte-level causal decoder from scratch; see the module docstring."""
    texts, inserted = check_texts(texts), check_texts(inserted)
    train_idx, val_idx = holdout_split(len(texts), config.val_fraction, config.seed)
    train_texts = [texts[i] for i in train_idx] + list(inserted)
    holdout = [texts[i] for i in val_idx]
    tokenizer = byte_level_tokenizer()
    decoder_config = DecoderConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=config.hidden_size,
                                   num_layers=config.num_layers, num_heads=config.num_heads,
                                   intermediate_size=config.intermediate_size, max_position=config.max_length,
                                   eos_token_id=tokenizer.token_to_id("<|endoftext|>"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with seeded(config.seed), ComputeMeter(device) as meter:
        model = CausalLM(decoder_config).to(device)
        bundle = DecoderBundle(model=model, tokenizer=tokenizer, config=bundle_config(decoder_config, config.max_length))
        seqs = bundle.sequences(train_texts)
        ids, mask = pad_batch(seqs, decoder_config.eos_token_id)
        dataset = torch.utils.data.TensorDataset(ids.to(device), mask.to(device))
        generator = entropy_generator("cpu") if config.dp else torch.Generator().manual_seed(config.seed)
        loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                                             generator=generator)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.resolved_lr(), weight_decay=config.weight_decay)
        trained: torch.nn.Module = model
        engine = None
        if config.dp:
            from opacus import PrivacyEngine

            engine = PrivacyEngine(accountant=ACCOUNTANT)
            model.train()
            common = dict(module=model, optimizer=optimizer, data_loader=loader,
                          max_grad_norm=config.dp_max_grad_norm, poisson_sampling=True,
                          noise_generator=entropy_generator(device))
            if config.dp_epsilon is not None:
                trained, optimizer, loader = engine.make_private_with_epsilon(
                    **common, target_epsilon=config.dp_epsilon, target_delta=config.dp_delta, epochs=config.epochs)
            else:
                trained, optimizer, loader = engine.make_private(**common, noise_multiplier=config.dp_noise_multiplier)
        steps_total = max(1, len(loader) * config.epochs)
        bar = tqdm(total=steps_total, desc="training decoder", unit="step", disable=None, leave=False)
        history: list[dict[str, Any]] = []
        step = 0
        flops_per_token = 6 * sum(p.numel() for p in model.parameters())
        try:
            for epoch in range(1, config.epochs + 1):
                trained.train()
                total, count = 0.0, 0
                for xb, mb in loader:
                    width = int(mb.sum(1).max()) if len(mb) else 1
                    xb, mb = xb[:, :max(width, 2)], mb[:, :max(width, 2)]
                    optimizer.zero_grad(set_to_none=True)
                    loss = _sequence_loss(trained, xb, mb)
                    loss.backward()
                    optimizer.step()
                    step += 1
                    bar.update(1)
                    total += float(loss.detach()) * len(xb)
                    count += len(xb)
                    meter.add_flops(flops_per_token * int(mb.sum()))
                    meter.tokens += int(mb.sum())
                    if progress is not None and step % max(1, steps_total // 50) == 0:
                        progress({"stage": "training", "percent": 5.0 + 85.0 * step / steps_total, "epoch": epoch,
                                  "step": step, "loss": float(loss.detach())})
                history.append({"epoch": epoch, "train_loss": total / max(count, 1)})
        finally:
            bar.close()
            if engine is not None:
                trained._close()  # remove Opacus hooks and per-sample gradients from `model`
        model.eval()
        model.head.weight = model.embeddings.word.weight
        perplexity = _holdout_perplexity(bundle, holdout)
        train_ppl = bundle.perplexity(train_texts[:len(train_idx)]) if len(train_idx) else float("nan")
    dp_info = None
    if engine is not None:
        dp_info = dp_record(engine=engine, delta=config.dp_delta, max_grad_norm=config.dp_max_grad_norm,
                            target_epsilon=config.dp_epsilon, epochs=config.epochs)
        dp_info.update(scope="every weight of the causal decoder (trained from scratch)",
                       covers=DP_COVERS, does_not_cover=DP_DOES_NOT_COVER)
        if dp_info["steps"] != step:
            raise RuntimeError(f"the accountant counted {dp_info['steps']} noised steps, the loop {step}")
    metrics = {"holdout_perplexity": perplexity, "train_perplexity": train_ppl,
               "holdout_bits_per_token": math.log2(perplexity) if perplexity == perplexity else None,
               "train_loss": history[-1]["train_loss"], "epochs_run": len(history), "steps": step,
               "n_train": len(train_idx), "n_inserted": len(inserted), "n_holdout": len(val_idx),
               "lr": config.resolved_lr(), "mode": "causal_lm_scratch", "tokenizer": "byte-level",
               "parameters": int(sum(p.numel() for p in model.parameters()))}
    bundle.config = dict(bundle.config, training=asdict(config) | {"lr": config.resolved_lr()})
    if progress is not None:
        progress({"stage": "training", "percent": 95.0, "epoch": len(history), "loss": metrics["train_loss"]})
    return DecoderTrainResult(bundle=bundle, metrics=metrics, compute=meter.as_dict(), dp=dp_info, history=history,
                              holdout_texts=holdout)
