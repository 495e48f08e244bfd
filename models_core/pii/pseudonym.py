"""Keyed pseudonyms: each finding replaced by ``<KIND_hhhhhhhhhhhh>``, the hex being the first `token_hex`
characters of HMAC-SHA256(secret, "kind:canonical value").

The canonical value ignores formatting (e-mail lower-cased; digits only for phone, card and SSN; upper case
without spaces for IBAN and NINO; names and places case-folded with single spaces), so the same value
gives the same token across rows and calls ("Maria Kowalski" and "MARIA  KOWALSKI" alike), and nobody
without the secret can recompute it. A caller that wants tokens that differ between dataset versions
derives the secret per version (governance does: datasets.pii_scans.pseudonymisation_key(version)). The
default of 12 hex characters (48 bits) keeps accidental collisions negligible for millions of values; the
report counts any collision that occurs.

    {"schema": "models_core.pii_pseudonymisation", "version": 2, "n_texts": int, "rows_changed": int,
     "replacements": {kind: int}, "distinct_values": {kind: int}, "token_hex": 12,
     "key_fingerprint": "16 hex", "collisions": int}
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Callable, Sequence

from models_core.errors import InputError
from models_core.pii.anonymize import replace_findings
from models_core.pii.patterns import digits_of

MIN_SECRET_BYTES = 16


def canonical_value(kind: str, value: str) -> str:
    """The formatting-independent form that a pseudonym is keyed on."""
    if kind == "email":
        return value.lower()
    if kind in ("card", "us_ssn"):
        return digits_of(value)
    if kind == "phone":
        return ("+" if value.startswith("+") else "") + digits_of(value)
    if kind in ("iban", "uk_nino"):
        return value.replace(" ", "").upper()
    if kind in ("person", "location"):
        return " ".join(value.casefold().split())
    return value


def pseudonym(kind: str, value: str, secret: bytes, token_hex: int = 12) -> str:
    """The stable keyed token for one value, e.g. ``<EMAIL_3f2a9c0d11be>``."""
    message = f"{kind}:{canonical_value(kind, value)}".encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"<{kind.upper()}_{digest[:token_hex]}>"


def check_secret(secret: bytes) -> None:
    if not isinstance(secret, (bytes, bytearray)):
        raise InputError("secret must be bytes")
    if len(secret) < MIN_SECRET_BYTES:
        raise InputError(f"secret must be at least {MIN_SECRET_BYTES} bytes (32 random bytes recommended)")


def key_fingerprint(secret: bytes) -> str:
    """Identifies which key was used without revealing it (HMAC of a fixed label)."""
    check_secret(secret)
    return hmac.new(bytes(secret), b"models_core.data.pii key fingerprint", hashlib.sha256).hexdigest()[:16]


def pseudonymise_texts(texts: Sequence[str | None], secret: bytes, *, token_hex: int = 12,
                       progress: Callable[[dict], None] | None = None) -> tuple[list, dict]:
    """Replace every finding with its keyed token; non-strings pass through unchanged. Returns
    (new_texts, report), the report as in the module doc."""
    from models_core.pii.engine import KINDS, check_texts, find_pii

    check_secret(secret)
    if not 6 <= token_hex <= 64:
        raise InputError("token_hex must be between 6 and 64")
    key = bytes(secret)
    items = check_texts(texts)
    replacements = {kind: 0 for kind in KINDS}
    token_of: dict[tuple[str, str], str] = {}
    out: list = []
    changed = 0
    step = max(1, len(items) // 20)
    for i, text in enumerate(items):
        findings = find_pii(text)
        if not findings:
            out.append(text)
        else:
            changed += 1
            for f in findings:
                canon_key = (f.kind, canonical_value(f.kind, f.value))
                if canon_key not in token_of:
                    token_of[canon_key] = pseudonym(f.kind, f.value, key, token_hex)
                replacements[f.kind] += 1
            # Presidio's anonymizer replaces each finding with its token (a custom operator per kind).
            out.append(replace_findings(text, findings,
                                        lambda kind, value: token_of[(kind, canonical_value(kind, value))])[0])
        if progress is not None and (i % step == 0):
            progress({"stage": "pii_pseudonymise", "percent": 100.0 * i / max(1, len(items))})
    if progress is not None:
        progress({"stage": "pii_pseudonymise", "percent": 100.0})
    distinct = {kind: sum(1 for k, _ in token_of if k == kind) for kind in KINDS}
    report = {
        "schema": "models_core.pii_pseudonymisation",
        "version": 2,
        "n_texts": len(items),
        "rows_changed": changed,
        "replacements": replacements,
        "distinct_values": distinct,
        "token_hex": token_hex,
        "key_fingerprint": key_fingerprint(key),
        "collisions": len(token_of) - len(set(token_of.values())),
    }
    return out, report
