"""Tokenizers: load a Hugging Face `tokenizer.json`, train a WordPiece vocabulary, pad batches.

Truncation is configured on the `tokenizers.Tokenizer`; padding is done here, per batch, so that
length-bucketed batches carry no more padding than their longest member needs.
"""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Sequence

import torch
from tokenizers import Encoding, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

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


def _word_counts(texts: Sequence[str], normalizer: normalizers.Normalizer,
                 pre_tokenizer: pre_tokenizers.PreTokenizer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] = counts.get(word, 0) + 1
    return counts


def _wordpiece_vocab(word_counts: dict[str, int], vocab_size: int, min_frequency: int) -> list[str]:
    """BPE-style WordPiece vocabulary learning with fully deterministic tie-breaking.

    Start from the characters (word-initial `c` and continuation `##c` forms); repeatedly merge the
    adjacent symbol pair with the highest corpus count (ties: the lexicographically smallest pair)
    until the vocabulary holds `vocab_size` entries or no pair occurs `min_frequency` times.
    (The Rust trainer of `tokenizers` breaks ties by hash-map order, so its vocabulary changes from
    run to run; artifact digests must not.)
    """
    words = sorted(word_counts)
    freqs = [word_counts[w] for w in words]
    symbols = [[w[0]] + ["##" + c for c in w[1:]] for w in words]
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for token in sorted({s for syms in symbols for s in syms}):
        if token not in seen:
            vocab.append(token)
            seen.add(token)
    pair_counts: dict[tuple[str, str], int] = {}
    where: dict[tuple[str, str], set[int]] = {}
    for index, syms in enumerate(symbols):
        for pair in zip(syms, syms[1:]):
            pair_counts[pair] = pair_counts.get(pair, 0) + freqs[index]
            where.setdefault(pair, set()).add(index)
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        negative, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative:
            continue  # stale heap entry; the current count was pushed when it changed
        if -negative < min_frequency:
            break
        first, second = pair
        merged = first + second[2:]
        if merged not in seen:
            vocab.append(merged)
            seen.add(merged)
        touched: set[tuple[str, str]] = set()
        for index in sorted(where.pop(pair, ())):
            syms, freq = symbols[index], freqs[index]
            for old in zip(syms, syms[1:]):
                pair_counts[old] -= freq
                touched.add(old)
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == first and syms[i + 1] == second:
                    out.append(merged)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            symbols[index] = out
            for new in zip(out, out[1:]):
                pair_counts[new] = pair_counts.get(new, 0) + freq
                where.setdefault(new, set()).add(index)
                touched.add(new)
        for changed in touched:
            count = pair_counts.get(changed, 0)
            if count > 0:
                heapq.heappush(heap, (-count, changed))
            else:
                pair_counts.pop(changed, None)
                where.pop(changed, None)
    return vocab


def train_wordpiece(texts: Sequence[str], vocab_size: int = 8000, seed: int = 0,
                    max_length: int = 128, min_frequency: int = 2) -> Tokenizer:
    """Train a lower-casing BERT-style WordPiece tokenizer on `texts`.

    The result depends only on the multiset of texts: learning is deterministic (see
    `_wordpiece_vocab`), so the same texts give the same tokenizer.json byte for byte. `seed` is
    accepted for interface symmetry with the rest of training and does not change the result.
    """
    texts = check_texts(texts)
    if not texts:
        raise InputError("cannot train a tokenizer on no texts")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise InputError(f"vocab_size must exceed {len(SPECIAL_TOKENS)}")
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vocab = _wordpiece_vocab(_word_counts(texts, normalizer, pre_tokenizer), vocab_size, min_frequency)
    tokenizer = Tokenizer(WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                    continuing_subword_prefix="##"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return configure_tokenizer(tokenizer, max_length)
