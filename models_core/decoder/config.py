"""Configuration of the causal decoder, convertible from a Hugging Face GPT-2 config."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from models_core.errors import ArtifactError, InputError

GPT2_FAMILY = frozenset({"gpt2"})
# Hugging Face activation names -> torch's F.gelu(approximate=...)
_ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": None, "gelu": "none"}


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int = 257                 # byte-level: 256 bytes + <|endoftext|>
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 256
    max_position: int = 256
    layer_norm_eps: float = 1e-5
    hidden_dropout: float = 0.0           # embeddings and residual branches (GPT-2: embd_pdrop, resid_pdrop)
    attention_dropout: float = 0.0
    gelu_approximate: str = "tanh"        # "tanh" (GPT-2's gelu_new) or "none" (exact erf)
    eos_token_id: int = 256

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position"):
            if int(getattr(self, name)) <= 0:
                raise InputError(f"DecoderConfig.{name} must be positive")
        if self.hidden_size % self.num_heads:
            raise InputError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.gelu_approximate not in ("tanh", "none"):
            raise InputError("gelu_approximate must be 'tanh' or 'none'")
        if not 0 <= self.eos_token_id < self.vocab_size:
            raise InputError(f"eos_token_id {self.eos_token_id} is outside the vocabulary")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DecoderConfig":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ArtifactError(f"unknown decoder config keys: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any]) -> "DecoderConfig":
        """From a Hugging Face GPT-2 `config.json`; ArtifactError for variants not reproduced exactly."""
        if hf.get("model_type") not in GPT2_FAMILY:
            raise ArtifactError(f"unsupported model_type {hf.get('model_type')!r}; expected one of {sorted(GPT2_FAMILY)}")
        activation = hf.get("activation_function", "gelu_new")
        if _ACTIVATIONS.get(activation) is None:
            raise ArtifactError(f"unsupported activation_function {activation!r}")
        for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"):
            if hf.get(flag):
                raise ArtifactError(f"GPT-2 option {flag}=true is not implemented")
        if hf.get("scale_attn_weights", True) is not True:
            raise ArtifactError("GPT-2 option scale_attn_weights=false is not implemented")
        if hf.get("tie_word_embeddings", True) is not True:
            raise ArtifactError("only GPT-2 models with the output head tied to the embeddings are supported")
        try:
            hidden = int(hf["n_embd"])
            return cls(vocab_size=int(hf["vocab_size"]), hidden_size=hidden, num_layers=int(hf["n_layer"]),
                       num_heads=int(hf["n_head"]), intermediate_size=int(hf.get("n_inner") or 4 * hidden),
                       max_position=int(hf["n_positions"]), layer_norm_eps=float(hf.get("layer_norm_epsilon", 1e-5)),
                       hidden_dropout=float(hf.get("resid_pdrop", 0.1)),
                       attention_dropout=float(hf.get("attn_pdrop", 0.1)),
                       gelu_approximate=_ACTIVATIONS[activation],
                       eos_token_id=int(hf.get("eos_token_id") if hf.get("eos_token_id") is not None
                                        else int(hf["vocab_size"]) - 1))
        except KeyError as exc:
            raise ArtifactError(f"config.json lacks required key {exc.args[0]!r}") from exc
        except (TypeError, ValueError, InputError) as exc:
            raise ArtifactError(f"config.json is not a usable GPT-2 config: {exc}") from exc
