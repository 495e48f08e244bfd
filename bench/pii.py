"""Benchmark: recall and precision of the PII scan (models_core.pii, Presidio recognizers) on 2,000 seeded
loan notes with people, e-mails, phones, IBANs and places planted at known positions
(tests/models_core/pii/notes.py: a fifth of the people invented, in no list the recognizers were built
from; capitalised non-names among them), and its speed.

A planted span is recalled when a finding of its kind overlaps it; a finding is correct when it overlaps a
planted span of its kind. rows_per_s: notes scanned per second (engine built and warm, the per-text cache
cleared first, so every note is analysed).

Last line: RESULT pii person_recall=<r> person_precision=<p> min_recall=<lowest recall of the planted kinds>
min_precision=<lowest precision> rows_per_s=<notes per second>

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
    engine._find.cache_clear()
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
    person = result["person"]
    print(f"RESULT pii person_recall={person['recall']:.4f} person_precision={person['precision']:.4f} "
          f"min_recall={min_recall:.4f} min_precision={min_precision:.4f} rows_per_s={len(notes) / elapsed:.0f}")


if __name__ == "__main__":
    main()
