"""Import of a Hugging Face GPT-2-family folder (config.json, model.safetensors, tokenizer.json) as a
DecoderBundle. Only safetensors weights are read. GPT-2's `Conv1D` stores weights as (in, out): they are
transposed into `nn.Linear`'s (out, in); `c_attn` is already the fused Q, K, V projection in this order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from models_core.decoder.bundle import DecoderBundle, bundle_config
from models_core.decoder.config import DecoderConfig
from models_core.decoder.model import CausalLM
from models_core.decoder.tokenization import load_lm_tokenizer
from models_core.errors import ArtifactError

_SIMPLE = {"wte.weight": "embeddings.word.weight", "wpe.weight": "embeddings.position.weight",
           "ln_f.weight": "final_norm.weight", "ln_f.bias": "final_norm.bias"}
_LAYER = {"ln_1": ("attention_norm", False), "attn.c_attn": ("attention.qkv", True),
          "attn.c_proj": ("attention.out", True), "ln_2": ("feed_forward_norm", False),
          "mlp.c_fc": ("feed_forward.up", True), "mlp.c_proj": ("feed_forward.down", True)}
_LAYER_RE = re.compile(r"^h\.(\d+)\.(.+)\.(weight|bias)$")
_IGNORED = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")  # causal-mask buffers of old checkpoints


def hf_state_dict_to_decoder(hf_tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map GPT-2 weight names to this decoder's; ArtifactError on a weight it does not know."""
    ours: dict[str, torch.Tensor] = {}
    unexpected = []
    lm_head = None
    for raw, tensor in hf_tensors.items():
        name = raw[len("transformer."):] if raw.startswith("transformer.") else raw
        if name == "lm_head.weight":
            lm_head = tensor
            continue
        if name in _SIMPLE:
            ours[_SIMPLE[name]] = tensor
            continue
        if _IGNORED.match(name):
            continue
        match = _LAYER_RE.match(name)
        if match and match.group(2) in _LAYER:
            target, conv1d = _LAYER[match.group(2)]
            kind = match.group(3)
            ours[f"layers.{match.group(1)}.{target}.{kind}"] = tensor.t() if conv1d and kind == "weight" else tensor
            continue
        unexpected.append(raw)
    if unexpected:
        raise ArtifactError(f"checkpoint has weights this decoder does not know: {sorted(unexpected)[:5]}")
    if lm_head is not None and "embeddings.word.weight" in ours and not torch.equal(
            lm_head, ours["embeddings.word.weight"]):
        raise ArtifactError("lm_head.weight differs from the token embeddings: only tied GPT-2 heads are supported")
    return ours


def load_gpt2_folder(directory: str | Path, max_length: int | None = None) -> DecoderBundle:
    """A DecoderBundle from a Hugging Face GPT-2 folder, offline; pickle checkpoints are never opened."""
    directory = Path(directory)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / name).is_file():
            raise ArtifactError(f"{name} not found in {directory}")
    try:
        hf_config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"config.json in {directory} is not valid JSON: {exc}") from exc
    if not isinstance(hf_config, dict):
        raise ArtifactError("config.json must hold an object")
    config = DecoderConfig.from_hf_config(hf_config)
    try:
        hf_tensors = load_file(str(directory / "model.safetensors"))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read {directory / 'model.safetensors'}: {exc}") from exc
    model = CausalLM(config)
    model.load_stored_state(hf_state_dict_to_decoder(hf_tensors))
    tokenizer = load_lm_tokenizer(directory)
    if tokenizer.get_vocab_size() > config.vocab_size:
        raise ArtifactError(f"tokenizer has {tokenizer.get_vocab_size()} tokens but the model only "
                            f"{config.vocab_size} embeddings")
    length = min(int(max_length or config.max_position), config.max_position)
    source = {"model_type": hf_config.get("model_type"), "architectures": hf_config.get("architectures")}
    return DecoderBundle(model=model.eval(), tokenizer=tokenizer,
                         config=bundle_config(config, length, source=source, tokenizer="imported"))
