"""A seeded generator of loan notes with personal data planted at known positions, and the scorer.

`loan_notes(n, seed)` returns `[(text, [(kind, start, end), ...]), ...]`: every note names its applicant
(most often "Applicant <first> <last>", sometimes with no context word at all), and a random subset of
sentences plants a second person, an e-mail, a phone number, an IBAN and a place. A fifth of the people
are invented (syllable names in no list the recognizers were built from: census, Faker, gazetteer). Sentences with
capitalised words that are not personal data sit among them: months and weekdays, banks (some named after
places or people), card products, employers, sentence starts.

`score(notes, find)` compares the findings of `find(text)` with the planted spans per kind: a planted
span is recalled when a finding of its kind overlaps it; a finding is correct when it overlaps a planted
span of its kind. People's recall is also given per source ("person:census", "person:invented").
"""

from __future__ import annotations

import random
from collections import Counter
from importlib import resources

SYLLABLES = ("zor", "vath", "quel", "ling", "bri", "tan", "mok", "ess", "dru", "vik", "ora", "len", "tyr",
             "ash", "kel", "vin", "yar", "pel", "thu", "rix", "gol", "nem", "sa", "bo", "fen", "ulo", "dree")
CITIES = ("London", "Leeds", "Manchester", "Bristol", "Glasgow", "Hamburg", "Munich", "Lyon", "Madrid",
          "Chicago", "Toronto", "Dublin", "Krakow", "Lisbon", "Rotterdam", "Milan", "Seattle", "Denver",
          "Sheffield", "Cardiff", "Edinburgh", "Nottingham", "Leicester", "Valencia", "Porto", "Antwerp",
          "Gothenburg", "Stuttgart", "Marseille", "Houston", "Phoenix", "Boston", "Vienna", "Prague", "Warsaw")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
BANKS = ("Barclays", "Lloyds Bank", "Santander", "HSBC", "Monzo", "Wells Fargo", "Chase", "Nationwide",
         "Morgan Stanley", "Deutsche Bank")
PRODUCTS = ("Visa Platinum", "Gold Card", "Home Saver", "Fixed Rate Plus", "Business Premier", "Cashback Classic")
EMPLOYERS = ("Northwind Traders", "Acme Logistics", "Johnson Controls", "Blue Harbor Foods", "Summit Energy",
             "Greenfield Health Services", "Orbit Software")
STARTS = ("Income verified by payslips.", "Underwriting approved the limit.", "Decision pending review.",
          "Employment confirmed by phone.", "Affordability check passed.", "Credit file shows two searches.")
DOMAINS = ("example.com", "mail.example.org", "example.co.uk", "inbox.example.net")


def _census(file: str, limit: int | None = None) -> list[str]:
    lines = resources.files("names").joinpath(file).read_text(encoding="ascii").splitlines()
    return [line.split()[0].title() for line in lines[:limit] if line.strip()]


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice((("GB", "WEST" + "".join(rng.choices("0123456789", k=14))),
                                ("DE", "".join(rng.choices("0123456789", k=18))),
                                ("NL", "ABNA" + "".join(rng.choices("0123456789", k=10))),
                                ("FR", "".join(rng.choices("0123456789", k=23)))))
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _phone(rng: random.Random) -> str:
    d = lambda k: "".join(rng.choices("0123456789", k=k))  # noqa: E731
    return rng.choice((f"+44 20 7946 {d(4)}", f"07700 9{d(5)}", f"({rng.randint(2, 9)}{d(2)}) 555-{d(4)}",
                       f"+49 30 {d(8)}", f"0161 496 {d(4)}", f"+1 {rng.randint(2, 9)}{d(2)} 555 {d(4)}"))


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.first = _census("dist.male.first") + _census("dist.female.first")
        self.last = _census("dist.all.last", 30_000)
        from models_core.pii.lexicon import lexicon

        # Every list the recognizers were built from (census and Faker names, places): invented names avoid them.
        lex = lexicon()
        self.listed = set(lex.first) | set(lex.last) | {part for key in lex.places for part in key}

    def invented(self) -> str:
        while True:
            word = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3))).title()
            if word.lower() not in self.listed and len(word) >= 4:
                return word

    def person(self) -> tuple[str, bool]:
        """A full name and whether it was invented (a fifth of them)."""
        if self.rng.random() < 0.2:
            return f"{self.invented()} {self.invented()}", True
        return f"{self.rng.choice(self.first)} {self.rng.choice(self.last)}", False


class _Note:
    def __init__(self) -> None:
        self.text = ""
        self.spans: list[tuple[str, int, int, str]] = []

    def add(self, *parts) -> None:
        """Plain strings, or (kind, value[, source]) tuples that are planted."""
        for part in parts:
            if isinstance(part, tuple):
                kind, value, *source = part
                self.spans.append((kind, len(self.text), len(self.text) + len(value), "".join(source)))
                self.text += value
            else:
                self.text += part


def loan_notes(n: int = 2000, seed: int = 0) -> list[tuple[str, list[tuple[str, int, int, str]]]]:
    """`n` notes with their planted spans (kind, start, end, source: "census" or "invented" for people)."""
    rng = random.Random(seed)
    names = _Names(rng)
    notes = []
    for _ in range(n):
        note = _Note()
        applicant, invented = names.person()
        source = "invented" if invented else "census"
        first, last = applicant.split(" ", 1)
        opening = rng.random()
        if opening < 0.6:
            note.add("Applicant ", ("person", applicant, source), " requests a loan")
        elif opening < 0.75:
            note.add("Borrower: ", ("person", applicant, source), ".")
        elif opening < 0.9:
            note.add(("person", applicant, source), " applied for a loan")
        else:
            note.add("File of Ms ", ("person", last, source), ".")
        sentences = []
        month = rng.choice(MONTHS)
        if rng.random() < 0.7:
            sentences.append(lambda: note.add(rng.choice(("Contact: ", "E-mail on file ", "Reach at ")),
                                              ("email", f"{first.lower()}.{last.lower().replace(' ', '')}"
                                                        f"{rng.randint(1, 99)}@{rng.choice(DOMAINS)}"), "."))
        if rng.random() < 0.7:
            sentences.append(lambda: note.add(rng.choice(("Phone ", "Call back on ", "Mobile: ")),
                                              ("phone", _phone(rng)), "."))
        if rng.random() < 0.6:
            sentences.append(lambda: note.add("Salary paid into IBAN ", ("iban", _iban(rng)), "."))
        if rng.random() < 0.5:
            sentences.append(lambda: note.add(rng.choice(("Lives in ", "Moved from ", "Based in ")),
                                              ("location", rng.choice(CITIES)), f" since {month}."))
        if rng.random() < 0.4:
            other, other_invented = names.person()
            sentences.append(lambda: note.add(rng.choice(("Guarantor: ", "Spoke with ", "Co-signer ")),
                                              ("person", other, "invented" if other_invented else "census"),
                                              f" on {rng.choice(WEEKDAYS)}."))
        # Capitalised words that are not personal data.
        if rng.random() < 0.6:
            sentences.append(lambda: note.add(f"Account held at {rng.choice(BANKS)} since {month} "
                                              f"{rng.randint(2005, 2024)}."))
        if rng.random() < 0.5:
            sentences.append(lambda: note.add(f"Interested in the {rng.choice(PRODUCTS)} offer."))
        if rng.random() < 0.5:
            sentences.append(lambda: note.add(f"Employer: {rng.choice(EMPLOYERS)}."))
        if rng.random() < 0.6:
            sentences.append(lambda: note.add(rng.choice(STARTS)))
        if rng.random() < 0.4:
            sentences.append(lambda: note.add(f"Reviewed on {rng.choice(WEEKDAYS)} {rng.randint(1, 28)} "
                                              f"{rng.choice(MONTHS)}."))
        rng.shuffle(sentences)
        note.add(". " if not note.text.endswith(".") else " ")
        for i, sentence in enumerate(sentences):
            sentence()
            note.add(" ")
        notes.append((note.text.strip(), note.spans))
    return notes


def score(notes, find) -> dict:
    """Recall and precision per kind of `find(text) -> [(kind, start, end), ...]` on `notes`."""
    planted, recalled, found, correct = Counter(), Counter(), Counter(), Counter()
    for text, spans in notes:
        findings = find(text)
        for kind, s, e, source in spans:
            hit = any(k == kind and fs < e and s < fe for k, fs, fe in findings)
            for key in (kind, *((f"{kind}:{source}",) if source else ())):
                planted[key] += 1
                recalled[key] += hit
        for kind, fs, fe in findings:
            found[kind] += 1
            correct[kind] += any(k == kind and fs < e and s < fe for k, s, e, _ in spans)
    kinds = sorted(set(planted) | set(found))
    return {kind: {"planted": planted[kind], "found": found[kind],
                   "recall": recalled[kind] / planted[kind] if planted[kind] else None,
                   "precision": correct[kind] / found[kind] if found[kind] else None} for kind in kinds}
