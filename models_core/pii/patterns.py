"""The pattern kinds' regular expressions and validity checks (moved from models_core.data.pii).

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
"""

from __future__ import annotations

import re
from typing import Iterable

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

EMAIL = r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![\w-])"
CARD = r"(?<![\w+])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)(?!\w)"
SSN = r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"
NINO = (r"(?<![\w])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
        r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)(?!\w)"
PHONE_INTL = r"(?<![\w+])\+\d(?:[ .-]?\(?\d\)?){6,16}" + _NUM_AFTER
PHONE_TRUNK = _NUM_BEFORE + r"\(?0\d(?:\)?[ .-]?\d){8,9}" + _NUM_AFTER
PHONE_NANP = (_NUM_BEFORE + r"(?:\([2-9]\d{2}\) ?[2-9]\d{2}-|[2-9]\d{2}([.-])[2-9]\d{2}\1)\d{4}"
              + _NUM_AFTER)

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}")
_SEPARATORS = re.compile(r"[ .-]")


def digits_of(value: str) -> str:
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


def iban_candidates(text: str) -> Iterable[tuple[int, int]]:
    """Spans that could be an IBAN: a registered country code, two digits, then the registered number of
    upper-case alphanumerics with single spaces allowed between them, ending at a word boundary."""
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
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


def card_ok(value: str) -> bool:
    digits = digits_of(value)
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


def phone_ok(value: str) -> bool:
    n = len(digits_of(value))
    if value.startswith("+"):
        return 8 <= n <= 15
    if value.lstrip("(").startswith("0"):
        # Trunk-prefixed national numbers: one kind of separator throughout, so that dates and times
        # ("01.02.2024 10") are not read as phone numbers.
        return 10 <= n <= 11 and len(set(_SEPARATORS.findall(value.replace(")", "")))) <= 1
    return n == 10
