"""What identifies a data subject beyond the subject-id column, taken from their own records (Art. 15, Art. 17).

`subject_identifiers` returns the strings an access request searches every text column for, and an erasure
redacts wherever they are quoted: the subject id itself; every e-mail address, phone number, IBAN, card or
national number found in their texts and attributes (models_core.data.pii, the same detectors as the PII
scan); the values of attribute columns named like a name, e-mail, phone or address; and personal names,
read from their texts as runs of two or three capitalised words (a leading pronoun, article or heading
word dropped: "She", "Skills"). The name rule is a heuristic: it finds "Zebulon Quarterfield" or
"Mary Smith", and also a capitalised phrase such as a company name, which is then searched for too;
the access page lists every identifier it searched, so the officer sees what was matched and why.

A word of a name found that way is an identifier on its own too ("Quarterfield's row", "Dr Quarterfield")
when no other record uses it except where it quotes the whole name: a surname that only this person has.
A common name ("Mary", "Smith") is matched only whole.

`records_traces` wraps them with the records' texts into a models_core.data.redaction.Traces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from governance.datasets.models import DatasetRecord
from models_core.data.pii import find_pii
from models_core.data.quality import tokenize
from models_core.data.redaction import Traces

_NAME = re.compile(r"(?<![\w@.])([A-Z][a-z'’\-]+(?:[ \t]+[A-Z][a-z'’\-]+){1,3})(?![\w@])")
_NOT_NAMES = {
    "a", "an", "the", "she", "he", "her", "his", "they", "their", "we", "our", "i", "my", "it", "its", "this",
    "that", "these", "those", "and", "or", "but", "if", "in", "on", "at", "for", "of", "to", "with", "by",
    "from", "as", "is", "was", "dear", "mr", "mrs", "ms", "dr", "prof", "skills", "skill", "note", "notes",
    "experience", "summary", "references", "reference", "contact", "email", "e-mail", "phone", "tel",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
_IDENTIFYING_COLUMN = re.compile(r"name|e-?mail|phone|tel|mobile|address|contact", re.IGNORECASE)


def person_names(text: str) -> list[str]:
    """Runs of two to four capitalised words, leading and trailing non-name words dropped."""
    found = []
    for match in _NAME.finditer(text or ""):
        words = match.group(1).split()
        while words and words[0].lower() in _NOT_NAMES:
            words.pop(0)
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if len(words) >= 2:
            found.append(" ".join(words))
    return found


def _strings(value) -> Iterable[tuple[str, str]]:
    """(key, string) pairs of an attributes dict, nested values flattened."""
    if isinstance(value, dict):
        for key, item in value.items():
            for sub_key, text in _strings(item):
                yield (str(key) if not sub_key else sub_key), text
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        yield "", str(value)


def subject_identifiers(*, subject_id: str, texts: Iterable[str], attributes: Iterable[dict] = ()) -> list[str]:
    found: set[str] = {subject_id.strip()} if subject_id and subject_id.strip() else set()
    for text in texts:
        found.update(f.value for f in find_pii(text or ""))
        found.update(person_names(text or ""))
    for attrs in attributes:
        for key, value in _strings(attrs or {}):
            found.update(f.value for f in find_pii(value))
            if key and _IDENTIFYING_COLUMN.search(key) and len(value.strip()) >= 3:
                found.add(value.strip())
    return sorted(found, key=lambda s: (-len(s), s))


def distinctive_terms(texts_by_subject: dict[str, list[str]], *, others: Iterable[str] = ()) -> set[str]:
    """Vocabulary terms (models_core.data.quality.tokenize) that one subject alone uses among these texts
    and `others`: a datasheet's or a drift report's term list names the person through them
    ("quarterfieldshire") even where no identifier is quoted whole."""
    users: dict[str, set[str]] = {}
    for subject, texts in texts_by_subject.items():
        for text in texts:
            for term in set(tokenize(text or "")):
                users.setdefault(term, set()).add(subject)
    shared = {t for text in others for t in tokenize(text or "")}
    return {t for t, who in users.items() if len(who) == 1 and t not in shared}


def subject_traces(*, subject_id: str, texts: list[str], attributes: Iterable[dict] = (),
                   identifiers: Iterable[str] | None = None, terms: Iterable[str] = ()) -> Traces:
    ids = list(identifiers) if identifiers is not None else subject_identifiers(
        subject_id=subject_id, texts=texts, attributes=attributes)
    words = {w for i in ids for w in i.split() if w[:1].isupper() and "@" not in i}
    return Traces.build(identifiers=ids, texts=texts, words=words, terms=terms)


def lone_name_words(*, identifiers: Iterable[str], subject_id: str) -> list[str]:
    """Words of the subject's names that no other person's record uses apart from quoting the whole name."""
    found = []
    names = [i for i in identifiers if person_names(i) == [i]]
    for name in names:
        for word in name.split():
            if len(word) < 5 or word.lower() in _NOT_NAMES:
                continue
            pattern = rf"(^|[^a-z]){re.escape(word.lower())}([^a-z]|$)"  # case-insensitive: iregex
            elsewhere = DatasetRecord.objects.filter(text__iregex=pattern).exclude(subject_id=subject_id)
            for other in names:
                elsewhere = elsewhere.exclude(text__icontains=other)
            if not elsewhere.exists():
                found.append(word)
    return found


def records_traces(*, subject_id: str, records: list, terms: Iterable[str] = ()) -> Traces:
    """The traces of one subject from their records (DatasetRecord rows): identifiers, lone name words, texts."""
    texts = [r.text for r in records]
    ids = subject_identifiers(subject_id=subject_id, texts=texts, attributes=[r.attributes for r in records])
    ids = sorted(set(ids) | set(lone_name_words(identifiers=ids, subject_id=subject_id)), key=lambda i: (-len(i), i))
    return subject_traces(subject_id=subject_id, texts=texts, identifiers=ids, terms=terms)
