"""Tokens as explanation features, the masking game shared by every explainer, and batched evaluation.

One masking rule is used everywhere (our Partition/Owen path, exact Shapley, and the `shap` library's
`Text` masker through `ShapTokenizerAdapter`), so their numbers are directly comparable:

    A text is split into *segments*: the substring of each model token plus the whitespace after it
    (shap's `Text.token_segments`). A coalition keeps some segments; every other segment is replaced by
    " " + mask_token (one mask token per masked token, no collapsing), whitespace runs are squeezed and
    the ends stripped. The result is a string, re-tokenized by the model's own `predict_proba`.

Special tokens ([CLS], [SEP]) are not features: they are always kept (shap treats them as invariants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from tokenizers import Tokenizer

from models_core.errors import InputError

PredictProba = Callable[[list[str]], np.ndarray]

_WHITESPACE = re.compile(r"\s+")
# Mask tokens tried in order; the first the vocabulary knows is used.
_MASK_CANDIDATES = ("[MASK]", "<mask>", "[UNK]", "<unk>")


def plain_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of `tokenizer` with padding and truncation off (the original is left untouched)."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    copy.no_truncation()
    return copy


def mask_token_of(tokenizer: Tokenizer) -> str:
    for candidate in _MASK_CANDIDATES:
        if tokenizer.token_to_id(candidate) is not None:
            return candidate
    raise InputError("the tokenizer has no mask or unknown token to mask features with")


@dataclass(frozen=True)
class TokenizedText:
    """A text cut into explanation features (the model's non-special tokens).

    `text` is what is explained: the input, cut at the last token the model sees when the input is
    longer than `max_length` tokens (then `truncated` is True and `original_length` is the input's
    character length).
    """

    text: str
    tokens: tuple[str, ...]                 # vocabulary strings, e.g. "arch", "##ite"
    offsets: tuple[tuple[int, int], ...]    # character spans of each token in `text`
    segments: tuple[str, ...]               # token substring + following whitespace; "".join == text (stripped lead)
    prefix: str                             # leading whitespace before the first token
    truncated: bool
    original_length: int
    # model tokens per feature: None when each feature is one token; a word view (`word_view`) gives the
    # count of each word's tokens, so a masked word becomes as many mask tokens as a masked token-by-token
    # word would, and the word game is the token game with a word's tokens kept or masked together
    widths: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.tokens)


def tokenize_for_explanation(tokenizer: Tokenizer, text: str, max_length: int | None) -> TokenizedText:
    """Split `text` into features. `tokenizer` must be a `plain_tokenizer`. Raises InputError on empty text."""
    if not isinstance(text, str):
        raise InputError(f"expected a text (str), got {type(text).__name__}")
    if not text.strip():
        raise InputError("cannot explain an empty text: it has no tokens to attribute the prediction to")
    enc = tokenizer.encode(text, add_special_tokens=True)
    keep = [i for i, special in enumerate(enc.special_tokens_mask) if not special]
    if not keep:
        raise InputError("the text has no tokens the model's vocabulary can represent")
    n_special = len(enc.ids) - len(keep)
    truncated = False
    if max_length is not None and len(enc.ids) > max_length:
        budget = max_length - n_special
        if budget < 1:
            raise InputError(f"max_length={max_length} leaves no room for text tokens")
        keep = keep[:budget]
        truncated = True
    offsets = [tuple(enc.offsets[i]) for i in keep]
    end = offsets[-1][1]
    explained = text[:end] if truncated else text
    tokens = tuple(enc.tokens[i] for i in keep)
    starts = [o[0] for o in offsets] + [len(explained)]
    segments = tuple(explained[offsets[i][0]:max(offsets[i][1], starts[i + 1])] for i in range(len(keep)))
    return TokenizedText(text=explained, tokens=tokens, offsets=tuple(offsets), segments=segments,
                         prefix=explained[:offsets[0][0]], truncated=truncated, original_length=len(text))


def mask_segments(segments: Sequence[str], keep: Sequence[bool] | np.ndarray, mask_token: str,
                  prefix: str = "", widths: Sequence[int] | None = None) -> str:
    """The masked string of one coalition (shap `Text` masker semantics, `collapse_mask_token=False`).

    `widths[i]`: mask tokens that replace segment i (1 each by default)."""
    parts = [prefix]
    for i, (segment, kept) in enumerate(zip(segments, keep)):
        parts.append(segment if kept else (" " + mask_token) * (1 if widths is None else widths[i]))
    return _WHITESPACE.sub(" ", "".join(parts)).strip()


def masked_texts(tokenized: TokenizedText, masks: np.ndarray, mask_token: str) -> list[str]:
    """Masked strings for a (n, len(tokenized)) boolean matrix of coalitions."""
    return [mask_segments(tokenized.segments, row, mask_token, tokenized.prefix, tokenized.widths) for row in masks]


# ---- whole words -------------------------------------------------------------------------------------

def word_groups(tokenized: TokenizedText) -> list[list[int]]:
    """Token indices of each whole word: a token that starts where the previous one ends, with a letter or
    digit on both sides of the join ("arch" + "##ite" + "##ct"), continues that word; punctuation and
    anything after whitespace starts a new one."""
    groups: list[list[int]] = []
    for i, (start, end) in enumerate(tokenized.offsets):
        if groups:
            prev_start, prev_end = tokenized.offsets[i - 1]
            left, right = tokenized.text[prev_start:prev_end], tokenized.text[start:end]
            if start == prev_end and left[-1:].isalnum() and right[:1].isalnum():
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


def word_view(tokenized: TokenizedText) -> tuple[TokenizedText, list[list[int]]]:
    """The same text with whole words as features (see `word_groups`), and each word's token indices.

    Masking a word masks all its tokens (one mask token each), so scores of the word game are scores of
    the token game: every masked string is one the token-level explainers could also have asked for."""
    groups = word_groups(tokenized)
    offsets = tuple((tokenized.offsets[g[0]][0], tokenized.offsets[g[-1]][1]) for g in groups)
    words = tuple(tokenized.text[s:e] for s, e in offsets)
    segments = tuple("".join(tokenized.segments[i] for i in g) for g in groups)
    view = TokenizedText(text=tokenized.text, tokens=words, offsets=offsets, segments=segments,
                         prefix=tokenized.prefix, truncated=tokenized.truncated,
                         original_length=tokenized.original_length,
                         widths=tuple(sum(1 if tokenized.widths is None else tokenized.widths[i] for i in g)
                                      for g in groups))
    return view, groups


def spread_to_tokens(word_values: np.ndarray, groups: Sequence[Sequence[int]], n_tokens: int) -> np.ndarray:
    """A word's value shared equally by its tokens (the token values of a word add up to its value)."""
    out = np.zeros(n_tokens)
    for value, members in zip(word_values, groups):
        out[list(members)] = float(value) / len(members)
    return out


def sum_to_words(token_values: Sequence[float], groups: Sequence[Sequence[int]]) -> np.ndarray:
    values = np.asarray(token_values, dtype=float)
    return np.array([float(values[list(members)].sum()) for members in groups])


class CachedPredictor:
    """Wraps `predict_proba` so that identical strings are evaluated once.

    A call evaluates the strings not seen before in one `predict_proba` call, ordered by length so the
    core's batches carry little padding. `evaluations` counts the strings the model actually scored.
    """

    def __init__(self, predict_proba: PredictProba, batch_size: int | None = None) -> None:
        self._predict = predict_proba
        self._batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}
        self.evaluations = 0
        self.calls = 0

    def _call_model(self, texts: list[str]) -> np.ndarray:
        if self._batch_size is None:
            return np.asarray(self._predict(texts), dtype=np.float64)
        return np.asarray(self._predict(texts, batch_size=self._batch_size), dtype=np.float64)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        todo = sorted({t for t in texts if t not in self._cache}, key=len)
        if todo:
            probs = self._call_model(todo)
            if probs.ndim != 2 or probs.shape[0] != len(todo):
                raise InputError(f"predict_proba returned shape {probs.shape} for {len(todo)} texts")
            self._cache.update(zip(todo, probs))
            self.evaluations += len(todo)
            self.calls += 1
        if not texts:
            return np.zeros((0, 0))
        return np.stack([self._cache[t] for t in texts])


class ShapTokenizerAdapter:
    """Makes a `tokenizers.Tokenizer` look like the slice of a Hugging Face tokenizer that shap's
    `maskers.Text` uses: `__call__(s, return_offsets_mapping=True) -> {"input_ids", "offset_mapping"}`,
    `mask_token(_id)`, `sep_token(_id)`. Special tokens get offset (0, 0), as in `transformers`.
    """

    def __init__(self, tokenizer: Tokenizer, mask_token: str | None = None) -> None:
        self.plain = plain_tokenizer(tokenizer)
        self.mask_token = mask_token or mask_token_of(self.plain)
        self.mask_token_id = self.plain.token_to_id(self.mask_token)
        sep = next((t for t in ("[SEP]", "</s>") if self.plain.token_to_id(t) is not None), None)
        self.sep_token = sep
        self.sep_token_id = None if sep is None else self.plain.token_to_id(sep)

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict:
        enc = self.plain.encode(s, add_special_tokens=True)
        out = {"input_ids": list(enc.ids)}
        if return_offsets_mapping:
            out["offset_mapping"] = [(0, 0) if special else tuple(o)
                                     for o, special in zip(enc.offsets, enc.special_tokens_mask)]
        return out
