"""Head-only training on sentence vectors computed once by the frozen encoder, optionally with DP-SGD
(Opacus): the head is the only part that sees the training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models_core.compute import ComputeMeter
from models_core.encoder.classifier import TextClassifier
from models_core.training.config import Progress, TrainConfig
from models_core.training.loop import EpochLoop, evaluate_logits, state_copy, weighted_loss


def train_head(model: TextClassifier, features: torch.Tensor, y: np.ndarray, w: np.ndarray,
               train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig, meter: ComputeMeter,
               progress: Progress | None) -> tuple[list[dict], dict, dict | None]:
    device = meter.device
    head = model.head.to(device)
    # Without DP the head trains on standardised features (mean/std of the training split), which
    # conditions AdamW far better; the affine map is folded into the linear layer afterwards, so the
    # saved model takes raw pooled vectors. With DP the statistics would leak training data outside
    # the privacy accounting, so raw features are used.
    if config.dp:
        mean, std = torch.zeros(features.shape[1]), torch.ones(features.shape[1])
    else:
        mean, std = features[train_idx].mean(0), features[train_idx].std(0).clamp(min=1e-6)
    features = (features - mean) / std
    x_train, x_val = features[train_idx].to(device), features[val_idx].to(device)
    y_train = torch.as_tensor(y[train_idx], device=device)
    w_train = torch.as_tensor(w[train_idx] / w[train_idx].mean(), dtype=torch.float32, device=device)
    hidden, num_labels = features.shape[1], model.num_labels
    head_flops = 2 * hidden * num_labels
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.resolved_lr(), weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    dataset = torch.utils.data.TensorDataset(x_train, y_train, w_train)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True, generator=generator)
    trained_module: torch.nn.Module = head
    engine = None
    dp_info: dict[str, Any] | None = None
    if config.dp:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant="prv")
        head.train()  # Opacus validates the module in training mode
        common = dict(module=head, optimizer=optimizer, data_loader=loader, max_grad_norm=config.dp_max_grad_norm)
        if config.dp_epsilon is not None:
            trained_module, optimizer, loader = engine.make_private_with_epsilon(
                **common, target_epsilon=config.dp_epsilon, target_delta=config.dp_delta, epochs=config.epochs)
        else:
            trained_module, optimizer, loader = engine.make_private(
                **common, noise_multiplier=config.dp_noise_multiplier)
    loop = EpochLoop(config, len(loader), progress)

    def train_epoch(epoch: int) -> float:
        trained_module.train()
        total, count = 0.0, 0
        for xb, yb, wb in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = weighted_loss(trained_module(xb), yb, wb)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(yb)
            count += len(yb)
            meter.add_flops(3 * head_flops * len(yb))
            loop.on_step(epoch, float(loss.detach()))
        return total / max(count, 1)

    def evaluate() -> dict[str, float]:
        head.eval()
        with torch.inference_mode():
            logits = head(x_val).to("cpu", torch.float64).numpy()
        meter.add_flops(head_flops * len(val_idx))
        return evaluate_logits(logits, y[val_idx])

    try:
        history, best = loop.run(train_epoch, evaluate, lambda: state_copy(head), head.load_state_dict)
    finally:
        if engine is not None:
            trained_module._close()  # remove Opacus hooks and per-sample gradients from `head`
    with torch.no_grad():  # logits = W (x - mean) / std + b  ==  (W / std) x + (b - (W / std) mean)
        weight = head.linear.weight / std.to(device)
        head.linear.bias -= weight @ mean.to(device)
        head.linear.weight.copy_(weight)
    if engine is not None:
        dp_info = {"epsilon": float(engine.get_epsilon(config.dp_delta)), "delta": config.dp_delta,
                   "noise_multiplier": float(optimizer.noise_multiplier),
                   "max_grad_norm": config.dp_max_grad_norm, "target_epsilon": config.dp_epsilon,
                   "accountant": "prv", "steps": loop.step, "secure_mode": False,
                   "scope": "classification head only; the pretrained encoder never sees training data"}
    return history, best, dp_info
