"""A GPT-2-style causal Transformer in plain torch.nn, numerically equal to Hugging Face `GPT2LMHeadModel`.

Shapes: B batch, T tokens, H hidden size, V vocabulary. Pre-LN blocks as in GPT-2:
x -> x + Attention(LayerNorm(x)) -> . + FeedForward(LayerNorm(.)); a final LayerNorm; the output head's
weight is the token embedding matrix (tied). Attention and feed-forward are the encoder's modules
(models_core.encoder.transformer), given a lower-triangular mask and the tanh GELU.
"""

from __future__ import annotations

import torch
from torch import nn

from models_core.decoder.config import DecoderConfig
from models_core.encoder.transformer import FeedForward, MultiHeadSelfAttention
from models_core.errors import ArtifactError

TIED = "head.weight"  # not stored in artifacts: it is `embeddings.word.weight`


class DecoderEmbeddings(nn.Module):
    """Token + learned absolute position embeddings, then dropout. Positions go through the module call (not
    a slice of its weight) so that Opacus's per-sample gradient hooks see them."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position = nn.Embedding(config.max_position, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.max_position = config.max_position

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # (B, T) -> (B, T, H)
        seq_len = input_ids.shape[1]
        if seq_len > self.max_position:
            raise ValueError(f"sequence of {seq_len} tokens exceeds max_position {self.max_position}")
        positions = torch.arange(seq_len, device=input_ids.device).unsqueeze(0).expand_as(input_ids)
        return self.dropout(self.word(input_ids) + self.position(positions))


class DecoderLayer(nn.Module):
    """Pre-LN Transformer layer (GPT-2)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = MultiHeadSelfAttention(config)
        self.feed_forward_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, x: torch.Tensor, causal_mask: torch.Tensor) -> torch.Tensor:
        # x: (B, T, H) -> (B, T, H)
        x = x + self.dropout(self.attention(self.attention_norm(x), causal_mask))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


def causal_mask(seq_len: int, device: torch.device) -> torch.Tensor:
    """(T, T) bool, True where position i may attend to j (j <= i); SDPA broadcasts it over (B, N)."""
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


class CausalLM(nn.Module):
    """Embeddings, `num_layers` DecoderLayers, final LayerNorm, tied head; returns logits (B, T, V).

    Sequences are right-padded: the causal mask alone keeps every real token from seeing the padding after
    it, so no padding mask is needed; losses skip padded targets.
    """

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = DecoderEmbeddings(config)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        self.head.weight = self.embeddings.word.weight  # tied (after init: one parameter, two modules)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # GPT-2's initialisation (normal, std 0.02), for from-scratch decoders.
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # input_ids: (B, T) -> logits (B, T, V)
        x = self.embeddings(input_ids)
        mask = causal_mask(input_ids.shape[1], input_ids.device)
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(self.final_norm(x))

    def stored_state(self) -> dict[str, torch.Tensor]:
        """The state dict without the tied head (safetensors refuses tensors that share memory)."""
        return {name: t.detach().to("cpu").contiguous() for name, t in self.state_dict().items() if name != TIED}

    def load_stored_state(self, state: dict[str, torch.Tensor]) -> None:
        own = {k: v for k, v in self.state_dict().items() if k != TIED}
        missing, extra = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or extra:
            raise ArtifactError(f"weights do not match the decoder config: missing {missing[:5]}, "
                                f"unexpected {extra[:5]}")
        for name, tensor in state.items():
            if tuple(tensor.shape) != tuple(own[name].shape):
                    raise ArtifactError(f"weight {name} has shape {tuple(tensor.shape)}, expected {tuple(own[name].shape)}")
        self.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=False)
        self.head.weight = self.embeddings.word.weight
