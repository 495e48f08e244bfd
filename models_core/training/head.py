"""Head-only training on sentence vectors computed once by the frozen encoder, optionally with DP-SGD
(Opacus): the head is the only part that sees the training data. The DP randomness and accounting are in
models_core.training.privacy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models_core.compute import ComputeMeter
from models_core.encoder.classifier import TextClassifier
from models_core.training.config import Progress, TrainConfig
from models_core.training.loop import EpochLoop, evaluate_logits, state_copy, weighted_loss
from models_core.training.privacy import ACCOUNTANT, dp_record, entropy_generator


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
    # Without DP the loader's shuffling follows the training seed (reproducible). With DP, Opacus replaces
    # it by Poisson sampling drawn from the loader's generator, so that generator, like the noise
    # generator, is seeded from OS entropy and never stored (models_core.training.privacy).
    generator = entropy_generator("cpu") if config.dp else torch.Generator().manual_seed(config.seed)
    dataset = torch.utils.data.TensorDataset(x_train, y_train, w_train)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.batch_size, shuffle=True, generator=generator)
    trained_module: torch.nn.Module = head
    engine = None
    dp_info: dict[str, Any] | None = None
    if config.dp:
        from opacus import PrivacyEngine

        engine = PrivacyEngine(accountant=ACCOUNTANT)
        head.train()  # Opacus validates the module in training mode
        common = dict(module=head, optimizer=optimizer, data_loader=loader, max_grad_norm=config.dp_max_grad_norm,
                      poisson_sampling=True, noise_generator=entropy_generator(device))
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
        # Under DP no epoch is chosen on validation data (the choice would sit outside the accounting):
        # every planned epoch runs, and the last one's weights are kept.
        history, best = loop.run(train_epoch, evaluate, lambda: state_copy(head), head.load_state_dict,
                                 select_best=not config.dp)
    finally:
        if engine is not None:
            trained_module._close()  # remove Opacus hooks and per-sample gradients from `head`
    with torch.no_grad():  # logits = W (x - mean) / std + b  ==  (W / std) x + (b - (W / std) mean)
        weight = head.linear.weight / std.to(device)
        head.linear.bias -= weight @ mean.to(device)
        head.linear.weight.copy_(weight)
    if engine is not None:
        dp_info = dp_record(engine=engine, delta=config.dp_delta, max_grad_norm=config.dp_max_grad_norm,
                            target_epsilon=config.dp_epsilon, epochs=config.epochs)
        if dp_info["steps"] != loop.step:
            raise RuntimeError(f"the accountant counted {dp_info['steps']} noised steps, the loop {loop.step}")
    return history, best, dp_info
