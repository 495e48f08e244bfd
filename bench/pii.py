"""Benchmark: recall and precision of the PII scan (models_core.pii, Presidio recognizers) on 2,000 seeded
loan notes with people, e-mails, phones, IBANs and places planted at known positions
(tests/models_core/pii/notes.py: a fifth of the people invented, in no list the recognizers were built
from; capitalised non-names among them), and its speed.

A planted span is recalled when a finding of its kind overlaps it; a finding is correct when it overlaps a
planted span of its kind. rows_per_s: notes scanned per second (engine built and warm, the per-text cache
cleared first, so every note is analysed).

Last line: RESULT pii person_recall=<r> person_precision=<p> min_recall=<lowest recall of the planted kinds>
rows_per_s=<notes per second> min_precision=<lowest precision of the planted kinds>

Run: .venv/bin/python bench/pii.py [--notes N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from models_core.pii import engine, find_pii
    from tests.models_core.pii.notes import loan_notes, score

    notes = loan_notes(args.notes, args.seed)
    t0 = time.perf_counter()
    find_pii("Applicant Maria Kowalski, warm-up.")
    print(f"engine built and lists loaded in {time.perf_counter() - t0:.2f} s")
    engine._cache.cache_clear()
    t0 = time.perf_counter()
    findings = [[(f.kind, f.start, f.end) for f in find_pii(text)] for text, _ in notes]
    elapsed = time.perf_counter() - t0
    by_text = dict(zip((text for text, _ in notes), findings))
    result = score(notes, lambda text: by_text[text])
    for kind, r in result.items():
        recall = "—" if r["recall"] is None else f"{r['recall']:.4f}"
        precision = "—" if r["precision"] is None else f"{r['precision']:.4f}"
        print(f"{kind:18s} planted={r['planted']:5d} found={r['found']:5d} recall={recall} precision={precision}")
    kinds = [k for k in result if ":" not in k and result[k]["planted"]]
    min_recall = min(result[k]["recall"] for k in kinds)
    min_precision = min(result[k]["precision"] for k in kinds if result[k]["precision"] is not None)
    _held_out()
    person = result["person"]
    print(f"RESULT pii person_recall={person['recall']:.4f} person_precision={person['precision']:.4f} "
          f"min_recall={min_recall:.4f} rows_per_s={len(notes) / elapsed:.0f} min_precision={min_precision:.4f}")


# Written after the recognizers, in styles the generator does not use, to show what the generated set does
# not: (text, the names in it, the places in it). Not part of RESULT.
HELD_OUT = [
    ("Called back about the loan; mr. okafor was unavailable until Thursday.", ["okafor"], []),
    ("The file was passed to Priya Raghunathan for a second look.", ["Priya Raghunathan"], []),
    ("Chukwuemeka Obi and his partner Aoife Byrne both sign.", ["Chukwuemeka Obi", "Aoife Byrne"], []),
    ("As discussed with Nguyen, the payslips arrive next week.", ["Nguyen"], []),
    ("Harper Collins statement shows regular income.", [], []),
    ("Works at Ford Motor in Dagenham since March.", [], ["Dagenham"]),
    ("Second applicant: Lars-Erik Lindqvist, resident of Uppsala.", ["Lars-Erik Lindqvist"], ["Uppsala"]),
    ("Payslips from Marks and Spencer attached; Jordan Page is the contact.", ["Jordan Page"], []),
    ("Amount approved by Credit Committee on Friday.", [], []),
    ("She moved from Lagos to Manchester in 2019.", [], ["Lagos", "Manchester"]),
    ("Referred by branch manager Tomasz Wrobel.", ["Tomasz Wrobel"], []),
    ("JOHN SMITH signed the agreement.", ["JOHN SMITH"], []),
    ("Visa Signature limit raised; Apple Pay enabled.", [], []),
    ("Joint account with Wei Zhang, opened in Singapore.", ["Wei Zhang"], ["Singapore"]),
    ("Tenant reference from Fairfield Lettings.", [], []),
    ("Ms Ngozi Adeyemi-Bello asked for a payment holiday.", ["Ngozi Adeyemi-Bello"], []),
    ("Note by underwriter Sam: income stable.", ["Sam"], []),
    ("The Bank of England base rate applies.", [], ["England"]),
    ("Applicant works for General Electric in Cincinnati.", [], ["Cincinnati"]),
    ("Previous address: 14 Kingsley Road, Bristol.", [], ["Bristol"]),
]

# Written after the Faker name lists were added on the strength of HELD_OUT (which thereby became a
# development set), and measured once, without changing the recognizers afterwards.
HELD_OUT_2 = [
    ("Loan officer Beatriz Fonseca approved the top-up.", ["Beatriz Fonseca"], []),
    ("The co-borrower, Kwame Mensah, works night shifts.", ["Kwame Mensah"], []),
    ("Documents couriered from Rotterdam on Tuesday.", [], ["Rotterdam"]),
    ("Statement from Lloyds shows a returned direct debit.", [], []),
    ("Siobhan Gallagher phoned to ask about early repayment.", ["Siobhan Gallagher"], []),
    ("Salary from Procter Gamble, paid monthly.", [], []),
    ("She relocated to Bangalore for a year and came back.", [], ["Bangalore"]),
    ("Ask Dmitri about the guarantor letter.", ["Dmitri"], []),
    ("Tenant since 2018 at the Oakwood Court flat.", [], []),
    ("Hiroshi Tanaka is listed as second account holder.", ["Hiroshi Tanaka"], []),
    ("Reference supplied by Dr. Amara Diallo, her GP.", ["Amara Diallo"], []),
    ("The valuation by Savills came in below the asking price.", [], []),
    ("Travel costs to Porto and Seville are covered.", [], ["Porto", "Seville"]),
    ("Letter signed by Giovanni Russo on behalf of the employer.", ["Giovanni Russo"], []),
    ("Contract with Johnson Matthey ends in August.", [], []),
    ("Sister, Fatima Al-Sayed, may act as guarantor.", ["Fatima Al-Sayed"], []),
    ("Christmas bonus paid in December by Tesco.", [], []),
    ("Per Olsen's email, the deposit comes from savings.", ["Per Olsen"], []),
    ("The applicant's husband, Marek Dvorak, is self-employed.", ["Marek Dvorak"], []),
    ("Moved out of Nairobi in 2021 to live near family.", [], ["Nairobi"]),
]


def _held_out() -> None:
    from models_core.pii import find_pii

    for name, probe in (("held-out", HELD_OUT), ("held-out-2", HELD_OUT_2)):
        _probe(name, probe, find_pii)


def _probe(name: str, probe: list, find_pii) -> None:
    counts = {"person": [0, 0, 0, 0], "location": [0, 0, 0, 0]}  # planted, recalled, found, correct
    for text, people, places in probe:
        findings = find_pii(text)
        for kind, values in (("person", people), ("location", places)):
            spans = [(text.index(v), text.index(v) + len(v)) for v in values]
            found = [(f.start, f.end) for f in findings if f.kind == kind]
            c = counts[kind]
            c[0] += len(spans)
            c[1] += sum(any(fs < e and s < fe for fs, fe in found) for s, e in spans)
            c[2] += len(found)
            c[3] += sum(any(fs < e and s < fe for s, e in spans) for fs, fe in found)
    for kind, (planted, recalled, found, correct) in counts.items():
        print(f"{name} {kind:9s} planted={planted} recall={recalled / planted:.2f} found={found} "
              f"precision={correct / found if found else float('nan'):.2f}")


if __name__ == "__main__":
    main()
