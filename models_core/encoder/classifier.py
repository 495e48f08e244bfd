"""Text classifier: encoder -> pooling -> dropout -> linear head.

Two poolings: "mean" (masked mean over the tokens: the project's own classifiers, sentence-transformers'
convention) and "cls_pooler" (BERT's pooler, tanh(W h[CLS] + b): the head of Hugging Face
`BertForSequenceClassification`, so an imported classifier reproduces its logits).

For attribution methods (Integrated Gradients, SHAP on embeddings) the forward pass is split in two:

    model.embed(input_ids, token_type_ids=None) -> (B, T, H)
        word embedding + token-type embedding, BEFORE position embeddings are added and BEFORE the
        embedding LayerNorm/dropout. It is not the input to the first encoder layer; it is the
        per-token vector that depends only on the token (and its segment), so an IG baseline such as
        `embed(full_like(input_ids, pad_id))` differs from the input only in the word vectors.
    model.forward_from_embeddings(embeds, attention_mask=None) -> logits (B, num_labels)
        adds position embeddings, LayerNorm, dropout, runs the encoder layers, pools, applies the head.

    forward(input_ids, attention_mask, token_type_ids) == forward_from_embeddings(
        embed(input_ids, token_type_ids), attention_mask)   (bit-identical: same ops in the same order)
"""

from __future__ import annotations

import torch
from torch import nn

from models_core.encoder.transformer import Encoder


class MeanPooling(nn.Module):
    """Mean of the hidden states over non-padded positions (sentence-transformers' mean pooling)."""

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        # hidden: (B, T, H); attention_mask: (B, T) -> (B, H)
        if attention_mask is None:
            return hidden.mean(dim=1)
        weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class ClsPoolerPooling(nn.Module):
    """BERT's pooler: tanh of a dense layer over the first ([CLS]) token's hidden state."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        # hidden: (B, T, H) -> (B, H)
        return torch.tanh(self.dense(hidden[:, 0]))


POOLINGS = ("mean", "cls_pooler")


class ClassificationHead(nn.Module):
    """Dropout then a linear layer: pooled (B, H) -> logits (B, num_labels)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(pooled))


class TextClassifier(nn.Module):
    """Binary (num_labels=2) or multiclass classifier; outputs logits, softmax gives probabilities."""

    def __init__(self, encoder: Encoder, num_labels: int, dropout: float = 0.1, pooling: str = "mean") -> None:
        super().__init__()
        if num_labels < 2:
            raise ValueError("num_labels must be at least 2 (binary tasks use 2 softmax outputs)")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.encoder = encoder
        self.pooling_kind = pooling
        self.pooling = MeanPooling() if pooling == "mean" else ClsPoolerPooling(encoder.config.hidden_size)
        self.head = ClassificationHead(encoder.config.hidden_size, num_labels, dropout)
        self.num_labels = num_labels

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        # (B, T) -> (B, T, H): word + token-type embeddings, before position embeddings (see module doc)
        return self.encoder.embeddings.embed_tokens(input_ids, token_type_ids)

    def pooled_from_embeddings(self, embeds: torch.Tensor,
                               attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # embeds: (B, T, H) from `embed` -> pooled sentence vectors (B, H)
        hidden = self.encoder.forward_from_token_embeddings(embeds, attention_mask)
        return self.pooling(hidden, attention_mask)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        # (B, T) -> (B, H): the sentence embedding the head sees
        return self.pooled_from_embeddings(self.embed(input_ids, token_type_ids), attention_mask)

    def forward_from_embeddings(self, embeds: torch.Tensor,
                                attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        # embeds: (B, T, H) from `embed`; attention_mask: (B, T) -> logits (B, num_labels)
        return self.head(self.pooled_from_embeddings(embeds, attention_mask))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        # (B, T) -> logits (B, num_labels)
        return self.forward_from_embeddings(self.embed(input_ids, token_type_ids), attention_mask)
