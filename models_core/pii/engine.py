"""The Presidio AnalyzerEngine of the scan, and `find_pii`: the findings in one text.

The engine runs with Presidio's `NoOpNlpEngine` (no spaCy model is loaded or downloaded: the recognizers of
`recognizers.py` do their own tokenisation and read their own context) and a context enhancer that leaves
scores as the recognizers set them. Overlaps between kinds are resolved by priority, in the order of
KINDS: a span claimed by an earlier kind is never reported again as a later one (an IBAN's digits are no
phone number, an e-mail's local part no name, a person called Florence no place).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

from models_core.errors import InputError

KINDS = ("iban", "card", "email", "us_ssn", "uk_nino", "ipv4", "phone", "person", "location")
ENTITY_OF = {kind: kind.upper() for kind in KINDS}
KIND_OF = {entity: kind for kind, entity in ENTITY_OF.items()}
# Findings are kept per distinct text: reports show the same texts again and again (a cache by the text's
# SHA-256 holding offsets only, _SpanCache).
CACHE_TEXTS = 20_000


@dataclass(frozen=True)
class Finding:
    """One piece of personal data in a text: `value` is the raw text at [start, end)."""

    kind: str
    start: int
    end: int
    value: str


@functools.cache
def analyzer():
    """The AnalyzerEngine (built once per process; importing Presidio takes a few seconds)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from models_core.pii.recognizers import all_recognizers

    class KeepScores(ContextAwareEnhancer):
        """Context is read by the recognizers themselves; scores stay as they set them."""

        def __init__(self) -> None:
            super().__init__(context_similarity_factor=0, min_score_with_context_similarity=0,
                             context_prefix_count=0, context_suffix_count=0)

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
            return raw_results

    nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp_engine.load()
    registry = RecognizerRegistry(recognizers=all_recognizers(), supported_languages=["en"])
    return AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"],
                          context_aware_enhancer=KeepScores())


def check_texts(texts: Sequence) -> list:
    if isinstance(texts, (str, bytes)):
        raise InputError("texts must be a sequence of strings, not one string")
    return list(texts)


class _SpanCache:
    """Findings' (kind, start, end) per text, keyed by the text's SHA-256: neither a text nor a found value
    is kept in memory (an erased person's text must not live on in a cache), only digests and offsets."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[bytes, tuple[tuple[str, int, int], ...]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes):
        with self.lock:
            spans = self.entries.get(key)
            if spans is not None:
                self.entries.move_to_end(key)
            return spans

    def put(self, key: bytes, spans) -> None:
        with self.lock:
            self.entries[key] = spans
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def cache_clear(self) -> None:
        with self.lock:
            self.entries.clear()


_cache = _SpanCache(CACHE_TEXTS)


def _spans(text: str) -> tuple[tuple[str, int, int], ...]:
    results = analyzer().analyze(text=text, language="en", score_threshold=0.5)
    candidates = sorted((KINDS.index(KIND_OF[r.entity_type]), r.start, -(r.end - r.start), r.end)
                        for r in results if r.entity_type in KIND_OF)
    taken: list[tuple[int, int]] = []
    for priority, start, _, end in candidates:
        if not any(start < e and s < end for _, s, e in taken):
            taken.append((KINDS[priority], start, end))
    return tuple(sorted(taken, key=lambda t: t[1]))


def find_pii(text: str) -> list[Finding]:
    """All findings in one text, non-overlapping, sorted by position ([] for anything but a string)."""
    if not isinstance(text, str) or not text.strip():
        return []
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    spans = _cache.get(key)
    if spans is None:
        spans = _spans(text)
        _cache.put(key, spans)
    return [Finding(kind, start, end, text[start:end]) for kind, start, end in spans]
