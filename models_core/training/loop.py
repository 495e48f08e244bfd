"""The epoch loop shared by every training mode: seeded determinism, the weighted loss, per-epoch
validation (accuracy, macro-F1, loss), best-epoch selection and early stopping (or, for DP-SGD, neither:
a fixed number of epochs and the last one kept), progress reports.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from models_core.encoder.inference import softmax
from models_core.metrics import macro_f1
from models_core.training.config import Progress, TrainConfig


def weighted_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # Weights are normalised to mean 1 over the training split, so with uniform weights this is the
    # ordinary mean cross-entropy. Dividing by the batch size (not the weight sum) keeps an empty
    # Poisson batch (DP-SGD) at a zero loss.
    per_row = F.cross_entropy(logits, targets, reduction="none")
    return (per_row * weights).sum() / max(len(targets), 1)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch inside a forked RNG and force deterministic kernels; restore both on exit."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


# ---- the epoch loop shared by all modes ------------------------------------------------------------

class EpochLoop:
    """Runs epochs, tracks the best validation macro-F1, stops early, reports progress."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int, progress: Progress | None) -> None:
        self.config, self.progress = config, progress
        self.total_steps = max(1, steps_per_epoch * config.epochs)
        self.report_every = max(1, self.total_steps // 50)
        self.step = 0
        self.val_metric: float | None = None
        self.bar = tqdm(total=self.total_steps, desc="training", unit="step", disable=None, leave=False)

    def on_step(self, epoch: int, loss: float) -> None:
        self.step += 1
        self.bar.update(1)
        if self.progress is not None and self.step % self.report_every == 0:
            self._report(epoch, loss)

    def _report(self, epoch: int, loss: float) -> None:
        if self.progress is not None:
            self.progress({"stage": "training", "percent": min(100.0, 100.0 * self.step / self.total_steps),
                           "epoch": epoch, "step": self.step, "loss": loss, "val_metric": self.val_metric})

    def run(self, train_epoch: Callable[[int], float], evaluate: Callable[[], dict[str, float]],
            snapshot: Callable[[], Any], restore: Callable[[Any], None],
            select_best: bool = True) -> tuple[list[dict], dict]:
        """Train `config.epochs` epochs. With `select_best`, keep the epoch of best validation macro-F1 and
        stop after `patience` epochs without improvement; without it, run every epoch and keep the last
        (the weights are then never a function of the validation data)."""
        if not select_best:
            return self._run_fixed(train_epoch, evaluate)
        history: list[dict] = []
        best: dict[str, Any] | None = None
        best_state = None
        stale = 0
        try:
            for epoch in range(1, self.config.epochs + 1):
                train_loss = train_epoch(epoch)
                scores = evaluate()
                self.val_metric = scores["val_f1"]
                row = {"epoch": epoch, "train_loss": train_loss, **scores}
                history.append(row)
                self._report(epoch, train_loss)
                if best is None or scores["val_f1"] > best["val_f1"]:
                    best, best_state, stale = row, snapshot(), 0
                else:
                    stale += 1
                    if stale >= self.config.patience:
                        break
        finally:
            self.bar.close()
        assert best is not None
        restore(best_state)
        return history, best

    def _run_fixed(self, train_epoch: Callable[[int], float],
                   evaluate: Callable[[], dict[str, float]]) -> tuple[list[dict], dict]:
        history: list[dict] = []
        try:
            for epoch in range(1, self.config.epochs + 1):
                train_loss = train_epoch(epoch)
                scores = evaluate()  # reported only; no decision reads it
                self.val_metric = scores["val_f1"]
                history.append({"epoch": epoch, "train_loss": train_loss, **scores})
                self._report(epoch, train_loss)
        finally:
            self.bar.close()
        return history, history[-1]


def evaluate_logits(logits: np.ndarray, y_val: np.ndarray) -> dict[str, float]:
    pred = logits.argmax(axis=1)
    probs = softmax(logits)
    val_loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_val)), y_val], 1e-12, None))))
    return {"val_accuracy": float(np.mean(pred == y_val)), "val_f1": macro_f1(y_val, pred), "val_loss": val_loss}


def state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
