"""Training configuration: `TrainConfig`, a frozen dataclass validated on construction.

Its fields (as a dict) are recorded in the trained artifact's config.json, so they are part of its digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from models_core.errors import InputError

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainConfig:
    encoder: str = "pretrained"          # "pretrained" (HF BERT-family directory) | "scratch"
    encoder_dir: str | None = None       # None: the bundled MiniLM-L6 (models_core.encoder.pretrained)
    freeze_encoder: bool = True          # train the head only, on pooled embeddings computed once
    epochs: int = 4
    batch_size: int = 32
    lr: float | None = None              # None: 2e-3 head only (2e-2 with dp), 5e-5 fine-tuning, 5e-4 scratch
    seed: int = 0                        # split, init, dropout, shuffling; never DP noise or sampling (privacy.py)
    val_fraction: float = 0.2
    max_length: int = 128
    patience: int = 2                    # early stopping; ignored under DP (every epoch runs, the last is kept)
    # DP-SGD on the head (frozen pretrained encoder only): noise and Poisson sampling from per-run OS
    # entropy, never stored; non-uniform sample weights are refused (models_core.training.privacy).
    dp: bool = False
    dp_epsilon: float | None = None      # target epsilon; None: use dp_noise_multiplier
    dp_delta: float = 1e-5
    dp_max_grad_norm: float = 1.0
    dp_noise_multiplier: float = 1.0     # used when dp_epsilon is None
    weight_decay: float = 0.01
    head_dropout: float = 0.1
    pooling: str = "mean"                # "mean" | "cls_pooler" (BERT's pooler over [CLS], as HF's
                                         # BertForSequenceClassification; pretrained encoders only)
    label_names: tuple[str, ...] | None = None
    # From-scratch model size
    scratch_vocab_size: int = 4000
    scratch_hidden_size: int = 128
    scratch_num_layers: int = 2
    scratch_num_heads: int = 4
    scratch_intermediate_size: int = 512

    def __post_init__(self) -> None:
        if self.encoder not in ("pretrained", "scratch"):
            raise InputError(f"encoder must be 'pretrained' or 'scratch', not {self.encoder!r}")
        if not 0.0 < self.val_fraction < 1.0:
            raise InputError("val_fraction must be strictly between 0 and 1")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise InputError("epochs, batch_size and patience must be at least 1")
        if self.pooling not in ("mean", "cls_pooler"):
            raise InputError(f"pooling must be 'mean' or 'cls_pooler', not {self.pooling!r}")
        if self.pooling == "cls_pooler" and self.encoder != "pretrained":
            raise InputError("pooling='cls_pooler' takes the pretrained encoder's BERT pooler: encoder='pretrained'")
        if self.lr is not None and not self.lr > 0:
            raise InputError("lr must be positive")
        if self.dp:
            if self.encoder != "pretrained" or not self.freeze_encoder:
                raise InputError("dp=True trains only the head: it needs encoder='pretrained', freeze_encoder=True")
            if self.dp_epsilon is not None and not self.dp_epsilon > 0:
                raise InputError("dp_epsilon must be positive")
            if not 0.0 < self.dp_delta < 1.0 or not self.dp_max_grad_norm > 0:
                raise InputError("dp_delta must be in (0, 1) and dp_max_grad_norm positive")

    @property
    def head_only(self) -> bool:
        return self.encoder == "pretrained" and self.freeze_encoder

    def resolved_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        if self.dp:  # raw (unstandardised) features and clipped, noised gradients need larger steps
            return 2e-2
        return 2e-3 if self.head_only else (5e-4 if self.encoder == "scratch" else 5e-5)
