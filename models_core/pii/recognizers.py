"""Presidio recognizers, one per kind of personal data (the kinds' entity names are the kinds upper-cased).

The pattern kinds (email, phone, iban, card, ipv4, us_ssn, uk_nino) are Presidio `PatternRecognizer`s over
the regular expressions of `patterns.py`, each with its validity check as `validate_result` (Luhn, mod-97,
E.164 lengths); the IBAN, whose spaces may fall anywhere, is a small `EntityRecognizer` over the same walk.

People and places need no NER model:

- `PersonRecognizer` reads runs of capitalised words (``Ana``, ``O'Neil``, ``McKay``, ``Smith-Jones``) and
  reports a name when (1) a context word or title precedes the run (``Applicant``, ``Mr``, ``Dr.``,
  ``borrower``, ``signed by``, ``spoke with``, ...): the run's first one to three name-like words, listed
  or not; (2) a listed first name is followed by a listed last name; (3) a census first name that is
  rarely a last name (rank > 5,000) is followed by a capitalised word in no list (an unlisted surname; not
  for first names only Faker lists, which hold more ordinary words: "General Electric");
  (4) an unlisted capitalised word that does not start a sentence is followed by a common census last
  name (rank <= COMMON_LAST_RANK); (5) the last two words of a run are followed by a verb said of people
  (``... Quelling applied``, ``signed``, ``called``). A word found in a name earlier in the same text is a
  name again when it recurs alone (``... Quelling signed``). Capitalised ordinary words (months, weekdays,
  banks, card products, stop words) never start or end a name found without context, and a bank named
  after people (``Morgan Stanley``) is not one.
- `LocationRecognizer` looks up runs of capitalised words in the gazetteer (cities of 15,000+, US states,
  countries) and reports a place after a locative context (``in``, ``from``, ``to``, ``near``,
  ``based in``, ``resident of``, ...), or without one for a country, a US state or a multi-word city of
  500,000+. A bank named after a place (``Santander``) is not a place.
"""

from __future__ import annotations

import re
from typing import List, Optional

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from models_core.pii import patterns
from models_core.pii.lexicon import COMMON_LAST_RANK, lexicon

SCORE = 0.9

# A capitalised word: Ana, O'Neil, D'Arcy, McKay, MacLeod, Smith-Jones; a trailing possessive 's is not part
# of it.
_WORD = r"(?:(?:Mc|Mac|O'|D')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?|[A-Z]{2,}(?:-[A-Z]{2,})?)"
_RUN = re.compile(rf"(?<![\w@.'-]){_WORD}(?:[ ]{_WORD})*(?![\w@-])")
_ONE = re.compile(_WORD)

_PERSON_CUES = (
    r"applicant|co-?applicant|borrower|co-?borrower|client|customer|guarantor|co-?signer|tenant|landlord|"
    r"spouse|wife|husband|partner|witness|referee|mr|mrs|ms|mx|miss|dr|prof|sir|madam|named|name|"
    r"signed\s+by|spoke\s+(?:with|to)|met\s+with|referred\s+by|reference\s+from|called|"
    r"contact(?:ed)?|on\s+behalf\s+of|account\s+holder|holder|beneficiary|dependant|dependent|employee|"
    r"assessor|officer|adviser|advisor|agent"
)
# Ends the text before a run: the cue, then optional "." (Dr.), ":" or ",", then spaces.
_PERSON_CUE_END = re.compile(rf"\b(?:{_PERSON_CUES})\.?\s*[:,]?\s+$", re.IGNORECASE)
_PLACE_CUE_END = re.compile(
    r"\b(?:in|from|to|near|at|around|outside|lives\s+in|living\s+in|based\s+in|born\s+in|resident\s+of|"
    r"moved\s+to|moving\s+to|relocat(?:ed|ing)\s+to|located\s+in|city\s+of|town\s+of|visiting|via)\s+$",
    re.IGNORECASE)
# A verb after a run of two capitalised words that makes them a person's name ("Zorvath Quelling applied").
_PERSON_CUE_AFTER = re.compile(
    r"\s+(?:applied|applies|requests|requested|signed|called|phoned|e-?mailed|visited|stated|said|says|"
    r"declared|asked|wants|wanted|is\s+applying|has\s+applied|was\s+born|lives|lived|works|worked)\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"(]\s*)$")


def _words(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(start + m.start(), start + m.end(), m.group()) for m in _ONE.finditer(text[start:end])]


class PersonRecognizer(EntityRecognizer):
    """People's names in free text: census name lists plus context words (module doc)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="PersonRecognizer", supported_language="en")

    def load(self) -> None:
        lexicon()

    def analyze(self, text: str, entities: List[str],
                nlp_artifacts: Optional[NlpArtifacts] = None) -> List[RecognizerResult]:
        return [RecognizerResult("PERSON", s, e, SCORE) for s, e in person_spans(text)]


def _name_like(word: str) -> bool:
    """Not an ordinary capitalised word; a word in capitals (GUARANTOR: MARIA KOWALSKI) only if it is a
    census name (acronyms such as HSBC, IBAN or UK are not)."""
    lex = lexicon()
    lower = word.lower()
    if word.isupper():
        return lower not in lex.not_names and (lower in lex.first or lower in lex.last)
    return lower not in lex.not_names


def person_spans(text: str) -> list[tuple[int, int]]:
    lex = lexicon()
    found: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        words = _words(text, run.start(), run.end())
        i = 0
        while i < len(words):
            if _PERSON_CUE_END.search(text[max(0, words[i][0] - 40):words[i][0]]):
                # A context word: the first name-like words after it (at most three) are a name, listed or not.
                taken = []
                for j, w in enumerate(words[i:i + 3], start=i):
                    # "Spoke with Summer Gadison": an ordinary word that is a first name, before a name.
                    if not (_name_like(w[2]) or (w[2].lower() in lex.first and j + 1 < len(words)
                                                 and _name_like(words[j + 1][2]))):
                        break
                    taken.append(w)
                if taken:
                    found.append((taken[0][0], taken[-1][1]))
                    i += len(taken)
                    continue
            if i + 1 >= len(words):
                break
            (s1, e1, w1), (s2, e2, w2) = words[i], words[i + 1]
            a, b = w1.lower(), w2.lower()
            b_last = lex.last.get(b, 10**9) <= COMMON_LAST_RANK  # a common last name
            a_first = a in lex.first
            starts_sentence = bool(_SENTENCE_START.search(text[max(0, s1 - 3):s1]))
            if not (_name_like(w1) and _name_like(w2)):
                i += 1
                continue
            a_rank, b_rank = lex.last.get(a, 10**9), lex.last.get(b, 10**9)
            pair = tuple(x.lower() for x in (w1, w2))
            if pair in lex.organisations:
                i += 2
                continue
            followed = bool(_PERSON_CUE_AFTER.match(text, e2))
            if (a_first and b_rank < 10**9) or \
                    (a in lex.census_first and a_rank > 5000 and b not in lex.first and b_rank == 10**9) or \
                    (not a_first and a_rank == 10**9 and b_last and not starts_sentence) or \
                    (followed and i + 2 == len(words)):
                end = e2
                # A middle name: "Mary Ann Smith".
                if i + 2 < len(words) and _name_like(words[i + 2][2]) and \
                        lex.last.get(words[i + 2][2].lower(), 10**9) <= COMMON_LAST_RANK and b in lex.first:
                    end = words[i + 2][1]
                    i += 1
                found.append((s1, end))
                i += 2
                continue
            i += 1
    if found:
        # Parts of a name found in this text are names again where they recur alone.
        known = {part for s, e in found for part in text[s:e].split() if len(part) >= 3 and _name_like(part)}
        for m in _ONE.finditer(text):
            if m.group() in known and not any(s <= m.start() < e for s, e in found):
                # "... lives in Charlotte": a place after a locative context stays a place.
                if (m.group().lower(),) in lex.places and _PLACE_CUE_END.search(text[max(0, m.start() - 20):m.start()]):
                    continue
                found.append(m.span())
    return sorted(set(found))


class LocationRecognizer(EntityRecognizer):
    """Places in free text: a gazetteer plus locative context (module doc)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["LOCATION"], name="LocationRecognizer", supported_language="en")

    def load(self) -> None:
        lexicon()

    def analyze(self, text: str, entities: List[str],
                nlp_artifacts: Optional[NlpArtifacts] = None) -> List[RecognizerResult]:
        return [RecognizerResult("LOCATION", s, e, SCORE) for s, e in location_spans(text)]


def location_spans(text: str) -> list[tuple[int, int]]:
    lex = lexicon()
    found: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        words = _words(text, run.start(), run.end())
        i = 0
        while i < len(words):
            match = None
            for n in range(min(lex.max_place_tokens, len(words) - i), 0, -1):
                key = tuple(w[2].lower().replace("-", " ") for w in words[i:i + n])
                key = tuple(part for k in key for part in k.split())
                kind = lex.places.get(key)
                if kind is not None and key not in lex.organisations:
                    match = (n, kind)
                    break
            if match is None:
                i += 1
                continue
            n, kind = match
            s, e = words[i][0], words[i + n - 1][1]
            # "Santander" after "at" in "account at Santander Bank": an organisation, not a place.
            following = text[e:e + 6].lower()
            if following.startswith((" bank", " plc", " ltd", " inc")):
                i += n
                continue
            cued = bool(_PLACE_CUE_END.search(text[max(0, s - 20):s]))
            if cued or kind in ("country", "state") or (kind == "big_city" and n > 1):
                found.append((s, e))
            i += n
    return found


class IbanRecognizer(EntityRecognizer):
    """IBANs: the registered length per country with spaces anywhere, mod-97 checked."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["IBAN"], name="IbanRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: List[str],
                nlp_artifacts: Optional[NlpArtifacts] = None) -> List[RecognizerResult]:
        return [RecognizerResult("IBAN", s, e, 1.0) for s, e in patterns.iban_candidates(text)
                if patterns.iban_valid(text[s:e])]


class CheckedPatternRecognizer(PatternRecognizer):
    """A PatternRecognizer whose matches must pass `check` (case-sensitive patterns)."""

    def __init__(self, entity: str, regexes: list[str], check=None) -> None:
        super().__init__(supported_entity=entity, name=f"{entity.title()}Recognizer", supported_language="en",
                         patterns=[Pattern(f"{entity.lower()}_{i}", r, 1.0) for i, r in enumerate(regexes)],
                         global_regex_flags=re.DOTALL)
        self._check = check

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        return None if self._check is None else bool(self._check(pattern_text))

    def invalidate_result(self, pattern_text: str) -> Optional[bool]:
        return None if self._check is None else not self._check(pattern_text)


def all_recognizers() -> list[EntityRecognizer]:
    """Every recognizer of the scan, pattern kinds first."""
    return [
        IbanRecognizer(),
        CheckedPatternRecognizer("CARD", [patterns.CARD], patterns.card_ok),
        CheckedPatternRecognizer("EMAIL", [patterns.EMAIL]),
        CheckedPatternRecognizer("US_SSN", [patterns.SSN]),
        CheckedPatternRecognizer("UK_NINO", [patterns.NINO]),
        CheckedPatternRecognizer("IPV4", [patterns.IPV4]),
        CheckedPatternRecognizer("PHONE", [patterns.PHONE_INTL, patterns.PHONE_TRUNK, patterns.PHONE_NANP],
                                 patterns.phone_ok),
        PersonRecognizer(),
        LocationRecognizer(),
    ]
