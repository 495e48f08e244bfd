"""Full training: every weight of the classifier (fine-tuning a pretrained encoder, or from scratch), on
length-bucketed batches of token ids.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from models_core.compute import ComputeMeter
from models_core.encoder.classifier import TextClassifier
from models_core.encoder.inference import run_bucketed
from models_core.encoder.tokenization import pad_encodings
from models_core.training.config import Progress, TrainConfig
from models_core.training.loop import EpochLoop, evaluate_logits, state_copy, weighted_loss


def _training_batches(lengths: np.ndarray, indices: np.ndarray, batch_size: int,
                      generator: torch.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle the batches."""
    perm = indices[torch.randperm(len(indices), generator=generator).numpy()]
    pool = 50 * batch_size
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    order = torch.randperm(len(batches), generator=generator).numpy()
    return [batches[i] for i in order]


def train_full(model: TextClassifier, encodings: list, pad_id: int, y: np.ndarray, w: np.ndarray,
               train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig, meter: ComputeMeter,
               progress: Progress | None) -> tuple[list[dict], dict]:
    device = meter.device
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.resolved_lr(), weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    lengths = np.array([len(e.ids) for e in encodings])
    weights = w / w[train_idx].mean()
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    loop = EpochLoop(config, steps_per_epoch, progress)
    val_encodings = [encodings[i] for i in val_idx]

    def train_epoch(epoch: int) -> float:
        model.train()
        total, count = 0.0, 0
        for batch_idx in _training_batches(lengths, train_idx, config.batch_size, generator):
            batch = {k: v.to(device) for k, v in pad_encodings([encodings[i] for i in batch_idx], pad_id).items()}
            yb = torch.as_tensor(y[batch_idx], device=device)
            wb = torch.as_tensor(weights[batch_idx], dtype=torch.float32, device=device)
            optimizer.zero_grad(set_to_none=True)
            loss = weighted_loss(model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]), yb, wb)
            loss.backward()
            optimizer.step()
            meter.add_batch(model.encoder.config, len(batch_idx), batch["input_ids"].shape[1],
                            int(batch["attention_mask"].sum()), model.num_labels, backward=True)
            total += float(loss.detach()) * len(batch_idx)
            count += len(batch_idx)
            loop.on_step(epoch, float(loss.detach()))
        return total / max(count, 1)

    def evaluate() -> dict[str, float]:
        model.eval()
        with torch.inference_mode():
            logits = run_bucketed(model, val_encodings, pad_id, 64,
                                  lambda m, b: m(b["input_ids"], b["attention_mask"], b["token_type_ids"]),
                                  meter, None, "validation", config.max_length * 64)
        return evaluate_logits(logits, y[val_idx])

    history, best = loop.run(train_epoch, evaluate, lambda: state_copy(model), model.load_state_dict)
    return history, best
