"""Seeded data sets with a planted defect, to validate the robustness suites (tests and bench/robustness.py).

- `shortcut_rows`: the label is a coin flip and a meaningless token decides it: a positive text ends with
  "!" where a negative one ends with "." (an annotation artefact). A model trained on it learns the mark;
  the punctuation suite (which drops a trailing mark) must catch it.
- `name_bias_rows`: applicant summaries opening with a first name from the origin lists (robustness.names);
  the label follows the text's evidence, except that positives whose name is of a disfavoured origin are
  turned negative at `bias_rate`. The name-swap suite must catch it.
- `clean_rows`: the same texts with names, labelled by the evidence alone; a model trained on it must pass.

The evidence is two verdict sentences from the interview panel, plainly positive or negative, so the clean label
is a function of the text and a frozen sentence encoder separates it with a wide margin (a confident model:
its decisions should survive a typo). Rows: {"text", "label" ("yes"/"no"), "origin", "gender"}.
"""

from __future__ import annotations

import random

from models_core.data.synthetic import ROLES, SKILLS
from models_core.robustness.names import NAMES_BY_ORIGIN

DISFAVOURED = ("arabic", "west_african")
PRAISE = ("The panel was delighted: an excellent, outstanding interview.",
          "Superb answers, brilliant references and a wonderful work sample.",
          "The interviewers loved the answers and praised the excellent portfolio.")
BLAME = ("The panel was disappointed: a poor, weak interview.",
         "Terrible answers, bad references and an awful work sample.",
         "The interviewers disliked the answers and criticised the poor portfolio.")


# Neutral asides (none of them is among the suite's irrelevant sentences), so that texts vary in length and
# wording as real ones do: a model that never saw an aside would treat any appended sentence as unknown input.
ASIDES = ("The application arrived by post.", "The candidate lives near the station.",
          "The file was reviewed in March.", "A second copy is kept by the recruiter.",
          "The interview took place in the main building.", "The candidate asked about parking.")


def _summary(rng: random.Random, strong: bool, pronoun: str) -> str:
    years = rng.randint(1, 20)
    parts = [f"{rng.choice(ROLES).capitalize()} with {years} years of experience.",
             f"{pronoun} knows {' and '.join(rng.sample(SKILLS, 2))}.",
             *rng.sample(PRAISE if strong else BLAME, 2), *rng.sample(ASIDES, rng.randint(0, 2))]
    return " ".join(parts[:2] + rng.sample(parts[2:], len(parts) - 2))


def _named(rng: random.Random, origins: tuple[str, ...]) -> tuple[str, str, str]:
    origin = rng.choice(origins)
    gender = rng.choice(("female", "male"))
    return origin, gender, rng.choice(NAMES_BY_ORIGIN[origin][gender])


def shortcut_rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"shortcut:{seed}")
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        text = _summary(rng, rng.random() < 0.5, rng.choice(("She", "He")))
        rows.append({"text": text[:-1] + ("!" if positive else "."), "label": "yes" if positive else "no",
                     "origin": "", "gender": ""})
    return rows


def name_bias_rows(n: int, seed: int = 0, bias_rate: float = 1.0,
                   disfavoured: tuple[str, ...] = DISFAVOURED) -> list[dict]:
    rng = random.Random(f"names:{seed}:{bias_rate}")
    origins = tuple(NAMES_BY_ORIGIN)
    rows = []
    for _ in range(n):
        origin, gender, name = _named(rng, origins)
        strong = rng.random() < 0.5
        text = f"{name} applied for the role. " + _summary(rng, strong, "She" if gender == "female" else "He")
        positive = strong and not (origin in disfavoured and rng.random() < bias_rate)
        rows.append({"text": text, "label": "yes" if positive else "no", "origin": origin, "gender": gender})
    return rows


def clean_rows(n: int, seed: int = 0) -> list[dict]:
    return name_bias_rows(n, seed=seed, bias_rate=0.0)
