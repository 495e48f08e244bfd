"""ClassifierBundle: a trained TextClassifier with its tokenizer, configuration and label names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tokenizers import Tokenizer

from models_core.encoder.classifier import TextClassifier
from models_core.encoder.config import EncoderConfig
from models_core.encoder.inference import predict_dataset
from models_core.encoder.tokenization import encode_texts, load_tokenizer, pad_encodings, pad_token_id
from models_core.encoder.transformer import Encoder, load_pretrained_encoder
from models_core.errors import ArtifactError

BUNDLE_FORMAT = "models_core.text_classifier/1"


def bundle_config(encoder_config: EncoderConfig, num_labels: int, label_names: Sequence[str], max_length: int,
                  head_dropout: float = 0.1, pooling: str = "mean", **extra: Any) -> dict[str, Any]:
    """The JSON-able description from which `TextClassifier` is rebuilt when an artifact is loaded."""
    return {"format": BUNDLE_FORMAT, "encoder": encoder_config.to_dict(), "num_labels": int(num_labels),
            "label_names": [str(n) for n in label_names], "max_length": int(max_length), "pooling": pooling,
            "head_dropout": float(head_dropout), **extra}


def classifier_from_config(config: dict[str, Any]) -> TextClassifier:
    """An untrained TextClassifier with the architecture described by `bundle_config(...)`."""
    if config.get("format") != BUNDLE_FORMAT:
        raise ArtifactError(f"unknown bundle format {config.get('format')!r}; expected {BUNDLE_FORMAT!r}")
    try:
        encoder = Encoder(EncoderConfig.from_dict(config["encoder"]))
        return TextClassifier(encoder, int(config["num_labels"]), float(config.get("head_dropout", 0.1)),
                              pooling=str(config.get("pooling", "mean")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"invalid bundle config: {exc}") from exc


@dataclass
class ClassifierBundle:
    model: TextClassifier
    tokenizer: Tokenizer
    config: dict[str, Any]
    label_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.label_names:
            self.label_names = [str(i) for i in range(self.model.num_labels)]
        if len(self.label_names) != self.model.num_labels:
            raise ArtifactError(f"{len(self.label_names)} label names for {self.model.num_labels} outputs")

    @property
    def num_labels(self) -> int:
        return self.model.num_labels

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Padded model inputs (input_ids, token_type_ids, attention_mask: (B, T) int64), in order."""
        return pad_encodings(encode_texts(self.tokenizer, texts), pad_token_id(self.tokenizer))

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64,
                      progress: Callable[[dict[str, Any]], None] | None = None) -> np.ndarray:
        """(n, num_labels) float64 class probabilities, length-bucketed, in the given order."""
        return predict_dataset(self, texts, batch_size=batch_size, progress=progress).probabilities


def bundle_from_pretrained(directory: str | Path, num_labels: int, label_names: Sequence[str] | None = None,
                           max_length: int = 128, head_dropout: float = 0.1, seed: int = 0,
                           pooling: str = "mean") -> ClassifierBundle:
    """A bundle with the pretrained encoder and tokenizer of a Hugging Face BERT-family directory and a
    fresh, seeded classification head (to be trained). `pooling="cls_pooler"` takes the folder's BERT pooler
    (pooler.dense) as the pooling layer, as BertForSequenceClassification does."""
    encoder = load_pretrained_encoder(directory)
    tokenizer = load_tokenizer(directory, max_length=max_length)
    if tokenizer.get_vocab_size() > encoder.config.vocab_size:
        raise ArtifactError(f"tokenizer has {tokenizer.get_vocab_size()} tokens but the encoder only "
                            f"{encoder.config.vocab_size} embeddings")
    if max_length > encoder.config.max_position:
        raise ArtifactError(f"max_length {max_length} exceeds the encoder's {encoder.config.max_position} positions")
    names = list(label_names) if label_names else [str(i) for i in range(num_labels)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TextClassifier(encoder, num_labels, head_dropout, pooling=pooling)
    if pooling == "cls_pooler":
        from models_core.encoder.hf_heads import load_pooler_weights

        load_pooler_weights(model, directory)
    config = bundle_config(encoder.config, num_labels, names, max_length, head_dropout, pooling=pooling)
    return ClassifierBundle(model=model, tokenizer=tokenizer, config=config, label_names=names)
