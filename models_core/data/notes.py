"""Seeded synthetic service notes about people, with personal data planted (names, e-mails, phones, IBANs),
for training and auditing small language models in the demo, the tests and bench/memorisation.py.

`service_notes(n_subjects, seed)` returns rows {"subject_id", "text"}: each subject has between 1 and
`max_notes` notes (a few subjects many, most one or two, as in real case files), each note naming the
subject and carrying one of their contact details. The names and numbers are invented.
"""

from __future__ import annotations

import random

FIRST = ("Anna", "John", "Maria", "Peter", "Lena", "Omar", "Sofia", "David", "Emily", "James", "Sarah", "Ravi")
LAST = ("Berg", "Smith", "Rossi", "Novak", "Haddad", "Kowalski", "Brown", "Garcia", "Meyer", "Okafor")
TOPICS = ("asked about the invoice", "reported a missing parcel", "changed the delivery address",
          "requested a refund", "confirmed the appointment", "complained about the wait")
IBAN_DE = "DE89 3704 0044 0532 0130 00"  # the standard example IBAN, valid checksum


def service_notes(n_subjects: int = 40, seed: int = 0, max_notes: int = 8) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for index in range(n_subjects):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        subject = f"S{index:04d}"
        email = f"{first.lower()}.{last.lower()}{index}@example.com"
        phone = "+44 7700 9" + "".join(rng.choice("0123456789") for _ in range(5))
        count = min(max_notes, 1 + int(rng.expovariate(0.5)))
        for _ in range(count):
            topic = rng.choice(TOPICS)
            contact = rng.choice((f"Reach {first} at {email}", f"Call {first} {last} on {phone}",
                                  f"{first} {last} {topic}; e-mail {email}"))
            if rng.random() < 0.1:
                contact += f", IBAN {IBAN_DE}"
            rows.append({"subject_id": subject, "text": f"Customer {first} {last} {topic}. {contact}."})
    rng.shuffle(rows)
    return rows


def service_notes_csv(n_subjects: int = 40, seed: int = 0, max_notes: int = 8) -> str:
    """The notes as CSV (subject_id, text, topic): `topic` is "refund" or "other", a label column for uploads."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["subject_id", "text", "topic"])
    for row in service_notes(n_subjects, seed=seed, max_notes=max_notes):
        writer.writerow([row["subject_id"], row["text"], "refund" if "refund" in row["text"] else "other"])
    return out.getvalue()
