"""A BERT-family Transformer encoder in plain torch.nn, numerically equal to Hugging Face `BertModel`.

Shapes: B batch, T tokens, H hidden size, N heads, D = H / N head size, I intermediate size.
Post-LN layers as in BERT: x -> LayerNorm(x + Attention(x)) -> LayerNorm(. + FeedForward(.)).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from models_core.encoder.config import EncoderConfig
from models_core.errors import ArtifactError


# ---- the fp32 GEMM kernel --------------------------------------------------------------------------

GEMM_ENV = "MODELS_CORE_GEMM"  # "auto" (default), "onednn" or "default": which kernel fp32 Linear layers use on CPU
_GEMM_CHOICE: dict[str, object] = {}


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def gemm_backend() -> dict:
    """Which kernel the encoder's fp32 Linear layers use on CPU, decided once per process.

    torch's `F.linear` runs fp32 products through MKL's sgemm on x86; oneDNN (`torch.ops.mkldnn._linear_pointwise`,
    the kernel inductor's frozen graphs call) is another. On the AMD EPYC machines this project is built on, MKL
    reaches ~104 GFLOP/s per core where oneDNN reaches ~235 (the whole encoder runs 1.7-2.0x faster, outputs
    equal to ~1e-6), while on other CPUs the two can be level. So "auto" times both once on an encoder-sized
    product (a few tens of milliseconds) and takes oneDNN only when it is at least 15 % faster;
    `MODELS_CORE_GEMM=onednn|default` forces the choice. Returns {"kernel", "reason", ...timings}.
    """
    if _GEMM_CHOICE:
        return dict(_GEMM_CHOICE)
    wanted = os.environ.get(GEMM_ENV, "auto").strip().lower() or "auto"
    if wanted not in ("auto", "onednn", "default"):
        raise ValueError(f"{GEMM_ENV} must be auto, onednn or default, not {wanted!r}")
    available = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    if not available or wanted == "default":
        _GEMM_CHOICE.update(kernel="default", reason="forced" if wanted == "default" else "oneDNN not in this build")
    elif wanted == "onednn":
        _GEMM_CHOICE.update(kernel="onednn", reason="forced")
    else:
        _GEMM_CHOICE.update(_time_gemms())
    return dict(_GEMM_CHOICE)


def _time_gemms(rows: int = 1024, width: int = 384, out: int = 1536, reps: int = 3) -> dict:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, width, generator=generator)
    weight = torch.randn(out, width, generator=generator)
    bias = torch.randn(out, generator=generator)
    best = {}
    with torch.inference_mode():
        for name, fn in (("default", F.linear), ("onednn", _onednn_linear)) * 2:  # interleaved, warm-up included
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                fn(x, weight, bias)
                times.append(time.perf_counter() - start)
            best[name] = min(times)
        same = bool(torch.allclose(F.linear(x, weight, bias), _onednn_linear(x, weight, bias), rtol=1e-4, atol=1e-4))
    faster = same and best["onednn"] * 1.15 < best["default"]
    return {"kernel": "onednn" if faster else "default",
            "reason": "timed: oneDNN at least 15 % faster" if faster else "timed: torch's default as fast or faster",
            "default_ms": round(1e3 * best["default"], 2), "onednn_ms": round(1e3 * best["onednn"], 2)}


class _OneDNNLinear(torch.autograd.Function):
    """y = x W^T + b through oneDNN, differentiable in x only (frozen weights: IG, a frozen encoder)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(weight)
        return _onednn_linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (weight,) = ctx.saved_tensors
        return _onednn_linear(grad.contiguous(), weight.t().contiguous(), None), None, None


class Linear(nn.Linear):
    """nn.Linear (same parameters, same state dict) whose fp32 CPU products use the faster kernel of
    `gemm_backend` whenever its weights are not being trained; training keeps torch's own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32 or x.device.type != "cpu" or self.weight.dtype != torch.float32:
            return F.linear(x, self.weight, self.bias)
        trained = torch.is_grad_enabled() and (self.weight.requires_grad
                                               or (self.bias is not None and self.bias.requires_grad))
        if trained or (_GEMM_CHOICE.get("kernel") or gemm_backend()["kernel"]) != "onednn":  # no copy per call
            return F.linear(x, self.weight, self.bias)
        if torch.is_grad_enabled() and x.requires_grad:
            return _OneDNNLinear.apply(x, self.weight, self.bias)
        return _onednn_linear(x, self.weight, self.bias)


class Embeddings(nn.Module):
    """Token + token-type embeddings (`embed_tokens`), then + position, LayerNorm, dropout (`forward`).

    Split in two so attribution methods can take gradients with respect to `embed_tokens`' output
    while positions stay fixed. The sum order matches Hugging Face exactly: (word + type) + position.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position, config.hidden_size)
        self.token_type = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.max_position = config.max_position

    def embed_tokens(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        # input_ids, token_type_ids: (B, T) -> (B, T, H)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        return self.word(input_ids) + self.token_type(token_type_ids)

    def forward(self, token_embeds: torch.Tensor) -> torch.Tensor:
        # token_embeds: (B, T, H) -> (B, T, H)
        seq_len = token_embeds.shape[1]
        if seq_len > self.max_position:
            raise ValueError(f"sequence of {seq_len} tokens exceeds max_position {self.max_position}")
        positions = self.position.weight[:seq_len]  # (T, H), broadcast over B
        return self.dropout(self.norm(token_embeds + positions))


class MultiHeadSelfAttention(nn.Module):
    """Fused QKV projection, `scaled_dot_product_attention`, output projection."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.head_dim
        self.qkv = Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_dropout

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None,
                residual: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, H); attn_mask: (B, 1, 1, T) bool, True = may attend, or None = attend everywhere
        # (the causal decoder passes a (T, T) lower-triangular mask, broadcast over batch and heads).
        # With `residual` (inference only): returns residual + attention(x), added in place to the
        # output projection's buffer.
        batch, seq_len, hidden = x.shape
        qkv = self.qkv(x).view(batch, seq_len, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, N, T, D)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout_p if self.training else 0.0)
        context = context.transpose(1, 2).reshape(batch, seq_len, hidden)  # (B, T, H)
        if residual is None:
            return self.out(context)
        return linear_into(residual, context, self.out)


def linear_into(residual: torch.Tensor, x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
    """residual + linear(x) for inference, accumulated in place in the projection's output buffer.

    Saves a buffer per residual sum and keeps Hugging Face's rounding order exactly:
    (x @ W^T + b) + residual.
    """
    return linear(x).add_(residual)


class FeedForward(nn.Module):
    """Position-wise H -> I -> H with GELU: exact (erf) for BERT; a config with `gelu_approximate="tanh"`
    (the causal decoder's, GPT-2's "gelu_new") gets the tanh approximation."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.up = Linear(config.hidden_size, config.intermediate_size)
        self.down = Linear(config.intermediate_size, config.hidden_size)
        self.approximate = getattr(config, "gelu_approximate", "none")

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        # (B, T, H) -> (B, T, I) -> (B, T, H); with `residual` (inference only): residual + FFN(x)
        if residual is None:
            return self.down(F.gelu(self.up(x), approximate=self.approximate))
        # in place: no second (B, T, I) buffer
        inner = torch.ops.aten.gelu_(self.up(x), approximate=self.approximate)
        return linear_into(residual, inner, self.down)


class EncoderLayer(nn.Module):
    """Post-LN Transformer layer (BERT)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention = MultiHeadSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.output_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        # x: (B, T, H) -> (B, T, H)
        if self.training or torch.is_grad_enabled():
            x = self.attention_norm(x + self.dropout(self.attention(x, attn_mask)))
            return self.output_norm(x + self.dropout(self.feed_forward(x)))
        # Inference: dropout is the identity, so each residual is added in place to the projection output.
        x = self.attention_norm(self.attention(x, attn_mask, residual=x))
        return self.output_norm(self.feed_forward(x, residual=x))


def attention_mask_4d(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, T) 1/0 padding mask -> (B, 1, 1, T) bool for SDPA; None when nothing is padded.

    Dropping an all-ones mask is exact (masking nothing) and lets SDPA take its fused no-mask kernels.
    """
    if attention_mask is None:
        return None
    mask = attention_mask.to(torch.bool)
    if bool(mask.all()):
        return None
    return mask[:, None, None, :]


class Encoder(nn.Module):
    """Embeddings followed by `num_layers` EncoderLayers; returns the last hidden states (B, T, H)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # BERT's initialisation (normal, std 0.02), used for from-scratch encoders.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
            elif module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward_from_token_embeddings(self, token_embeds: torch.Tensor,
                                      attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # token_embeds: (B, T, H) from `embeddings.embed_tokens`; attention_mask: (B, T) -> (B, T, H)
        x = self.embeddings(token_embeds)
        mask = attention_mask_4d(attention_mask)
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        # input_ids: (B, T) -> (B, T, H)
        return self.forward_from_token_embeddings(
            self.embeddings.embed_tokens(input_ids, token_type_ids), attention_mask)


# ---- Hugging Face checkpoint loading -------------------------------------------------------------

_HF_SIMPLE = {
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
}
_HF_LAYER = {
    "attention.output.dense": "attention.out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "feed_forward.up",
    "output.dense": "feed_forward.down",
    "output.LayerNorm": "output_norm",
}
_HF_LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")
# Heads and buffers of HF checkpoints that the encoder does not use.
_HF_IGNORED = re.compile(r"^(pooler\.|cls\.|classifier\.|embeddings\.position_ids$)")


def _normalise_hf_name(name: str) -> str:
    for prefix in ("bert.", "model."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    # Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
    return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))


def hf_state_dict_to_encoder(hf_tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map Hugging Face BERT weight names to this encoder's names (fusing Q, K, V).

    Raises ArtifactError when a weight is missing or unexpected, so a wrong checkpoint is never
    half-loaded.
    """
    tensors = {_normalise_hf_name(k): v for k, v in hf_tensors.items()}
    ours: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
    unexpected = []
    for name, tensor in tensors.items():
        if name in _HF_SIMPLE:
            ours[_HF_SIMPLE[name]] = tensor
            continue
        match = _HF_LAYER_RE.match(name)
        if match:
            index, inner, kind = int(match.group(1)), match.group(2), match.group(3)
            if inner in ("attention.self.query", "attention.self.key", "attention.self.value"):
                qkv.setdefault((index, kind), {})[inner.rsplit(".", 1)[1]] = tensor
                continue
            if inner in _HF_LAYER:
                ours[f"layers.{index}.{_HF_LAYER[inner]}.{kind}"] = tensor
                continue
        if not _HF_IGNORED.match(name):
            unexpected.append(name)
    if unexpected:
        raise ArtifactError(f"checkpoint has weights this encoder does not know: {sorted(unexpected)[:5]}")
    for (index, kind), parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise ArtifactError(f"layer {index} lacks one of query/key/value {kind}")
        ours[f"layers.{index}.attention.qkv.{kind}"] = torch.cat(
            [parts["query"], parts["key"], parts["value"]], dim=0)
    return ours


def load_pretrained_encoder(directory: str | Path) -> Encoder:
    """Load a Hugging Face BERT-family checkpoint directory (config.json + model.safetensors), offline.

    Only safetensors weights are read; pickle checkpoints are never opened.
    """
    directory = Path(directory)
    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ArtifactError(f"{path.name} not found in {directory}")
    try:
        hf_config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"config.json in {directory} is not valid JSON: {exc}") from exc
    config = EncoderConfig.from_hf_config(hf_config)
    try:
        hf_tensors = load_file(str(weights_path))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read {weights_path}: {exc}") from exc
    encoder = Encoder(config)
    state = hf_state_dict_to_encoder(hf_tensors)
    load_encoder_state(encoder, state)
    return encoder.eval()


def load_encoder_state(encoder: Encoder, state: dict[str, torch.Tensor]) -> None:
    """`load_state_dict(strict=True)` with shape checks turned into ArtifactError."""
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ArtifactError(f"weights do not match the encoder config: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise ArtifactError(f"weight {name} has shape {tuple(tensor.shape)}, expected {tuple(own[name].shape)}")
    encoder.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)
