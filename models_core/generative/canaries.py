"""Canaries: random secrets in one fixed format, inserted 1, 4 and 16 times into a training copy.

A canary is "<prefix><secret>" with the secret a string of `digits` random decimal digits, so the space of
possible secrets R has |R| = 10**digits members and the canary's rank among them is well defined. Secrets
come from the operating system's entropy (`secrets`) unless a seed is given (tests, benchmarks). Control
canaries (repeats 0) are drawn the same way and never inserted: their exposure is what an unexposed secret
scores, the baseline the inserted ones are compared with.
"""

from __future__ import annotations

import random
import secrets
from typing import Any, Sequence

from models_core.errors import InputError

DEFAULT_PREFIX = "my secret number is "
DEFAULT_REPEATS = (1, 4, 16)


def make_canaries(*, repeats: Sequence[int] = DEFAULT_REPEATS, per_repeat: int = 2, controls: int = 2,
                  digits: int = 6, prefix: str = DEFAULT_PREFIX, seed: int | None = None) -> dict[str, Any]:
    """The canary plan: {"format": {...}, "canaries": [{"id", "secret", "text", "repeats"}, ...]}."""
    if not 3 <= digits <= 12:
        raise InputError("canary secrets must have between 3 and 12 digits")
    if per_repeat < 1 or controls < 0 or not repeats or any(int(r) < 1 for r in repeats):
        raise InputError("canaries need at least one per repeat count, repeat counts of at least 1")
    rng = random.Random(seed) if seed is not None else secrets.SystemRandom()
    plan = [int(r) for r in repeats for _ in range(per_repeat)] + [0] * controls
    used: set[str] = set()
    canaries = []
    for index, count in enumerate(plan):
        secret = "".join(rng.choice("0123456789") for _ in range(digits))
        while secret in used:
            secret = "".join(rng.choice("0123456789") for _ in range(digits))
        used.add(secret)
        canaries.append({"id": f"c{index + 1}", "secret": secret, "text": prefix + secret, "repeats": count})
    return {"format": {"prefix": prefix, "digits": digits, "alphabet": "0123456789", "space": 10 ** digits},
            "source": "seeded" if seed is not None else "os-entropy", "canaries": canaries}


def inserted_texts(plan: dict[str, Any]) -> list[str]:
    """The texts added to the training copy: each canary `repeats` times, in plan order."""
    return [c["text"] for c in plan["canaries"] for _ in range(int(c["repeats"]))]
