"""Training a TextClassifier (`train_classifier`): frozen pretrained encoder (head only), full fine-tuning,
or from scratch.

* Frozen encoder: sentence vectors (masked mean pooling) are computed ONCE, in length buckets under
  inference_mode, and only the dropout + linear head is trained on them. Optional DP-SGD (Opacus)
  applies to this mode only: the head is the only part that sees the training data.
* Full fine-tuning (`freeze_encoder=False`) and `encoder="scratch"` train every weight; scratch first
  trains a WordPiece tokenizer on the training split and builds a small random encoder (a frozen random
  encoder would be meaningless, so `freeze_encoder` is ignored for scratch).

Reproducibility: without DP all randomness (split, head init, dropout, shuffling) derives from
`config.seed` inside `torch.random.fork_rng`, with `torch.use_deterministic_algorithms(True)` for the
duration, so on CPU the same inputs and seed give bit-identical weights and hence the same artifact
digest. The caller's global RNG state and determinism flag are restored afterwards.
With DP the seed still fixes the split, the head's initialisation and dropout, but the DP noise and the
Poisson sampling come from OS entropy per run and are never stored (models_core.training.privacy): two DP
runs with one seed give different weights, and no stored value replays the noise.

Model selection: after each epoch the validation macro-F1 (models_core.metrics) is computed; the best
epoch's weights are kept, and training stops after `patience` epochs without improvement. Under DP there
is no selection and no early stopping: every epoch runs and the last one's weights are kept.

DP refuses non-uniform sample weights (InputError): they are computed from other records and fall outside
the accounting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from models_core.compute import ComputeMeter
from models_core.encoder.bundle import ClassifierBundle, bundle_config, bundle_from_pretrained
from models_core.encoder.classifier import TextClassifier
from models_core.encoder.config import EncoderConfig
from models_core.encoder.inference import inference_device, run_bucketed, token_budget
from models_core.encoder.tokenization import check_texts, encode_texts, pad_token_id, train_wordpiece
from models_core.encoder.transformer import Encoder
from models_core.errors import InputError
from models_core.training.config import Progress, TrainConfig
from models_core.training.full import train_full
from models_core.training.head import train_head
from models_core.training.loop import seeded
from models_core.training.privacy import check_dp_sample_weights


@dataclass
class TrainResult:
    bundle: ClassifierBundle
    metrics: dict[str, Any]
    compute: dict[str, Any]
    dp: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)


# ---- data checks and split ------------------------------------------------------------------------


def _check_inputs(texts: Sequence[str], labels: Sequence[int], num_labels: int,
                  sample_weights: Sequence[float] | None) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts = check_texts(texts)
    if num_labels < 2:
        raise InputError("num_labels must be at least 2")
    y = np.asarray(labels)
    if y.shape != (len(texts),):
        raise InputError(f"{len(texts)} texts but labels of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= num_labels)):
        raise InputError(f"labels must be integers in [0, {num_labels})")
    if len(np.unique(y)) < 2:
        raise InputError("training needs at least two distinct labels")
    if sample_weights is None:
        w = np.ones(len(texts), dtype=np.float64)
    else:
        w = np.asarray(sample_weights, dtype=np.float64)
        if w.shape != (len(texts),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise InputError("sample_weights must be one finite non-negative weight per text, not all zero")
    return texts, y.astype(np.int64), w


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split; every class with at least 2 rows puts at least one in each part."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(val_fraction * len(members)))
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        else:
            n_val = 0
        val.append(members[:n_val])
        train.append(members[n_val:])
    train_idx, val_idx = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
    if len(val_idx) == 0 or len(train_idx) == 0:
        raise InputError("too few rows to hold out a validation split")
    return train_idx, val_idx

# ---- entry point ------------------------------------------------------------------------------------

def _scratch_bundle(texts: list[str], num_labels: int, names: list[str], config: TrainConfig) -> ClassifierBundle:
    tokenizer = train_wordpiece(texts, vocab_size=config.scratch_vocab_size, seed=config.seed,
                                max_length=config.max_length)
    encoder_config = EncoderConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=config.scratch_hidden_size,
        num_layers=config.scratch_num_layers, num_heads=config.scratch_num_heads,
        intermediate_size=config.scratch_intermediate_size, max_position=config.max_length,
        pad_token_id=pad_token_id(tokenizer))
    model = TextClassifier(Encoder(encoder_config), num_labels, config.head_dropout)
    return ClassifierBundle(model=model, tokenizer=tokenizer, label_names=names,
                            config=bundle_config(encoder_config, num_labels, names, config.max_length,
                                                 config.head_dropout))


def train_classifier(texts: Sequence[str], labels: Sequence[int], num_labels: int, config: TrainConfig,
                     sample_weights: Sequence[float] | None = None,
                     progress: Progress | None = None) -> TrainResult:
    """Train a text classifier; see the module docstring for the modes and the reproducibility contract."""
    if config.dp:
        check_dp_sample_weights(sample_weights)
    texts, y, w = _check_inputs(texts, labels, num_labels, sample_weights)
    names = list(config.label_names) if config.label_names else [str(i) for i in range(num_labels)]
    if len(names) != num_labels:
        raise InputError(f"{len(names)} label_names for {num_labels} labels")
    train_idx, val_idx = stratified_split(y, config.val_fraction, config.seed)
    if not w[train_idx].sum() > 0:
        raise InputError("every training-split row has sample weight 0")
    device = inference_device()
    dp_info = None
    with seeded(config.seed), ComputeMeter(device) as meter:
        if config.encoder == "scratch":
            bundle = _scratch_bundle([texts[i] for i in train_idx], num_labels, names, config)
        else:
            from models_core.encoder.pretrained import default_encoder_dir

            bundle = bundle_from_pretrained(config.encoder_dir or default_encoder_dir(), num_labels, names,
                                            config.max_length, config.head_dropout, config.seed,
                                            pooling=config.pooling)
        model = bundle.model
        encodings = encode_texts(bundle.tokenizer, texts)
        pad_id = pad_token_id(bundle.tokenizer)
        if config.head_only:
            model.to(device).eval()
            with torch.inference_mode():
                features = run_bucketed(model, encodings, pad_id, 64,
                                        lambda m, b: m.pooled(b["input_ids"], b["attention_mask"],
                                                              b["token_type_ids"]),
                                        meter, progress, "embedding", token_budget(bundle.tokenizer, 64))
            features_t = torch.as_tensor(features, dtype=torch.float32)
            history, best, dp_info = train_head(model, features_t, y, w, train_idx, val_idx, config, meter,
                                                 progress)
        else:
            history, best = train_full(model, encodings, pad_id, y, w, train_idx, val_idx, config, meter,
                                        progress)
        model.eval()
    train_majority = np.bincount(y[train_idx], minlength=num_labels).argmax()
    metrics = {
        "val_accuracy": best["val_accuracy"], "val_f1": best["val_f1"], "val_loss": best["val_loss"],
        "baseline_accuracy": float(np.mean(y[val_idx] == train_majority)),
        "train_loss": best["train_loss"], "epochs_run": len(history), "best_epoch": best["epoch"],
        "n_train": int(len(train_idx)), "n_val": int(len(val_idx)),
        "selection_metric": "none (DP-SGD: last epoch)" if config.dp else "val_f1",
        "lr": config.resolved_lr(), "mode": "head_only" if config.head_only else
        ("scratch" if config.encoder == "scratch" else "fine_tune"),
    }
    # The training record is part of config.json and so of the artifact digest: keep it free of
    # machine-specific values (the encoder directory is recorded by name, not by absolute path).
    training = asdict(config) | {"label_names": names, "lr": config.resolved_lr(),
                                 "encoder_dir": Path(config.encoder_dir).name if config.encoder_dir else None}
    bundle.config = dict(bundle.config, training=training)
    if progress is not None:
        progress({"stage": "training", "percent": 100.0, "epoch": len(history), "step": None,
                  "loss": best["train_loss"], "val_metric": best["val_f1"]})
    return TrainResult(bundle=bundle, metrics=metrics, compute=meter.as_dict(), dp=dp_info, history=history)
