"""DecoderBundle: a CausalLM with its tokenizer and configuration; log-likelihoods and perplexity."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from tqdm.auto import tqdm

from models_core.decoder.config import DecoderConfig
from models_core.decoder.model import CausalLM
from models_core.decoder.tokenization import sequences, token_ids
from models_core.errors import ArtifactError, InputError

BUNDLE_FORMAT = "models_core.causal_lm/1"


def bundle_config(decoder_config: DecoderConfig, max_length: int, **extra: Any) -> dict[str, Any]:
    """The JSON-able description from which `CausalLM` is rebuilt when an artifact is loaded."""
    return {"format": BUNDLE_FORMAT, "decoder": decoder_config.to_dict(), "max_length": int(max_length), **extra}


def decoder_from_config(config: dict[str, Any]) -> CausalLM:
    if config.get("format") != BUNDLE_FORMAT:
        raise ArtifactError(f"unknown bundle format {config.get('format')!r}; expected {BUNDLE_FORMAT!r}")
    try:
        return CausalLM(DecoderConfig.from_dict(config["decoder"]))
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise ArtifactError(f"invalid decoder bundle config: {exc}") from exc


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad: (input_ids (B, T) int64, mask (B, T) bool, True on real tokens)."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.bool)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, :len(seq)] = True
    return ids, mask


def token_nll(model: CausalLM, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-token negative log-likelihood of each next token: (B, T-1), 0 on padded targets."""
    logits = model(ids)[:, :-1]                                  # (B, T-1, V)
    nll = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")  # (B, T-1)
    return nll * mask[:, 1:]


@dataclass
class DecoderBundle:
    model: CausalLM
    tokenizer: Tokenizer
    config: dict[str, Any]
    label_names: tuple = ()  # artifacts of classifiers carry label names; a language model has none

    @property
    def eos_id(self) -> int:
        return self.model.config.eos_token_id

    @property
    def device(self) -> torch.device:
        return self.model.embeddings.word.weight.device

    @property
    def max_length(self) -> int:
        return min(int(self.config.get("max_length", self.model.config.max_position)),
                   self.model.config.max_position)

    def sequences(self, texts: Sequence[str]) -> list[list[int]]:
        return sequences(self.tokenizer, texts, self.eos_id, self.max_length)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return token_ids(self.tokenizer, texts)

    def sequence_nll(self, texts: Sequence[str], batch_size: int = 64, bos: bool = True, eos: bool = True,
                     progress: Callable[[dict], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(total NLL in nats of each text's tokens, number of predicted tokens), float64 and int64.

        With `bos` the first token is predicted from <|endoftext|>; with `eos` the closing <|endoftext|> is
        predicted too (perplexity); the exposure of a canary scores its tokens only (`eos=False`).
        """
        seqs = []
        for ids in self.token_ids(texts):
            seq = ([self.eos_id] if bos else []) + ids + ([self.eos_id] if eos else [])
            if len(seq) < 2:
                raise InputError("a text must hold at least one token to score")
            seqs.append(seq[:self.max_length])
        order = np.argsort([len(s) for s in seqs], kind="stable")
        totals, counts = np.zeros(len(seqs)), np.zeros(len(seqs), dtype=np.int64)
        self.model.eval()
        with torch.inference_mode():
            for start in tqdm(range(0, len(order), batch_size), desc="scoring", unit="batch", disable=None,
                              leave=False):
                rows = order[start:start + batch_size]
                ids, mask = pad_batch([seqs[i] for i in rows], self.eos_id)
                nll = token_nll(self.model, ids.to(self.device), mask.to(self.device)).to("cpu", torch.float64)
                totals[rows] = nll.sum(1).numpy()
                counts[rows] = mask[:, 1:].sum(1).numpy()
                if progress:
                    progress({"stage": "scoring", "percent": 100.0 * min(start + batch_size, len(order)) / len(order)})
        return totals, counts

    def perplexity(self, texts: Sequence[str], batch_size: int = 64) -> float:
        """exp(total NLL / total predicted tokens) over `texts` (each with its closing <|endoftext|>)."""
        if not texts:
            raise InputError("perplexity needs at least one text")
        totals, counts = self.sequence_nll(texts, batch_size=batch_size)
        return float(math.exp(totals.sum() / counts.sum()))
