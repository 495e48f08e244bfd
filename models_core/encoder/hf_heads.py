"""The classification heads of Hugging Face BERT-family checkpoints, mapped onto `TextClassifier`.

`BertForSequenceClassification` (and the same layout under `model_type` "minilm") is
    bert.embeddings / bert.encoder  -> this project's Encoder (transformer.hf_state_dict_to_encoder)
    bert.pooler.dense               -> TextClassifier.pooling.dense  (pooling "cls_pooler": tanh(W h[CLS] + b))
    classifier                      -> TextClassifier.head.linear    (after dropout, as in HF)
so an imported classifier computes the same logits as transformers. Reads safetensors only.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from models_core.encoder.classifier import TextClassifier
from models_core.errors import ArtifactError

POOLER = ("pooler.dense.weight", "pooler.dense.bias")
CLASSIFIER = ("classifier.weight", "classifier.bias")


def read_hf_tensors(directory: str | Path) -> dict[str, torch.Tensor]:
    """The folder's model.safetensors, names without the `bert.` / `model.` prefix."""
    path = Path(directory) / "model.safetensors"
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    out = {}
    for name, tensor in tensors.items():
        for prefix in ("bert.", "model."):
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        out[name] = tensor
    return out


def _take(tensors: dict[str, torch.Tensor], names: tuple[str, str], what: str,
          shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ArtifactError(f"the checkpoint has no {what} ({', '.join(missing)} missing)")
    found = tuple(tensors[n] for n in names)
    for name, tensor, shape in zip(names, found, shapes):
        if tuple(tensor.shape) != shape:
            raise ArtifactError(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
    return found


def load_pooler_weights(model: TextClassifier, directory_or_tensors) -> None:
    """Copy the checkpoint's BERT pooler into a "cls_pooler" TextClassifier."""
    if model.pooling_kind != "cls_pooler":
        raise ArtifactError("only a classifier with the cls_pooler pooling has a pooler to load")
    tensors = directory_or_tensors if isinstance(directory_or_tensors, dict) else read_hf_tensors(directory_or_tensors)
    h = model.encoder.config.hidden_size
    weight, bias = _take(tensors, POOLER, "BERT pooler", ((h, h), (h,)))
    with torch.no_grad():
        model.pooling.dense.weight.copy_(weight.to(torch.float32))
        model.pooling.dense.bias.copy_(bias.to(torch.float32))


def load_classifier_weights(model: TextClassifier, tensors: dict[str, torch.Tensor]) -> None:
    """Copy the checkpoint's `classifier` layer into the head; its outputs must be the model's labels."""
    h, n = model.encoder.config.hidden_size, model.num_labels
    if "classifier.weight" in tensors and tensors["classifier.weight"].ndim == 2 \
            and tensors["classifier.weight"].shape[0] != n and tensors["classifier.weight"].shape[1] == h:
        raise ArtifactError(f"config.json promises {n} labels but the classifier layer has "
                            f"{tensors['classifier.weight'].shape[0]} outputs")
    weight, bias = _take(tensors, CLASSIFIER, "sequence-classification head (classifier)", ((n, h), (n,)))
    with torch.no_grad():
        model.head.linear.weight.copy_(weight.to(torch.float32))
        model.head.linear.bias.copy_(bias.to(torch.float32))
