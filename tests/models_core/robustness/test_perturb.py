"""models_core.robustness.perturb and names: each perturbation changes what it says and nothing else."""

from __future__ import annotations

import random
import re

import pytest

from models_core.errors import InputError
from models_core.robustness.names import NAMES_BY_ORIGIN, validate_name_lists
from models_core.robustness.perturb import (CONTRACTIONS, KEYBOARD, NameSwapper, casing, contractions, irrelevant,
                                            numbers, punctuation, typos)

TEXT = "Maria is a nurse with 12 years of experience, and she doesn't smoke. She led 3 teams."


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.mark.parametrize("seed", range(20))
def test_a_typo_changes_exactly_one_word_by_one_edit(seed):
    out = typos(TEXT, random.Random(seed), {"count": 1})
    before, after = _words(TEXT), _words(out)
    assert out != TEXT and len(before) == len(after)
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(changed) == 1
    a, b = changed[0]
    swapped = len(a) == len(b) and sorted(a) == sorted(b)
    dropped = len(b) == len(a) - 1 and any(a[:i] + a[i + 1:] == b for i in range(len(a)))
    keyboard = len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1 and all(
        y.lower() in KEYBOARD[x.lower()] for x, y in zip(a, b) if x != y)
    assert swapped or dropped or keyboard


def test_typos_respect_the_count_and_kinds():
    out = typos(TEXT, random.Random(1), {"count": 3, "kinds": ["drop"]})
    assert sum(a != b for a, b in zip(_words(TEXT), _words(out))) == 3
    assert len(out) == len(TEXT) - 3


def test_perturbations_are_seeded():
    for perturb in (typos, casing, punctuation, irrelevant, numbers):
        assert perturb(TEXT, random.Random(5), {}) == perturb(TEXT, random.Random(5), {})


def test_casing_changes_case_only():
    for seed in range(10):
        out = casing(TEXT, random.Random(seed), {})
        assert out != TEXT and out.lower() == TEXT.lower()


def test_punctuation_changes_only_marks_and_spaces():
    for seed in range(20):
        out = punctuation(TEXT, random.Random(seed), {})
        assert out != TEXT and _words(out) == _words(TEXT)
    assert punctuation("no marks at all", random.Random(0), {}) in ("no marks at all.", "no marks  at all",
                                                                     "no  marks at all")


def test_contractions_expand_first_then_contract_and_keep_case():
    assert contractions("She doesn't smoke and it isn't far.", random.Random(0), {}) == \
        "She does not smoke and it is not far."
    assert contractions("It is late and we are not done.", random.Random(0), {}) == "It's late and we aren't done."
    # never contracted before a clause's end
    assert contractions("That is what it is.", random.Random(0), {}) == "That's what it is."
    assert contractions("No such forms here.", random.Random(0), {}) == "No such forms here."
    assert len({short for _, short in CONTRACTIONS}) == len(CONTRACTIONS)


def test_irrelevant_appends_one_configured_sentence():
    out = irrelevant(TEXT, random.Random(0), {"sentences": ["Nothing to see."]})
    assert out == TEXT + " Nothing to see."


@pytest.mark.parametrize("seed", range(20))
def test_numbers_move_within_the_range_and_stay_integers(seed):
    out = numbers(TEXT, random.Random(seed), {"max_relative_change": 0.2})
    a, b = [int(x) for x in re.findall(r"\d+", TEXT)], [int(x) for x in re.findall(r"\d+", out)]
    assert len(a) == len(b) and all(x != y for x, y in zip(a, b))
    for x, y in zip(a, b):
        assert abs(y - x) <= max(1, round(0.2 * x))
    assert re.sub(r"\d+", "#", out) == re.sub(r"\d+", "#", TEXT)
    assert numbers("0 issues", random.Random(seed), {}) == "0 issues"


def test_name_swaps_go_to_every_other_origin_with_the_same_gender():
    swapper = NameSwapper(NAMES_BY_ORIGIN)
    text = "Maria met Maria's manager, Jose. maria is lower-case."
    variants = swapper.variants(text, random.Random(0))
    assert [(s, t) for s, t, _ in variants] == [("hispanic", o) for o in NAMES_BY_ORIGIN if o != "hispanic"]
    for _, target, new in variants:
        first, manager = re.match(r"(\w+) met (\w+)'s manager, (\w+)\.", new).group(1, 3)
        assert first in NAMES_BY_ORIGIN[target]["female"] and manager in NAMES_BY_ORIGIN[target]["male"]
        assert new.count(first) == 2  # one person keeps one new name
        assert new.endswith("maria is lower-case.")  # not a name: not capitalised
    assert swapper.variants("No names here.", random.Random(0)) == []


def test_name_lists_are_disjoint_and_validated():
    validate_name_lists(NAMES_BY_ORIGIN)
    with pytest.raises(InputError, match="both"):
        validate_name_lists({"a": {"f": ["Ana"]}, "b": {"f": ["ana"]}})
    with pytest.raises(InputError, match="two origins"):
        validate_name_lists({"a": {"f": ["Ana"]}})
    with pytest.raises(InputError, match="genders"):
        validate_name_lists({"a": {"f": ["Ana"]}, "b": {"m": ["Bo"]}})
