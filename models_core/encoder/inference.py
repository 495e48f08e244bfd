"""Batched inference at the `torch.inference_mode()` boundary.

Texts are tokenized once, sorted by token count into buckets, padded only to the longest text of
their bucket, run, and the outputs put back in the callers' order. A bucket holds as many texts as
fit in `batch_size` x truncation-length padded tokens: the memory of one worst-case batch of
`batch_size` texts, but short texts go through in proportionally larger batches. A bucket whose
texts all have the same length carries no padding mask at all, which lets SDPA use its fused kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from models_core.compute import ComputeMeter
from models_core.encoder.classifier import TextClassifier
from models_core.encoder.tokenization import encode_texts, pad_encodings, pad_token_id
from models_core.errors import InputError

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

Progress = Callable[[dict[str, Any]], None]


class TokenizedClassifier(Protocol):
    """What inference needs of a model: the classifier and its tokenizer. A ClassifierBundle is one; inference
    does not import the bundle module, which imports this one (the dependency points one way)."""

    model: TextClassifier
    tokenizer: "Tokenizer"


def inference_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def length_buckets(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None,
                   max_padding: float = 0.1) -> list[np.ndarray]:
    """Indices sorted by length (stable), cut into consecutive batches.

    Without `max_tokens` every batch holds `batch_size` texts. With it, a batch of `batch_size` texts
    keeps growing while its padded size (texts x longest text) stays within `max_tokens` and padding
    stays under `max_padding` of it: short texts travel in larger batches (fewer, bigger matrix
    products) and no batch is bigger than the padded worst case the caller budgeted for.
    """
    if batch_size < 1:
        raise InputError("batch_size must be at least 1")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    if max_tokens is None:
        return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    batches, start, real = [], 0, 0
    for end in range(1, len(order) + 1):
        # ascending order: the longest text of order[start:end] is order[end - 1]
        longest, count = int(lengths[order[end - 1]]), end - start
        real += longest
        if count > batch_size and (count * longest > max_tokens or real < (1 - max_padding) * count * longest):
            batches.append(order[start:end - 1])
            start, real = end - 1, longest
    if start < len(order):
        batches.append(order[start:])
    return batches


def exact_length_buckets(lengths: Sequence[int], max_tokens: int) -> list[np.ndarray]:
    """Padding-free batches: indices grouped by exact length (ascending, stable), each group cut so that a
    batch holds at most `max_tokens` tokens (at least one text). No batch needs a padding mask."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    batches = []
    for length in np.unique(lengths):
        group = order[lengths[order] == length]
        size = max(1, int(max_tokens) // max(1, int(length)))
        batches.extend(group[start:start + size] for start in range(0, len(group), size))
    return batches


def token_budget(tokenizer: "Tokenizer", batch_size: int) -> int:
    """Padded tokens per batch of the predict path: `batch_size` texts at the truncation length."""
    truncation = tokenizer.truncation or {}
    return batch_size * int(truncation.get("max_length", 512))


def run_bucketed(model: TextClassifier, encodings: Sequence["Encoding"], pad_id: int, batch_size: int,
                 outputs: Callable[[TextClassifier, dict[str, torch.Tensor]], torch.Tensor],
                 meter: ComputeMeter, progress: Progress | None = None,
                 stage: str = "inference", max_tokens: int | None = None,
                 padding_free: bool = False) -> np.ndarray:
    """Apply `outputs(model, batch)` -> (b, k) to every encoding in length buckets; (n, k) in input order.

    `padding_free` (needs `max_tokens`): one token length per batch (`exact_length_buckets`), for many
    strings of few distinct lengths such as an explanation's perturbations. The caller owns the
    inference_mode / eval() context; this function only batches and reorders.
    """
    device = meter.device
    total = len(encodings)
    result: np.ndarray | None = None
    done = 0
    with tqdm(total=total, desc=stage, unit="text", disable=None, leave=False) as bar:
        lengths = [len(e.ids) for e in encodings]
        buckets = (exact_length_buckets(lengths, max_tokens) if padding_free and max_tokens
                   else length_buckets(lengths, batch_size, max_tokens))
        for indices in buckets:
            batch = pad_encodings([encodings[i] for i in indices], pad_id)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            out = outputs(model, batch).to("cpu", torch.float64).numpy()
            if result is None:
                result = np.empty((total, out.shape[1]), dtype=np.float64)
            result[indices] = out
            meter.add_batch(model.encoder.config, batch=len(indices), seq_len=batch["input_ids"].shape[1],
                            tokens=int(batch["attention_mask"].sum()), num_labels=model.num_labels)
            done += len(indices)
            bar.update(len(indices))
            if progress is not None:
                progress({"stage": stage, "percent": 100.0 * done / total, "done": done, "total": total})
    assert result is not None
    return result


def _logits(model: TextClassifier, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])


def _pooled(model: TextClassifier, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model.pooled(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])


def _apply(model: TextClassifier, tokenizer: "Tokenizer", texts: Sequence[str], batch_size: int,
           outputs: Callable[[TextClassifier, dict[str, torch.Tensor]], torch.Tensor], width: int,
           progress: Progress | None, stage: str, device: torch.device | None,
           padding_free: bool = False) -> tuple[np.ndarray, dict]:
    encodings = encode_texts(tokenizer, texts)
    device = device or inference_device()
    was_training = model.training
    model.to(device).eval()
    try:
        with ComputeMeter(device) as meter, torch.inference_mode():
            if encodings:
                values = run_bucketed(model, encodings, pad_token_id(tokenizer), batch_size, outputs,
                                      meter, progress, stage, token_budget(tokenizer, batch_size), padding_free)
            else:
                values = np.zeros((0, width), dtype=np.float64)
    finally:
        model.train(was_training)
    return values, meter.as_dict()


def pooled_features(model: TextClassifier, tokenizer: "Tokenizer", texts: Sequence[str], batch_size: int = 64,
                    progress: Progress | None = None,
                    device: torch.device | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean-pooled sentence vectors (n, H) float64 and the compute record."""
    return _apply(model, tokenizer, texts, batch_size, _pooled, model.encoder.config.hidden_size,
                  progress, "embedding", device)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (n, num_labels) float64, rows sum to 1
    predictions: np.ndarray    # (n,) int64 argmax label index
    compute: dict[str, Any]


def predict_dataset(bundle: TokenizedClassifier, texts: Sequence[str], batch_size: int = 64,
                    progress: Progress | None = None, padding_free: bool = False,
                    device: torch.device | None = None) -> Prediction:
    """Class probabilities for every text, in the given order (`padding_free`: see `run_bucketed`)."""
    logits, compute = _apply(bundle.model, bundle.tokenizer, texts, batch_size, _logits,
                             bundle.model.num_labels, progress, "inference", device, padding_free)
    probabilities = softmax(logits)
    return Prediction(probabilities=probabilities, predictions=probabilities.argmax(axis=1).astype(np.int64),
                      compute=compute)
