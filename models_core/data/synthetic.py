"""Seeded synthetic job-applicant summaries with a known, injected hiring disparity.

Each row: a subject id, a short English summary, a gender, an age band and a hiring label.
The label follows a latent qualification score that the text expresses (years of experience,
skills, seniority words). Then, for women only, a fixed share of positive labels is flipped to
negative: the injected disparity. The texts carry gendered words (pronouns, "women's"/"men's"
clubs), so a model trained on the labels can learn the bias through those tokens, which is what
an audit and the explanations must reveal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ROLES = ["software engineer", "data analyst", "project manager", "accountant", "sales associate",
         "nurse", "mechanical engineer", "teacher", "designer", "operations lead"]
STRONG = ["led a team of", "delivered", "managed budgets of", "mentored", "architected",
          "won an award for", "scaled", "launched"]
WEAK = ["assisted with", "helped on", "observed", "took part in", "shadowed", "supported"]
OBJECTS = ["a payments platform", "the quarterly audit", "a hospital ward rota", "a retail launch",
           "a data warehouse", "a school curriculum", "a supply chain review", "a mobile app"]
SKILLS = ["python", "sql", "excel", "negotiation", "statistics", "leadership", "cad", "scheduling",
          "communication", "forecasting"]
CLUBS = {"female": ["captain of the women's chess club", "member of the women's rugby team",
                    "volunteer at a girls' coding camp"],
         "male": ["captain of the men's chess club", "member of the men's rugby team",
                  "volunteer at a boys' coding camp"]}
PRONOUN = {"female": "she", "male": "he"}
AGE_BANDS = ["18-29", "30-44", "45+"]


@dataclass(frozen=True)
class SyntheticSpec:
    n_rows: int = 3000
    seed: int = 7
    # Share of women's positive labels flipped to negative: the injected disparity.
    flip_rate_female: float = 0.4
    female_share: float = 0.5


def hiring_rows(spec: SyntheticSpec = SyntheticSpec()) -> list[dict]:
    """Return `spec.n_rows` rows: subject_id, text, gender, age_band, hired ("yes"/"no")."""
    rng = random.Random(spec.seed)
    rows = []
    for i in range(spec.n_rows):
        gender = "female" if rng.random() < spec.female_share else "male"
        age_band = rng.choices(AGE_BANDS, weights=[0.35, 0.4, 0.25])[0]
        quality = rng.gauss(0.0, 1.0)
        years = max(0, min(25, int(round(5 + 4 * quality + rng.gauss(0, 1.5)))))
        verb = rng.choice(STRONG) if quality + rng.gauss(0, 0.6) > 0 else rng.choice(WEAK)
        skills = rng.sample(SKILLS, 3 if quality > 0.5 else 2 if quality > -0.5 else 1)
        parts = [f"{rng.choice(ROLES).capitalize()} with {years} years of experience.",
                 f"{PRONOUN[gender].capitalize()} {verb} {rng.choice(OBJECTS)}.",
                 f"Skills: {', '.join(skills)}."]
        if rng.random() < 0.7:
            parts.append(f"{PRONOUN[gender].capitalize()} is {rng.choice(CLUBS[gender])}.")
        hired = quality + rng.gauss(0, 0.5) > 0.2
        if hired and gender == "female" and rng.random() < spec.flip_rate_female:
            hired = False
        rows.append({"subject_id": f"S{i + 1:06d}", "text": " ".join(parts), "gender": gender,
                     "age_band": age_band, "hired": "yes" if hired else "no"})
    return rows


def hiring_csv(spec: SyntheticSpec = SyntheticSpec()) -> str:
    """The same rows as CSV text (header: subject_id,text,gender,age_band,hired)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["subject_id", "text", "gender", "age_band", "hired"])
    writer.writeheader()
    writer.writerows(hiring_rows(spec))
    return buf.getvalue()


LARGE_WORDS = ("python sql team lead years experience degree project cloud data managed built shipped customers "
               "research statistics design mentor reliable careful payments income stable references history").split()


def write_large_csv(path, target_bytes: int, seed: int = 0) -> int:
    """Write a seeded hiring-like CSV of at least `target_bytes` to `path` (same header as `hiring_csv`; 28-word
    texts, about 215 bytes a row), 10,000 rows at a time so that memory stays flat; returns the row count.
    For the large-file tests and bench/ingest.py --upload-mb."""
    import random
    from pathlib import Path

    rng = random.Random(seed)
    rows = size = 0
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        out.write("subject_id,text,gender,age_band,hired\n")
        while size < target_bytes:
            lines = []
            for _ in range(10_000):
                text = " ".join(rng.choices(LARGE_WORDS, k=28))
                lines.append(f"S{rows:08d},{text},{rng.choice(('female', 'male'))},"
                             f"{rng.choice(('18-30', '31-50', '51+'))},{rng.choice(('yes', 'no'))}\n")
                rows += 1
            block = "".join(lines)
            out.write(block)
            size += len(block)
    return rows
