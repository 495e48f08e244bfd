"""Tokenizers: load a Hugging Face `tokenizer.json`, train a WordPiece vocabulary, pad batches.

Truncation is configured on the `tokenizers.Tokenizer`; padding is done here, per batch, so that
length-bucketed batches carry no more padding than their longest member needs.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Sequence

import torch
from tokenizers import Encoding, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer

from models_core.errors import ArtifactError, InputError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def configure_tokenizer(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    """Truncate to `max_length` tokens (special tokens included) and switch tokenizer-side padding off."""
    if max_length < 2:
        raise InputError("max_length must leave room for [CLS] and [SEP]")
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def load_tokenizer(path: str | Path, max_length: int = 128) -> Tokenizer:
    """Load `tokenizer.json` (a file, or a directory containing one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ArtifactError(f"tokenizer.json not found at {path}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise ArtifactError(f"cannot read tokenizer {path}: {exc}") from exc
    return configure_tokenizer(tokenizer, max_length)


def pad_token_id(tokenizer: Tokenizer) -> int:
    token_id = tokenizer.token_to_id("[PAD]")
    return 0 if token_id is None else token_id


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a list of texts, got a single string")
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"text #{bad} is {type(texts[bad]).__name__}, not str")
    return texts


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str]) -> list[Encoding]:
    """Tokenize without padding (truncation as configured on the tokenizer)."""
    return tokenizer.encode_batch(check_texts(texts), add_special_tokens=True)


def pad_encodings(encodings: Sequence[Encoding], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest encoding: input_ids, token_type_ids, attention_mask, each (B, T) int64."""
    if not encodings:
        raise InputError("cannot pad an empty batch")
    seq_len = max(len(e.ids) for e in encodings)
    input_ids = torch.full((len(encodings), seq_len), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((len(encodings), seq_len), dtype=torch.long)
    attention_mask = torch.zeros((len(encodings), seq_len), dtype=torch.long)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        input_ids[row, :n] = torch.tensor(enc.ids, dtype=torch.long)
        token_type_ids[row, :n] = torch.tensor(enc.type_ids, dtype=torch.long)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}


def train_wordpiece(texts: Sequence[str], vocab_size: int = 8000, seed: int = 0,
                    max_length: int = 128, min_frequency: int = 2) -> Tokenizer:
    """Train a lower-casing BERT-style WordPiece tokenizer on `texts`.

    The trainer is deterministic for a given input order; `seed` fixes that order (texts are sorted,
    then shuffled with `random.Random(seed)`), so the same texts and seed give the same vocabulary
    whatever order the caller passes them in.
    """
    texts = check_texts(texts)
    if not texts:
        raise InputError("cannot train a tokenizer on no texts")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise InputError(f"vocab_size must exceed {len(SPECIAL_TOKENS)}")
    ordered = sorted(texts)
    random.Random(seed).shuffle(ordered)
    tokenizer = Tokenizer(WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    trainer = WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                               special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(ordered, trainer=trainer, length=len(ordered))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return configure_tokenizer(tokenizer, max_length)
