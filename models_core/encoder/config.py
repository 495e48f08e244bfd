"""Configuration of the Transformer encoder, convertible from and to a Hugging Face BERT config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from models_core.errors import ArtifactError, InputError

# Hugging Face `model_type`s whose weights follow the BERT layout this encoder implements.
BERT_FAMILY = frozenset({"bert", "minilm"})


@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_position: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise InputError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                     "max_position", "type_vocab_size"):
            if int(getattr(self, name)) <= 0:
                raise InputError(f"EncoderConfig.{name} must be positive")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any]) -> "EncoderConfig":
        """Build from a Hugging Face `config.json` dict of a BERT-family model.

        Raises ArtifactError for architectures this encoder does not reproduce exactly
        (non-GELU activations, relative position embeddings, non-BERT model types).
        """
        model_type = hf.get("model_type", "bert")
        if model_type not in BERT_FAMILY:
            raise ArtifactError(f"unsupported model_type {model_type!r}; expected one of {sorted(BERT_FAMILY)}")
        if hf.get("hidden_act", "gelu") != "gelu":
            raise ArtifactError(f"unsupported hidden_act {hf.get('hidden_act')!r}; only exact 'gelu' is implemented")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            raise ArtifactError("only absolute position embeddings are supported")
        try:
            return cls(
                vocab_size=int(hf["vocab_size"]),
                hidden_size=int(hf["hidden_size"]),
                num_layers=int(hf["num_hidden_layers"]),
                num_heads=int(hf["num_attention_heads"]),
                intermediate_size=int(hf["intermediate_size"]),
                max_position=int(hf.get("max_position_embeddings", 512)),
                type_vocab_size=int(hf.get("type_vocab_size", 2)),
                layer_norm_eps=float(hf.get("layer_norm_eps", 1e-12)),
                hidden_dropout=float(hf.get("hidden_dropout_prob", 0.1)),
                attention_dropout=float(hf.get("attention_probs_dropout_prob", 0.1)),
                pad_token_id=int(hf.get("pad_token_id") or 0),
            )
        except KeyError as exc:
            raise ArtifactError(f"config.json lacks required key {exc.args[0]!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncoderConfig":
        """Inverse of `to_dict`; unknown keys are rejected so a typo cannot pass silently."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ArtifactError(f"unknown encoder config keys: {sorted(unknown)}")
        return cls(**data)

    def to_hf_config(self) -> dict[str, Any]:
        """The equivalent Hugging Face BertConfig dict (used to export or to build a reference model)."""
        return {
            "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
            "position_embedding_type": "absolute",
            "vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers, "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size, "max_position_embeddings": self.max_position,
            "type_vocab_size": self.type_vocab_size, "layer_norm_eps": self.layer_norm_eps,
            "hidden_dropout_prob": self.hidden_dropout, "attention_probs_dropout_prob": self.attention_dropout,
            "pad_token_id": self.pad_token_id,
        }
