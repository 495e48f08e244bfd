"""Tokenizers for the decoder: a byte-level one for models trained here (every UTF-8 byte is a token, plus
<|endoftext|>: nothing to learn, so nothing about the training texts is stored in the tokenizer), and Hugging
Face `tokenizer.json` files for imported GPT-2-family models (byte-level BPE).

A text is modelled as <|endoftext|> text <|endoftext|>: the leading token gives the first real token a
context, the trailing one teaches the model to stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE

from models_core.errors import ArtifactError, InputError

EOS = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters (the ByteLevel alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def byte_level_tokenizer() -> Tokenizer:
    """Byte-level BPE without merges: ids 0-255 are the bytes, 256 is <|endoftext|>. Deterministic."""
    mapping = bytes_to_unicode()
    vocab = {mapping[b]: b for b in range(256)}
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([EOS])
    tokenizer.encode_special_tokens = True  # "<|endoftext|>" typed in a text is bytes, not the control token
    return tokenizer


def load_lm_tokenizer(path: str | Path) -> Tokenizer:
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise ArtifactError(f"tokenizer.json not found at {path}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
        raise ArtifactError(f"cannot read tokenizer {path}: {exc}") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.encode_special_tokens = True
    return tokenizer


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a list of texts, got a single string")
    texts = list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"text #{bad} is {type(texts[bad]).__name__}, not str")
    return texts


def token_ids(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens."""
    return [e.ids for e in tokenizer.encode_batch(check_texts(texts), add_special_tokens=False)]


def sequences(tokenizer: Tokenizer, texts: Sequence[str], eos_id: int, max_length: int) -> list[list[int]]:
    """[eos] + ids + [eos], truncated to `max_length` tokens (the closing eos goes first)."""
    return [([eos_id] + ids + [eos_id])[:max_length] for ids in token_ids(tokenizer, texts)]
