"""Find and remove one person's traces in stored text and JSON: the erasure's and the retention purge's matcher.

Plain Python, no Django: the apps that own a store (datasets, audits, registry, approvals, jobs) call it on
their rows. A `Traces` holds what identifies the erased records:

* ``identifiers``: distinctive strings (the subject id, names, e-mail addresses, phone numbers), matched
  case-insensitively anywhere in a string; each occurrence is replaced, the rest of the string kept.
* ``texts``: the erased records' full texts. A string that is a long enough piece of one of them (a
  datasheet's 80-character preview is a prefix, possibly PII-redacted; an error message may quote a row) or
  that contains one whole is the record's text: the whole string is replaced.
* ``words``: lower-case words of the subject's names, matched as whole strings (vocabulary terms of a
  datasheet or a drift report: "quarterfield").
* ``terms``: vocabulary terms only the erased records use; the stores that keep term lists (datasheets,
  drift reports) drop them there (`drop_terms`), and nowhere else (a column may share a term's spelling).

``redact_json(value, traces, replacement)`` walks dicts (keys too) and lists and returns the cleaned copy
and the number of strings it changed; ``redact_string`` does one string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from models_core.data.pii import redact_text

MIN_FRAGMENT = 24     # a shorter string is not taken for a piece of a record's text (too many false hits)
MIN_IDENTIFIER = 3    # shorter identifiers would match inside ordinary words
MIN_WORD = 4


@dataclass(frozen=True)
class Traces:
    identifiers: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()
    terms: frozenset[str] = frozenset()
    _pattern: re.Pattern | None = field(default=None, compare=False, repr=False)
    _variants: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def build(cls, *, identifiers: Iterable[str] = (), texts: Iterable[str] = (),
              words: Iterable[str] = (), terms: Iterable[str] = ()) -> Traces:
        ids = sorted({i.strip() for i in identifiers if i and len(i.strip()) >= MIN_IDENTIFIER},
                     key=lambda s: (-len(s), s))
        full = tuple(sorted({t for t in texts if t and t.strip()}))
        # A stored preview may have been PII-redacted before it was cut (models_core.data.quality).
        variants = tuple(sorted({v for t in full for v in (t, redact_text(t), " ".join(t.split()))}))
        # Whole words only: the subject "S000001" is not inside "S0000012".
        pattern = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(i) for i in ids) + r")(?!\w)", re.IGNORECASE)
                   if ids else None)
        return cls(identifiers=tuple(ids), texts=full,
                   words=frozenset(w.lower() for w in words if len(w) >= MIN_WORD),
                   terms=frozenset(t.lower() for t in terms), _pattern=pattern, _variants=variants)

    def __bool__(self) -> bool:
        return bool(self.identifiers or self.texts or self.words or self.terms)

    def may_occur_in(self, blob: str) -> bool:
        """A cheap first look at all the strings of a row at once (`flatten`): False means nothing to do."""
        if self._pattern is not None and self._pattern.search(blob):
            return True
        lowered = blob.lower()
        if any(w in lowered for w in self.words):
            return True
        # Every piece of a text long enough to count holds one of its chunks whole.
        return any(chunk in blob for t in self._variants for chunk in _chunks(t))

    def mentions(self, s: str) -> list[str]:
        """The identifiers found in `s` (each once, as written in `identifiers`)."""
        if self._pattern is None:
            return []
        found = {m.group(0).lower() for m in self._pattern.finditer(s)}
        return [i for i in self.identifiers if i.lower() in found]


def _chunks(text: str) -> list[str]:
    """Stretches of MIN_FRAGMENT // 2 characters, one every MIN_FRAGMENT // 2: any piece of the text of
    MIN_FRAGMENT characters or more contains one whole."""
    half = MIN_FRAGMENT // 2
    return [text[i:i + half] for i in range(0, max(len(text) - half + 1, 1), half) if len(text[i:i + half]) == half]


def redact_string(s: str, traces: Traces, replacement: str) -> tuple[str, int]:
    """(cleaned string, 1 if it changed else 0)."""
    if not isinstance(s, str) or not s or not traces:
        return s, 0
    stripped = s.strip()
    if stripped.lower() in traces.words or (
            len(stripped) >= MIN_FRAGMENT and any(stripped in t for t in traces._variants)):
        return replacement, 1  # the string is (a piece of) an erased record's text
    cleaned = s
    for text in traces._variants:  # a record's whole text quoted inside a longer string (an error message)
        if len(text) >= MIN_FRAGMENT and text in cleaned:
            cleaned = cleaned.replace(text, replacement)
    if traces._pattern is not None:
        cleaned = traces._pattern.sub(replacement, cleaned)
    return cleaned, int(cleaned != s)


def redact_json(value, traces: Traces, replacement: str):
    """(cleaned copy of a JSON value, number of strings changed), dict keys included."""
    if isinstance(value, str):
        return redact_string(value, traces, replacement)
    if isinstance(value, list):
        out, n = [], 0
        for item in value:
            clean, k = redact_json(item, traces, replacement)
            out.append(clean)
            n += k
        return out, n
    if isinstance(value, dict):
        out, n = {}, 0
        for key, item in value.items():
            clean_key, k = redact_string(key, traces, replacement) if isinstance(key, str) else (key, 0)
            while k and clean_key in out:  # two redacted keys must not overwrite each other
                clean_key += "*"
            clean, m = redact_json(item, traces, replacement)
            out[clean_key] = clean
            n += k + m
        return out, n
    return value, 0


def drop_terms(terms: list, traces: Traces) -> tuple[list, int]:
    """A term list without the erased records' own terms: entries are strings or {"term": ...} dicts."""
    kept = [t for t in terms if (t.get("term") if isinstance(t, dict) else t) not in traces.terms]
    return kept, len(terms) - len(kept)


def flatten(value) -> str:
    """Every string of a JSON value (dict keys too), one per line: what `Traces.may_occur_in` reads."""
    out: list[str] = []

    def walk(v) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for k, item in v.items():
                out.append(str(k))
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return "\n".join(out)


def snippet(text: str, identifier: str, *, context: int = 30) -> str:
    """The words around the first occurrence of `identifier` in `text`, other letters and digits masked:
    what an access answer shows of someone else's record (Art. 15(4)), the identifier marked «…»."""
    at = text.lower().find(identifier.lower())
    if at < 0:
        return ""
    start, end = max(0, at - context), min(len(text), at + len(identifier) + context)
    mask = lambda part: re.sub(r"[^\W_]", "•", part)  # noqa: E731 - a one-line local rule
    return (("…" if start else "") + mask(text[start:at]) + "«" + text[at:at + len(identifier)] + "»"
            + mask(text[at + len(identifier):end]) + ("…" if end < len(text) else ""))
