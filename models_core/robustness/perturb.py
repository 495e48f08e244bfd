"""Label-preserving perturbations of a text, after CheckList's invariance tests (Ribeiro et al., ACL 2020).

Each perturbation takes the text, a seeded `random.Random` and its settings, and returns the perturbed text
(the text itself when nothing applies: such a text is not counted for that suite). Name swaps return one
variant per other origin (`name_variants`). Deterministic for a given generator state.

- typos: ``count`` words (letters only, at least 3 characters) each get one typo: two adjacent characters
  swapped, a character dropped, or a character replaced by a neighbour on a QWERTY keyboard.
- casing: the whole text lower-cased, upper-cased, or its first letter's case flipped.
- punctuation: the trailing sentence mark removed (or a full stop added where there is none), a space put
  before a comma or full stop, a single space doubled, or the commas removed; one applicable edit at random.
- contractions: every contracted form expanded ("don't" → "do not"); failing that, every expandable form
  contracted ("it is" → "it's").
- irrelevant: one of the configured irrelevant sentences appended.
- numbers: every number changed to another within ±``max_relative_change`` of it (integers stay integers;
  at least ±1), after CheckList's ``change_number``; zeros are left alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
CONTRACTIONS: tuple[tuple[str, str], ...] = (
    ("are not", "aren't"), ("cannot", "can't"), ("could not", "couldn't"), ("did not", "didn't"),
    ("does not", "doesn't"), ("do not", "don't"), ("had not", "hadn't"), ("has not", "hasn't"),
    ("have not", "haven't"), ("he is", "he's"), ("I am", "I'm"), ("I have", "I've"), ("I will", "I'll"),
    ("is not", "isn't"), ("it is", "it's"), ("she is", "she's"), ("should not", "shouldn't"),
    ("that is", "that's"), ("there is", "there's"), ("they are", "they're"), ("they have", "they've"),
    ("was not", "wasn't"), ("we are", "we're"), ("we have", "we've"), ("were not", "weren't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("you are", "you're"),
)
DEFAULT_IRRELEVANT = (
    "It rained in the afternoon.",
    "This note was typed on a Tuesday.",
    "The office is on the third floor.",
    "The form was submitted online.",
    "Coffee was served in the lobby.",
)
_WORD = re.compile(r"[A-Za-z]{3,}")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w])")


def _neighbours() -> dict[str, str]:
    out: dict[str, str] = {}
    for r, row in enumerate(KEYBOARD_ROWS):
        for c, ch in enumerate(row):
            near = [row[c + d] for d in (-1, 1) if 0 <= c + d < len(row)]
            near += [KEYBOARD_ROWS[r + d][c] for d in (-1, 1)
                     if 0 <= r + d < len(KEYBOARD_ROWS) and c < len(KEYBOARD_ROWS[r + d])]
            out[ch] = "".join(near)
    return out


KEYBOARD = _neighbours()


def case_like(template: str, word: str) -> str:
    """`word` with the case pattern of `template` (all upper, capitalised, or as given)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _typo(word: str, rng: random.Random, kinds: Sequence[str]) -> str:
    kind = rng.choice(list(kinds))
    if kind == "swap":
        i = rng.randrange(len(word) - 1)
        if word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        kind = "drop"
    if kind == "drop":
        i = rng.randrange(len(word))
        return word[:i] + word[i + 1:]
    i = rng.randrange(len(word))
    near = KEYBOARD.get(word[i].lower(), "")
    if not near:
        return word[:i] + word[i + 1:]
    return word[:i] + case_like(word[i], rng.choice(near)) + word[i + 1:]


def typos(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    words = list(_WORD.finditer(text))
    if not words:
        return text
    chosen = sorted(rng.sample(words, min(int(settings.get("count", 1)), len(words))), key=lambda m: m.start())
    kinds = settings.get("kinds") or ("swap", "drop", "keyboard")
    out, last = [], 0
    for m in chosen:
        out += [text[last:m.start()], _typo(m.group(0), rng, kinds)]
        last = m.end()
    return "".join(out) + text[last:]


def casing(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    options = [text.lower(), text.upper()]
    first = next((i for i, ch in enumerate(text) if ch.isalpha()), None)
    if first is not None:
        options.append(text[:first] + text[first].swapcase() + text[first + 1:])
    options = [o for o in options if o != text]
    return rng.choice(options) if options else text


def punctuation(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    stripped = text.rstrip()
    options = []
    if stripped and stripped[-1] in ".!?":
        options.append(stripped.rstrip(".!?") + text[len(stripped):])
    elif stripped:
        options.append(stripped + "." + text[len(stripped):])
    marks = [m.start() for m in re.finditer(r"(?<=\w)[,.](?=\s)", text)]
    if marks:
        i = rng.choice(marks)
        options.append(text[:i] + " " + text[i:])
    spaces = [m.start() for m in re.finditer(r"(?<=\S) (?=\S)", text)]
    if spaces:
        i = rng.choice(spaces)
        options.append(text[:i] + "  " + text[i + 1:])
    if "," in text:
        options.append(text.replace(",", ""))
    options = [o for o in options if o != text]
    return rng.choice(options) if options else text


def _phrase_pattern(phrase: str, tail: str = "") -> re.Pattern:
    return re.compile(r"(?<![\w'])" + r"\s+".join(re.escape(p) for p in phrase.split()) + r"(?![\w'])" + tail,
                      re.IGNORECASE)


_EXPAND = [(_phrase_pattern(short), long) for long, short in CONTRACTIONS]
# Not before a clause's end: "it is what it is." must not become "... what it's."
_CONTRACT = [(_phrase_pattern(long, r"(?!\s*(?:[.,;:!?]|$))"), short) for long, short in CONTRACTIONS]


def contractions(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    for table in (_EXPAND, _CONTRACT):
        out = text
        for pattern, replacement in table:
            out = pattern.sub(lambda m, r=replacement: case_like(m.group(0), r) if r != "I'm" and
                              not r.startswith("I ") else r, out)
        if out != text:
            return out
    return text


def irrelevant(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    sentences = list(settings.get("sentences") or DEFAULT_IRRELEVANT)
    if not sentences:
        return text
    joiner = "" if not text or text.endswith((" ", "\n")) else " "
    return text + joiner + rng.choice(sentences)


def numbers(text: str, rng: random.Random, settings: Mapping[str, Any]) -> str:
    spread = float(settings.get("max_relative_change", 0.2))

    def change(m: re.Match) -> str:
        raw = m.group(1)
        value = float(raw)
        if value == 0:
            return raw
        if "." not in raw:
            n = int(raw)
            low, high = min(int(round(n * (1 - spread))), n - 1), max(int(round(n * (1 + spread))), n + 1)
            choices = [k for k in range(max(low, 0), high + 1) if k != n]
            return str(rng.choice(choices)) if choices else raw
        decimals = len(raw.split(".")[1])
        new = round(value * (1 + rng.uniform(-spread, spread)), decimals)
        return f"{new:.{decimals}f}" if new != value else raw

    return _NUMBER.sub(change, text)


class NameSwapper:
    """Finds first names of the lists in a text (whole words, capitalised as names are) and rewrites the text
    once per other origin, each name replaced by a random name of that origin and the same gender list."""

    def __init__(self, lists: Mapping[str, Mapping[str, Sequence[str]]]):
        self.lists = {o: {g: tuple(ns) for g, ns in by.items()} for o, by in lists.items()}
        self.where = {n.lower(): (o, g) for o, by in self.lists.items() for g, ns in by.items() for n in ns}
        alternatives = "|".join(re.escape(n) for n in sorted(self.where, key=len, reverse=True))
        self.pattern = re.compile(rf"(?<![\w'])(?:{alternatives})(?!\w)", re.IGNORECASE)

    def origin_of(self, text: str) -> str | None:
        """The origin of the first listed name that appears capitalised in `text` (None: no listed name)."""
        for m in self.pattern.finditer(text):
            if m.group(0)[:1].isupper():
                return self.where[m.group(0).lower()][0]
        return None

    def variants(self, text: str, rng: random.Random) -> list[tuple[str, str, str]]:
        """(source origin, target origin, rewritten text) for each origin other than the text's."""
        source = self.origin_of(text)
        if source is None:
            return []
        out = []
        for target in self.lists:
            if target == source:
                continue
            picked: dict[str, str] = {}

            def swap(m: re.Match, target=target, picked=picked) -> str:
                word = m.group(0)
                if not word[:1].isupper():
                    return word
                origin, gender = self.where[word.lower()]
                if origin == target:
                    return word
                key = word.lower()
                if key not in picked:  # one person keeps one new name throughout the text
                    picked[key] = rng.choice(self.lists[target][gender])
                return case_like(word, picked[key])

            out.append((source, target, self.pattern.sub(swap, text)))
        return out


PERTURBATIONS = {"typos": typos, "casing": casing, "punctuation": punctuation, "contractions": contractions,
                 "irrelevant": irrelevant, "numbers": numbers}
SUITES = ("typos", "casing", "punctuation", "contractions", "irrelevant", "names", "numbers")
SUITE_LABELS = {"typos": "Typos", "casing": "Casing", "punctuation": "Punctuation and whitespace",
                "contractions": "Contractions", "irrelevant": "Irrelevant sentence appended",
                "names": "Person names swapped across origins", "numbers": "Numbers changed within a range"}
