"""Cheaper copies of a classifier for scoring perturbations, with their agreement to fp32 measured.

Explanations score thousands of masked or perturbed strings per text; each score only needs to be close
to the fp32 model's, not equal. Two cheaper copies, chosen by what the machine runs fast:

- ``bf16`` (CUDA with bf16; a CPU whose oneDNN has native bf16, AVX512-BF16 or AMX): mixed precision. Each
  encoder layer multiplies in bfloat16 and keeps the bfloat16 products where the next step is another
  product (`BF16EncoderLayer`): QKV projection -> attention (SDPA in bf16) -> output projection, and the
  feed-forward's up projection with GELU fused into it (oneDNN's `_linear_pointwise` on CPU) -> down
  projection. The residual stream, both LayerNorms, the embeddings and the head stay fp32: the output and
  down projections return fp32 and their biases and the residual are added in fp32. Measured on the demo's
  trained model, 3,020 masked demo strings (`bench/README.md`, seventh measurement): on an AMX CPU (Xeon,
  bf16 GEMMs ~9x fp32's) 3.1x fp32's throughput, 1.4x that of bf16 products alone (`BF16Linear` in every
  Linear, attention and GELU in fp32 with a cast around every product); largest |Δp| 0.011 (mean 0.0027).
  On an AVX512-BF16 CPU without AMX (EPYC): 2.1x fp32, |Δp| up to 0.010 with products alone. Casting the
  whole model to bfloat16 (the residual stream and LayerNorm included) was 2.6x further from fp32 (|Δp| up
  to 0.026, over the threshold on that model).
- ``int8`` (a CPU with a quantized engine): `torch.ao.quantization.quantize_dynamic` on the encoder's
  `nn.Linear` layers (weights int8 per tensor, activations quantized per batch at run time); embeddings,
  LayerNorm, attention and the head stay fp32. 2.7x less CPU time, but |Δp| up to ~5e-2 on MiniLM.

`perturbation_scorer(bundle, probe_texts)` builds a copy, measures its agreement on a probe batch
(the probe texts and seeded random maskings of their tokens, the kind of string the explainers score)
and returns a bundle-like `ScoringBundle` whose `predict_proba` uses the copy, or the fp32 bundle itself
when the agreement falls below the thresholds; with it a note (JSON-able) that says which was used and
why, for the explanation's method note. Agreement is measured two ways: the largest |Δp| of any class
probability, and the Pearson correlation between the attributions that a least-squares linear model of
each model's scores on the masks gives (the local surrogate LIME and Kernel SHAP fit), per probe text.

Perturbations are scored in padding-free batches: every batch holds strings of one token length
(`inference.predict_dataset(..., padding_free=True)`), so no position is padded and SDPA runs unmasked.
Integrated Gradients needs gradients and keeps the fp32 `model`.
"""

from __future__ import annotations

import copy
import platform
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from models_core.encoder.classifier import TextClassifier
from models_core.encoder.inference import TokenizedClassifier, inference_device, predict_dataset
from models_core.encoder.transformer import EncoderLayer

Progress = Callable[[dict[str, Any]], None]

# A cheap copy is used only when, on the probe batch, no class probability moves by more than this ...
MAX_ABS_DP = 0.02
# ... and the surrogate attributions of every probe text correlate with fp32's at least this much.
MIN_ATTRIBUTION_PEARSON = 0.99
PROBE_TEXTS = 4
PROBE_MASKS = 48


def native_bf16_cpu() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX on x86; oneDNN's own query elsewhere).

    oneDNN's `_is_mkldnn_bf16_supported` is also true on AVX-512 CPUs without AVX512-BF16 (Skylake to Ice Lake
    Xeons), where it emulates the bf16 products: measured on such a 2-core Xeon, an encoder-shaped bf16 product
    ran at 66 GFLOP/s against fp32's 282, so a bf16 copy there would score perturbations ~4x slower than fp32.
    """
    try:
        if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return False
    except (AttributeError, RuntimeError):  # a build without oneDNN's bf16 query
        return False
    x86 = getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None)
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686") and all(x86):
        return bool(x86[0]() or x86[1]())
    return True


def cheap_kinds(device: torch.device) -> list[str]:
    """The cheaper copies this machine runs fast, best first: on CUDA "bf16" where supported; on a CPU "bf16"
    where it multiplies bf16 natively (`native_bf16_cpu`: AVX512-BF16 / AMX, about 2x and 9x fp32's speed and
    ~1e-2 from it), then "int8" where a quantized engine exists (fbgemm / x86 / qnnpack: faster still, but
    further from fp32)."""
    if device.type == "cuda":
        return ["bf16"] if torch.cuda.is_bf16_supported() else []
    kinds = ["bf16"] if native_bf16_cpu() else []
    if set(torch.backends.quantized.supported_engines) - {"none"}:
        kinds.append("int8")
    return kinds


class BF16Linear(nn.Module):
    """An inference-only Linear that multiplies in bfloat16 and returns fp32: bf16 weight, fp32 bias added
    after the product (the output buffer is fp32, so the in-place residual adds stay fp32)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().float().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.linear(x.to(torch.bfloat16), self.weight).float()
        return out if self.bias is None else out.add_(self.bias)


def _replace(module: nn.Module, kind: type[nn.Module], make: Callable[[Any], nn.Module]) -> nn.Module:
    """`module` (modified in place) with every submodule of type `kind` (subclasses included) replaced by
    `make(submodule)`."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, kind):
                setattr(parent, name, make(child))
    return module


class BF16EncoderLayer(nn.Module):
    """An inference-only copy of an `EncoderLayer` (post-LN BERT) whose products and attention run in
    bfloat16 and whose residual stream and LayerNorms stay fp32 (see the module doc).

    x (B, T, H) fp32 -> bf16 -> QKV (+ bf16 bias) -> SDPA -> output projection -> fp32, + bias + x, LayerNorm
    -> bf16 -> up projection + bias + GELU (bf16) -> down projection -> fp32, + bias + residual, LayerNorm.
    """

    def __init__(self, layer: EncoderLayer) -> None:
        super().__init__()
        attention, feed_forward = layer.attention, layer.feed_forward
        self.num_heads, self.head_dim = attention.num_heads, attention.head_dim
        self.approximate = feed_forward.approximate
        for name, linear, bias_dtype in (("qkv", attention.qkv, torch.bfloat16), ("out", attention.out, torch.float32),
                                         ("up", feed_forward.up, torch.bfloat16),
                                         ("down", feed_forward.down, torch.float32)):
            self.register_buffer(f"{name}_weight", linear.weight.detach().to(torch.bfloat16))
            self.register_buffer(f"{name}_bias", linear.bias.detach().to(bias_dtype).clone())
        self.attention_norm, self.output_norm = layer.attention_norm, layer.output_norm
        self.fused_gelu = native_bf16_cpu()  # oneDNN's native bf16 kernels exist

    def _up_gelu(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and self.fused_gelu:
            return torch.ops.mkldnn._linear_pointwise(x, self.up_weight, self.up_bias, "gelu", [], self.approximate)
        return nn.functional.gelu(nn.functional.linear(x, self.up_weight, self.up_bias), approximate=self.approximate)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        # x: (B, T, H) fp32; attn_mask: (B, 1, 1, T) bool or None -> (B, T, H) fp32
        batch, seq_len, hidden = x.shape
        qkv = nn.functional.linear(x.to(torch.bfloat16), self.qkv_weight, self.qkv_bias)
        q, k, v = qkv.view(batch, seq_len, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        context = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        context = context.transpose(1, 2).reshape(batch, seq_len, hidden)
        x = self.attention_norm(nn.functional.linear(context, self.out_weight).float().add_(self.out_bias).add_(x))
        inner = self._up_gelu(x.to(torch.bfloat16))
        return self.output_norm(nn.functional.linear(inner, self.down_weight).float().add_(self.down_bias).add_(x))


def mixed_bf16(module: nn.Module) -> nn.Module:
    """`module` (modified in place) with every `EncoderLayer` replaced by a `BF16EncoderLayer` and every other
    nn.Linear by a `BF16Linear`."""
    return _replace(_replace(module, EncoderLayer, BF16EncoderLayer), nn.Linear, BF16Linear)


def _plain(linear: nn.Linear) -> nn.Linear:
    """A plain nn.Linear holding `linear`'s parameters (for quantize_dynamic, which swaps that exact type)."""
    plain = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    plain.weight, plain.bias = linear.weight, linear.bias
    return plain


def cheap_copy(model: TextClassifier, kind: str) -> nn.Module:
    """An inference-only copy of `model`: int8 dynamically quantized Linear layers, or the encoder's Linear
    layers in bf16 (mixed precision)."""
    clone = copy.deepcopy(model).cpu().eval()
    if kind == "int8":
        # the encoder's Linear layers only: the head's few outputs cost nothing and decide the probability.
        # quantize_dynamic swaps modules of exactly type nn.Linear, not the encoder's kernel-choosing subclass
        clone.encoder = torch.ao.quantization.quantize_dynamic(_replace(clone.encoder, nn.Linear, _plain), {nn.Linear},
                                                               dtype=torch.qint8)
        return clone
    if kind == "bf16":
        # the encoder's GEMMs only: the head's few outputs cost nothing and decide the probability
        clone.encoder = mixed_bf16(clone.encoder)
        return clone
    raise ValueError(f"unknown cheap copy {kind!r}; choose int8 or bf16")


@dataclass
class ScoringBundle:
    """What the explainers need of a bundle: `predict_proba` (through `scorer`, padding-free), `tokenizer`,
    `config`, `label_names`, and `model`: the fp32 classifier (Integrated Gradients takes its gradients)."""

    base: Any
    scorer: nn.Module
    device: torch.device
    note: dict = field(default_factory=dict)

    @property
    def model(self) -> TextClassifier:
        return self.base.model

    @property
    def tokenizer(self):
        return self.base.tokenizer

    @property
    def config(self) -> dict:
        return self.base.config

    @property
    def label_names(self) -> list[str]:
        return self.base.label_names

    @property
    def num_labels(self) -> int:
        return self.base.model.num_labels

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        view = _ModelView(self.scorer, self.base.tokenizer)
        return predict_dataset(view, texts, batch_size=batch_size, progress=progress, padding_free=True,
                               device=self.device).probabilities


@dataclass
class _ModelView:
    model: nn.Module
    tokenizer: Any


@dataclass
class _PaddingFree:
    """The fp32 bundle scored padding-free (when no cheaper copy is used or agrees)."""

    base: Any
    note: dict

    def __getattr__(self, name: str):
        return getattr(self.base, name)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None) -> np.ndarray:
        return predict_dataset(self.base, texts, batch_size=batch_size, progress=progress,
                               padding_free=True).probabilities


def probe_batch(tokenizer, texts: Sequence[str], masks_per_text: int = PROBE_MASKS,
                seed: int = 0) -> tuple[list[str], list[tuple[int, int, np.ndarray]]]:
    """Each probe text and `masks_per_text` seeded random maskings of its tokens ([MASK] in place of a token,
    half the tokens kept on average). Returns the strings and, per text, (first row, row count, masks)."""
    rng = np.random.default_rng(seed)
    mask = "[MASK]" if tokenizer.token_to_id("[MASK]") is not None else "[UNK]"
    strings: list[str] = []
    layout = []
    for text in texts:
        enc = tokenizer.encode(text, add_special_tokens=False)
        offsets = [o for o in enc.offsets if o[1] > o[0]]
        if not offsets:
            continue
        keep = rng.random((masks_per_text, len(offsets))) < 0.5
        keep = np.vstack([np.ones(len(offsets), bool), keep])
        first = len(strings)
        for row in keep:
            parts, last = [], 0
            for (start, end), kept in zip(offsets, row):
                parts.append(text[last:start])
                parts.append(text[start:end] if kept else mask)
                last = end
            parts.append(text[last:])
            strings.append("".join(parts))
        layout.append((first, len(keep), keep))
    return strings, layout


def _surrogate(masks: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares linear attributions of y on the kept-token indicators (with an intercept)."""
    design = np.column_stack([np.ones(len(masks)), masks.astype(float)])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef[1:]


def agreement(base, scorer: ScoringBundle, texts: Sequence[str], targets: Sequence[int] | None = None,
              seed: int = 0) -> dict:
    """Agreement of `scorer` with the fp32 `base` on the probe batch of `texts` (see the module doc)."""
    strings, layout = probe_batch(base.tokenizer, texts, seed=seed)
    if not strings:
        return {"probe_strings": 0, "max_abs_dp": None, "mean_abs_dp": None, "attribution_pearson_min": None}
    reference = predict_dataset(base, strings, padding_free=True).probabilities
    cheap = scorer.predict_proba(strings)
    dp = np.abs(reference - cheap)
    correlations = []
    for k, (first, count, masks) in enumerate(layout):
        target = int(targets[k]) if targets is not None else int(reference[first].argmax())
        a = _surrogate(masks, reference[first:first + count, target])
        b = _surrogate(masks, cheap[first:first + count, target])
        if np.std(a) > 0 and np.std(b) > 0:
            correlations.append(float(np.corrcoef(a, b)[0, 1]))
    return {"probe_texts": len(layout), "probe_strings": len(strings), "max_abs_dp": float(dp.max()),
            "mean_abs_dp": float(dp.mean()),
            "attribution_pearson_min": min(correlations) if correlations else None,
            "attribution_pearson_mean": float(np.mean(correlations)) if correlations else None}


def perturbation_scorer(bundle: TokenizedClassifier, probe_texts: Sequence[str],
                        targets: Sequence[int] | None = None, *, kind: str | None = "auto",
                        max_abs_dp: float = MAX_ABS_DP, min_pearson: float = MIN_ATTRIBUTION_PEARSON,
                        seed: int = 0, device: torch.device | None = None) -> tuple[Any, dict]:
    """A bundle-like object that scores perturbations cheaply when that agrees with fp32, and its note.

    `kind`: "auto" (the first of `cheap_kinds` whose agreement meets the thresholds), "int8", "bf16", or None
    (fp32). The probe uses the first `PROBE_TEXTS` of `probe_texts` (their explained classes `targets`).
    Whatever is chosen scores in padding-free batches.
    """
    device = device or inference_device()
    candidates = cheap_kinds(device) if kind == "auto" else [] if kind is None else [kind]
    thresholds = {"max_abs_dp": max_abs_dp, "attribution_pearson_min": min_pearson}
    batches = "padding-free (one token length per batch)"
    probe = list(probe_texts)[:PROBE_TEXTS]
    probe_targets = None if targets is None else list(targets)[:PROBE_TEXTS]
    skipped = []
    # what "auto" did not even try, and why (the method note says it, so a slow audit on such a CPU is explained)
    not_offered = {} if kind != "auto" or device.type != "cpu" or "bf16" in candidates else \
        {"bf16": "no native bf16 on this CPU (no AVX512-BF16 or AMX): emulated bf16 products run slower than fp32"}
    for chosen in candidates:
        scorer = ScoringBundle(base=bundle, scorer=cheap_copy(bundle.model, chosen).to(device), device=device)
        measured = agreement(bundle, scorer, probe, probe_targets, seed=seed)
        pearson = measured["attribution_pearson_min"]
        if measured["max_abs_dp"] is not None and measured["max_abs_dp"] <= max_abs_dp and \
                (pearson is None or pearson >= min_pearson):
            scorer.note = {"scoring": chosen, "description": DESCRIPTIONS[chosen], "batches": batches,
                           "agreement": measured, "thresholds": thresholds, "skipped": skipped,
                           "not_offered": not_offered,
                           "used_for": "every string SHAP and LIME score (the explained text, its masked and "
                                       "perturbed copies); the audit's predictions and Integrated Gradients "
                                       "use the fp32 model"}
            return scorer, scorer.note
        skipped.append({"scoring": chosen, "agreement": measured})
    if kind is None:
        reason = "fp32 requested"
    elif not candidates:
        reason = "this machine runs no cheaper copy fast"
    else:
        reason = (f"{' and '.join(s['scoring'] for s in skipped)} skipped: agreement with fp32 on the probe "
                  f"below the thresholds")
    note = {"scoring": "fp32", "batches": batches, "thresholds": thresholds, "skipped": skipped, "reason": reason,
            "not_offered": not_offered}
    return _PaddingFree(bundle, note), note


DESCRIPTIONS = {"int8": "int8 dynamic quantization of the encoder's Linear layers (torch.ao quantize_dynamic)",
                "bf16": "bfloat16 products and attention in the encoder's layers (mixed precision: residual stream, "
                        "LayerNorm, embeddings and head in fp32)"}
