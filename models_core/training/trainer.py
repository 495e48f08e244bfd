"""Training a TextClassifier: frozen pretrained encoder (head only), full fine-tuning, or from scratch.

* Frozen encoder: sentence vectors (masked mean pooling) are computed ONCE, in length buckets under
  inference_mode, and only the dropout + linear head is trained on them. Optional DP-SGD (Opacus)
  applies to this mode only: the head is the only part that sees the training data.
* Full fine-tuning (`freeze_encoder=False`) and `encoder="scratch"` train every weight; scratch first
  trains a WordPiece tokenizer on the training split and builds a small random encoder (a frozen random
  encoder would be meaningless, so `freeze_encoder` is ignored for scratch).

Reproducibility: all randomness (split, head init, dropout, shuffling, DP noise) derives from
`config.seed` inside `torch.random.fork_rng`, with `torch.use_deterministic_algorithms(True)` for the
duration, so on CPU the same inputs and seed give bit-identical weights and hence the same artifact
digest. The caller's global RNG state and determinism flag are restored afterwards.

Model selection: after each epoch the validation macro-F1 is computed; the best epoch's weights are
kept, and training stops after `patience` epochs without improvement.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from models_core.encoder.bundle import ClassifierBundle, bundle_config, bundle_from_pretrained
from models_core.encoder.classifier import TextClassifier
from models_core.compute import ComputeMeter
from models_core.encoder.config import EncoderConfig
from models_core.encoder.transformer import Encoder
from models_core.errors import InputError
from models_core.encoder.inference import inference_device, run_bucketed, softmax, token_budget
from models_core.encoder.tokenization import check_texts, encode_texts, pad_encodings, pad_token_id, train_wordpiece

Progress = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TrainConfig:
    encoder: str = "pretrained"          # "pretrained" (HF BERT-family directory) | "scratch"
    encoder_dir: str | None = None       # None: the bundled MiniLM-L6 (models_core.encoder.pretrained)
    freeze_encoder: bool = True          # train the head only, on pooled embeddings computed once
    epochs: int = 4
    batch_size: int = 32
    lr: float | None = None              # None: 2e-3 head only (2e-2 with dp), 5e-5 fine-tuning, 5e-4 scratch
    seed: int = 0
    val_fraction: float = 0.2
    max_length: int = 128
    patience: int = 2
    # DP-SGD on the head (frozen pretrained encoder only). Sample weights scale each row's gradient
    # before clipping, so under DP a weight above ~1 is partly clipped away.
    dp: bool = False
    dp_epsilon: float | None = None      # target epsilon; None: use dp_noise_multiplier
    dp_delta: float = 1e-5
    dp_max_grad_norm: float = 1.0
    dp_noise_multiplier: float = 1.0     # used when dp_epsilon is None
    weight_decay: float = 0.01
    head_dropout: float = 0.1
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


@dataclass
class TrainResult:
    bundle: ClassifierBundle
    metrics: dict[str, Any]
    compute: dict[str, Any]
    dp: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)


# ---- data checks, split, metrics ------------------------------------------------------------------

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


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-averaged F1 over the labels present in y_true or y_pred (scikit-learn's default)."""
    scores = []
    for label in np.union1d(y_true, y_pred):
        tp = np.sum((y_pred == label) & (y_true == label))
        fp = np.sum((y_pred == label) & (y_true != label))
        fn = np.sum((y_pred != label) & (y_true == label))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _weighted_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # Weights are normalised to mean 1 over the training split, so with uniform weights this is the
    # ordinary mean cross-entropy. Dividing by the batch size (not the weight sum) keeps an empty
    # Poisson batch (DP-SGD) at a zero loss.
    per_row = F.cross_entropy(logits, targets, reduction="none")
    return (per_row * weights).sum() / max(len(targets), 1)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
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

class _Loop:
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
            snapshot: Callable[[], Any], restore: Callable[[Any], None]) -> tuple[list[dict], dict]:
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


def _evaluate(logits: np.ndarray, y_val: np.ndarray) -> dict[str, float]:
    pred = logits.argmax(axis=1)
    probs = softmax(logits)
    val_loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y_val)), y_val], 1e-12, None))))
    return {"val_accuracy": float(np.mean(pred == y_val)), "val_f1": macro_f1(y_val, pred), "val_loss": val_loss}


def _state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# ---- head-only training on cached sentence vectors --------------------------------------------------

def _train_head(model: TextClassifier, features: torch.Tensor, y: np.ndarray, w: np.ndarray,
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
    loop = _Loop(config, len(loader), progress)

    def train_epoch(epoch: int) -> float:
        trained_module.train()
        total, count = 0.0, 0
        for xb, yb, wb in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = _weighted_loss(trained_module(xb), yb, wb)
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
        return _evaluate(logits, y[val_idx])

    try:
        history, best = loop.run(train_epoch, evaluate, lambda: _state_copy(head), head.load_state_dict)
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


# ---- full training (fine-tuning or from scratch) ----------------------------------------------------

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


def _train_full(model: TextClassifier, encodings: list, pad_id: int, y: np.ndarray, w: np.ndarray,
                train_idx: np.ndarray, val_idx: np.ndarray, config: TrainConfig, meter: ComputeMeter,
                progress: Progress | None) -> tuple[list[dict], dict]:
    device = meter.device
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.resolved_lr(), weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    lengths = np.array([len(e.ids) for e in encodings])
    weights = w / w[train_idx].mean()
    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    loop = _Loop(config, steps_per_epoch, progress)
    val_encodings = [encodings[i] for i in val_idx]

    def train_epoch(epoch: int) -> float:
        model.train()
        total, count = 0.0, 0
        for batch_idx in _training_batches(lengths, train_idx, config.batch_size, generator):
            batch = {k: v.to(device) for k, v in pad_encodings([encodings[i] for i in batch_idx], pad_id).items()}
            yb = torch.as_tensor(y[batch_idx], device=device)
            wb = torch.as_tensor(weights[batch_idx], dtype=torch.float32, device=device)
            optimizer.zero_grad(set_to_none=True)
            loss = _weighted_loss(model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]), yb, wb)
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
        return _evaluate(logits, y[val_idx])

    history, best = loop.run(train_epoch, evaluate, lambda: _state_copy(model), model.load_state_dict)
    return history, best


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
    texts, y, w = _check_inputs(texts, labels, num_labels, sample_weights)
    names = list(config.label_names) if config.label_names else [str(i) for i in range(num_labels)]
    if len(names) != num_labels:
        raise InputError(f"{len(names)} label_names for {num_labels} labels")
    train_idx, val_idx = stratified_split(y, config.val_fraction, config.seed)
    if not w[train_idx].sum() > 0:
        raise InputError("every training-split row has sample weight 0")
    device = inference_device()
    dp_info = None
    with _seeded(config.seed), ComputeMeter(device) as meter:
        if config.encoder == "scratch":
            bundle = _scratch_bundle([texts[i] for i in train_idx], num_labels, names, config)
        else:
            from models_core.encoder.pretrained import default_encoder_dir

            bundle = bundle_from_pretrained(config.encoder_dir or default_encoder_dir(), num_labels, names,
                                            config.max_length, config.head_dropout, config.seed)
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
            history, best, dp_info = _train_head(model, features_t, y, w, train_idx, val_idx, config, meter,
                                                 progress)
        else:
            history, best = _train_full(model, encodings, pad_id, y, w, train_idx, val_idx, config, meter,
                                        progress)
        model.eval()
    train_majority = np.bincount(y[train_idx], minlength=num_labels).argmax()
    metrics = {
        "val_accuracy": best["val_accuracy"], "val_f1": best["val_f1"], "val_loss": best["val_loss"],
        "baseline_accuracy": float(np.mean(y[val_idx] == train_majority)),
        "train_loss": best["train_loss"], "epochs_run": len(history), "best_epoch": best["epoch"],
        "n_train": int(len(train_idx)), "n_val": int(len(val_idx)), "selection_metric": "val_f1",
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
