"""Personal data found in free text: detection, masked reporting and keyed pseudonymisation.

Kinds detected (each with a validity check chosen to keep false positives low):

=============  ==========================================================================================
``email``      ``local@domain.tld``
``phone``      international (``+`` country code, 8-15 digits in all, E.164) and national forms: a trunk
               ``0`` and 10-11 digits in all with one kind of separator (UK/EU style, ``020 7946 0958``,
               ``01 23 45 67 89``), or North-American ``(415) 555-2671`` / ``415-555-2671`` /
               ``415.555.2671`` (area code and exchange 2-9; space-only forms are not matched)
``iban``       country code with its registered IBAN length, checked with ISO 7064 mod-97 (== 1)
``card``       13-19 digits, Luhn-valid, starting with 2-6 (the card networks' issuer ranges), either
               ungrouped or grouped like a printed card (4-4-4-4..., Amex 4-6-5, Diners 4-6-4) with one
               kind of separator (space or dash)
``ipv4``       dotted quad, each octet 0-255, not part of a longer dotted number
``us_ssn``     ``AAA-GG-SSSS`` with dashes, excluding the never-issued 000/666/9xx areas, 00 group and
               0000 serial
``uk_nino``    UK National Insurance number (two prefix letters from the allowed sets, six digits, suffix
               A-D), with or without spaces, upper case
=============  ==========================================================================================

Overlaps are resolved by priority in the order above read as: iban, card, email, us_ssn, uk_nino, ipv4,
phone; a span claimed by an earlier kind is never reported again as a later one.

``scan_texts(texts)`` returns::

    {"schema": "models_core.pii_scan", "version": 1,
     "n_texts": 3, "rows_affected": 2, "rows_affected_share": 0.667,
     "row_indices": [0, 2],                    # first MAX_ROW_INDICES affected rows
     "findings_total": 3,
     "by_kind": {"email": {"count": 2, "rows": 2, "distinct": 2,
                           "examples": ["j***@e***.com", "a***@b***.org"]},   # masked, never the value
                 "card": {"count": 1, "rows": 1, "distinct": 1, "examples": ["**** **** **** 1111"]},
                 ...every kind, zeros included}}

``pseudonymise_texts(texts, secret)`` replaces each finding with ``<KIND_hhhhhhhhhhhh>`` where the hex is
the first ``token_hex`` characters of HMAC-SHA256(secret, "kind:canonical value"). The canonical value
ignores formatting (e-mail lower-cased; digits only for phone, card and SSN; upper case without spaces for
IBAN and NINO), so the same value gives the same token across rows and calls, and nobody without the secret
can recompute it. The default of 12 hex characters (48 bits) keeps accidental collisions between distinct
values negligible for datasets of millions of values; the report counts any collision that occurs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from models_core.errors import InputError

KINDS = ("iban", "card", "email", "us_ssn", "uk_nino", "ipv4", "phone")
MAX_EXAMPLES = 3
MAX_ROW_INDICES = 100
MIN_SECRET_BYTES = 16

# Registered IBAN lengths (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

# No digit (or digit followed by a single separator) immediately before, none immediately after: a match
# is never a slice of a longer number.
_NUM_BEFORE = r"(?<![\w+])(?<!\d[ .-])"
_NUM_AFTER = r"(?![ .-]?\d)(?!\w)"

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![\w-])")
_CARD = re.compile(r"(?<![\w+])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)(?!\w)")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_NINO = re.compile(r"(?<![\w])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
                   r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)(?!\w)")
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d(?:[ .-]?\(?\d\)?){6,16}" + _NUM_AFTER)
_PHONE_TRUNK = re.compile(_NUM_BEFORE + r"\(?0\d(?:\)?[ .-]?\d){8,9}" + _NUM_AFTER)
_PHONE_NANP = re.compile(_NUM_BEFORE + r"(?:\([2-9]\d{2}\) ?[2-9]\d{2}-|[2-9]\d{2}([.-])[2-9]\d{2}\1)\d{4}"
                         + _NUM_AFTER)
_SEPARATORS = re.compile(r"[ .-]")
# Every kind needs a digit or an "@": texts without either are skipped before the detectors run.
_MAY_CONTAIN = re.compile(r"[@\d]")


@dataclass(frozen=True)
class Finding:
    """One piece of personal data in a text: `value` is the raw text at [start, end)."""

    kind: str
    start: int
    end: int
    value: str


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of digits."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: registered length for the country and mod-97 remainder 1 (spaces ignored)."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 5 or IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    if not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _iban_candidates(text: str) -> Iterable[tuple[int, int]]:
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        # Walk forward over upper-case alphanumerics, allowing single spaces between them, until the
        # registered length is reached; the IBAN must then end at a word boundary.
        pos, count, end = m.start(), 0, m.start()
        while pos < len(text) and count < length:
            ch = text[pos]
            if ch.isascii() and (ch.isdigit() or ch.isupper()):
                count += 1
                end = pos + 1
            elif ch == " " and count > 0 and pos + 1 < len(text) and text[pos + 1] != " ":
                pass
            else:
                break
            pos += 1
        if count == length and not (end < len(text) and text[end].isalnum()):
            yield m.start(), end


def _card_ok(value: str) -> bool:
    digits = _digits(value)
    if not (13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)):
        return False
    # Grouped numbers must look like a printed card: one kind of separator, and groups of four (the last
    # one 1-4 long) or the 4-6-5 / 4-6-4 layouts of Amex and Diners. This keeps runs of small numbers
    # ("45 23 67 12 89 34 55") out.
    separators = set(_SEPARATORS.findall(value))
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = [len(g) for g in _SEPARATORS.split(value)]
    return (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4) or groups in ([4, 6, 5], [4, 6, 4])


def _phone_ok(value: str) -> bool:
    n = len(_digits(value))
    if value.startswith("+"):
        return 8 <= n <= 15
    if value.lstrip("(").startswith("0"):
        # Trunk-prefixed national numbers: one kind of separator throughout, so that dates and times
        # ("01.02.2024 10") are not read as phone numbers.
        return 10 <= n <= 11 and len(set(_SEPARATORS.findall(value.replace(")", "")))) <= 1
    return n == 10


def find_pii(text: str) -> list[Finding]:
    """All findings in one text, non-overlapping, sorted by position."""
    if not isinstance(text, str) or not _MAY_CONTAIN.search(text):
        return []
    candidates: list[tuple[int, int, int, str]] = []  # (priority, start, end, kind)

    def add(kind: str, spans: Iterable[tuple[int, int]]) -> None:
        priority = KINDS.index(kind)
        candidates.extend((priority, s, e, kind) for s, e in spans)

    add("iban", ((s, e) for s, e in _iban_candidates(text) if iban_valid(text[s:e])))
    add("card", (m.span() for m in _CARD.finditer(text) if _card_ok(m.group())))
    add("email", (m.span() for m in _EMAIL.finditer(text)))
    add("us_ssn", (m.span() for m in _SSN.finditer(text)))
    add("uk_nino", (m.span() for m in _NINO.finditer(text)))
    add("ipv4", (m.span() for m in _IPV4.finditer(text)))
    for pattern in (_PHONE_INTL, _PHONE_TRUNK, _PHONE_NANP):
        add("phone", (m.span() for m in pattern.finditer(text) if _phone_ok(m.group())))

    taken: list[tuple[int, int]] = []
    found: list[Finding] = []
    for _, start, end, kind in sorted(candidates):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        found.append(Finding(kind, start, end, text[start:end]))
    found.sort(key=lambda f: f.start)
    return found


def _mask_digits_keep_last(value: str, keep: int) -> str:
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    shown = set(positions[-keep:]) if keep else set()
    return "".join(ch if (not ch.isdigit() or i in shown) else "*" for i, ch in enumerate(value))


def mask_value(kind: str, value: str) -> str:
    """A display form that identifies the kind and a little context, never the whole value."""
    if kind == "email":
        local, _, domain = value.partition("@")
        labels = domain.split(".")
        return f"{local[:1]}***@{labels[0][:1]}***.{labels[-1]}"
    if kind == "card":
        digits = _digits(value)
        return "**** **** **** " + digits[-4:]
    if kind == "iban":
        compact = value.replace(" ", "").upper()
        return compact[:2] + "** **** **** " + compact[-4:]
    if kind == "phone":
        return _mask_digits_keep_last(value, 2)
    if kind == "ipv4":
        return value.split(".")[0] + ".***.***.***"
    if kind == "us_ssn":
        return "***-**-" + _digits(value)[-4:]
    if kind == "uk_nino":
        return value.replace(" ", "")[:2] + " ** ** ** *"
    raise InputError(f"unknown PII kind {kind!r}")


def canonical_value(kind: str, value: str) -> str:
    """The formatting-independent form that a pseudonym is keyed on."""
    if kind == "email":
        return value.lower()
    if kind in ("card", "us_ssn"):
        return _digits(value)
    if kind == "phone":
        return ("+" if value.startswith("+") else "") + _digits(value)
    if kind in ("iban", "uk_nino"):
        return value.replace(" ", "").upper()
    return value


def _check_texts(texts: Sequence) -> list:
    if isinstance(texts, (str, bytes)):
        raise InputError("texts must be a sequence of strings, not one string")
    return list(texts)


def _is_text(value) -> bool:
    return isinstance(value, str)


def scan_texts(texts: Sequence[str | None], *, progress: Callable[[dict], None] | None = None) -> dict:
    """Count personal data per kind over `texts` (None or non-strings are skipped). Schema: module doc."""
    items = _check_texts(texts)
    by_kind = {kind: {"count": 0, "rows": 0, "distinct": 0, "examples": []} for kind in KINDS}
    distinct: dict[str, set[str]] = {kind: set() for kind in KINDS}
    affected: list[int] = []
    total = 0
    step = max(1, len(items) // 20)
    for i, text in enumerate(items):
        findings = find_pii(text) if _is_text(text) else []
        if findings:
            affected.append(i)
            total += len(findings)
            for kind in {f.kind for f in findings}:
                by_kind[kind]["rows"] += 1
            for f in findings:
                entry = by_kind[f.kind]
                entry["count"] += 1
                canon = canonical_value(f.kind, f.value)
                if canon not in distinct[f.kind]:
                    distinct[f.kind].add(canon)
                    if len(entry["examples"]) < MAX_EXAMPLES:
                        entry["examples"].append(mask_value(f.kind, f.value))
        if progress is not None and (i % step == 0):
            progress({"stage": "pii_scan", "percent": 100.0 * i / max(1, len(items))})
    for kind in KINDS:
        by_kind[kind]["distinct"] = len(distinct[kind])
    if progress is not None:
        progress({"stage": "pii_scan", "percent": 100.0})
    n = len(items)
    return {
        "schema": "models_core.pii_scan",
        "version": 1,
        "n_texts": n,
        "rows_affected": len(affected),
        "rows_affected_share": len(affected) / n if n else 0.0,
        "row_indices": affected[:MAX_ROW_INDICES],
        "findings_total": total,
        "by_kind": by_kind,
    }


def pseudonym(kind: str, value: str, secret: bytes, token_hex: int = 12) -> str:
    """The stable keyed token for one value, e.g. ``<EMAIL_3f2a9c0d11be>``."""
    message = f"{kind}:{canonical_value(kind, value)}".encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"<{kind.upper()}_{digest[:token_hex]}>"


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, (bytes, bytearray)):
        raise InputError("secret must be bytes")
    if len(secret) < MIN_SECRET_BYTES:
        raise InputError(f"secret must be at least {MIN_SECRET_BYTES} bytes (32 random bytes recommended)")


def key_fingerprint(secret: bytes) -> str:
    """Identifies which key was used without revealing it (HMAC of a fixed label)."""
    _check_secret(secret)
    return hmac.new(bytes(secret), b"models_core.data.pii key fingerprint", hashlib.sha256).hexdigest()[:16]


def pseudonymise_texts(texts: Sequence[str | None], secret: bytes, *, token_hex: int = 12,
                       progress: Callable[[dict], None] | None = None) -> tuple[list, dict]:
    """Replace every finding with its keyed token; non-strings pass through unchanged.

    Returns (new_texts, report) with report::

        {"schema": "models_core.pii_pseudonymisation", "version": 1, "n_texts": int, "rows_changed": int,
         "replacements": {kind: int}, "distinct_values": {kind: int}, "token_hex": 12,
         "key_fingerprint": "16 hex", "collisions": int}
    """
    _check_secret(secret)
    if not 6 <= token_hex <= 64:
        raise InputError("token_hex must be between 6 and 64")
    key = bytes(secret)
    items = _check_texts(texts)
    replacements = {kind: 0 for kind in KINDS}
    token_of: dict[tuple[str, str], str] = {}
    out: list = []
    changed = 0
    step = max(1, len(items) // 20)
    for i, text in enumerate(items):
        findings = find_pii(text) if _is_text(text) else []
        if not findings:
            out.append(text)
        else:
            changed += 1
            pieces, cursor = [], 0
            for f in findings:
                canon_key = (f.kind, canonical_value(f.kind, f.value))
                token = token_of.get(canon_key)
                if token is None:
                    token = token_of[canon_key] = pseudonym(f.kind, f.value, key, token_hex)
                pieces.append(text[cursor:f.start])
                pieces.append(token)
                cursor = f.end
                replacements[f.kind] += 1
            pieces.append(text[cursor:])
            out.append("".join(pieces))
        if progress is not None and (i % step == 0):
            progress({"stage": "pii_pseudonymise", "percent": 100.0 * i / max(1, len(items))})
    if progress is not None:
        progress({"stage": "pii_pseudonymise", "percent": 100.0})
    distinct = {kind: sum(1 for k, _ in token_of if k == kind) for kind in KINDS}
    report = {
        "schema": "models_core.pii_pseudonymisation",
        "version": 1,
        "n_texts": len(items),
        "rows_changed": changed,
        "replacements": replacements,
        "distinct_values": distinct,
        "token_hex": token_hex,
        "key_fingerprint": key_fingerprint(key),
        "collisions": len(token_of) - len(set(token_of.values())),
    }
    return out, report


def redact_text(text: str) -> str:
    """The text with each finding replaced by its kind only (``<EMAIL>``), for previews in reports."""
    if not _is_text(text):
        return text
    pieces, cursor = [], 0
    for f in find_pii(text):
        pieces.append(text[cursor:f.start])
        pieces.append(f"<{f.kind.upper()}>")
        cursor = f.end
    pieces.append(text[cursor:])
    return "".join(pieces)
