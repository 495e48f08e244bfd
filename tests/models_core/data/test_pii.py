"""PII detection (positives and negatives per kind), masking that never leaks, keyed stable pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest

from models_core.data.pii import (
    KINDS,
    find_pii,
    iban_valid,
    luhn_valid,
    mask_value,
    pseudonymise_texts,
    redact_text,
    scan_texts,
)
from models_core.data.synthetic import hiring_rows
from models_core.errors import InputError


@pytest.fixture(autouse=True)
def _artifacts_in_tmp():
    """Overrides the Django-settings fixture of tests/conftest.py: models_core tests run without Django."""


SECRET = b"0123456789abcdef-test-secret-key"

POSITIVES = [
    ("email", "Write to john.doe@example.com today", "john.doe@example.com"),
    ("email", "cc: a.b+tag@mail.example.co.uk.", "a.b+tag@mail.example.co.uk"),
    ("phone", "Call +44 20 7946 0958 now", "+44 20 7946 0958"),
    ("phone", "Call +1 (415) 555-2671 now", "+1 (415) 555-2671"),
    ("phone", "Tel +44 (0)20 7946 0958.", "+44 (0)20 7946 0958"),
    ("phone", "Office 020 7946 0958, mobile", "020 7946 0958"),
    ("phone", "Mobile 07700 900123", "07700 900123"),
    ("phone", "Paris 01 23 45 67 89", "01 23 45 67 89"),
    ("phone", "US line (415) 555-2671", "(415) 555-2671"),
    ("phone", "US line 415-555-2671.", "415-555-2671"),
    ("phone", "US line 415.555.2671", "415.555.2671"),
    ("iban", "Pay GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"),
    ("iban", "IBAN DE89370400440532013000.", "DE89370400440532013000"),
    ("iban", "FR14 2004 1010 0505 0001 3M02 606 is mine", "FR14 2004 1010 0505 0001 3M02 606"),
    ("card", "Visa 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("card", "MC 5555-5555-5555-4444", "5555-5555-5555-4444"),
    ("card", "Amex 378282246310005.", "378282246310005"),
    ("card", "Amex 3782 822463 10005 ok", "3782 822463 10005"),
    ("ipv4", "login from 192.168.0.1 at noon", "192.168.0.1"),
    ("ipv4", "host 8.8.8.8", "8.8.8.8"),
    ("us_ssn", "SSN 123-45-6789 on file", "123-45-6789"),
    ("uk_nino", "NI number AB 12 34 56 C.", "AB 12 34 56 C"),
    ("uk_nino", "NI AB123456C", "AB123456C"),
]

NEGATIVES = [
    "Luhn-invalid card 4111 1111 1111 1112 and 1234 5678 9012 3456",
    "Bad IBAN GB82 WEST 1234 5698 7654 33 and DE89370400440532013001",
    "Unknown country XX82 WEST 1234 5698 7654 32",
    "not an email: john.doe@localhost or @handle or a@b",
    "version 1.2.3.4.5 and 256.1.1.1 and 10.0.0",
    "SSN-like 000-12-3456, 666-12-3456, 123-00-4567, 123-45-0000, date 2024-01-15",
    "NI-like QQ 12 34 56 C (invalid prefix), GB123456A, AB123456E",
    "Short numbers: 12345, 555-1234, order 1234567, born 12/03/1985, price 1,299.00",
    "Software engineer with 12 years of experience managed budgets of 3000000 in 2019.",
    "postcode SW1A 1AA and ISBN 978-3-16-148410-0",
    "scores 45 23 67 12 89 34 55 and 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
    "on 01.02.2024 10 people came; at 01/02/2024 1030; ids 300 200 1000; 415-555.2671",
]


@pytest.mark.parametrize("kind, text, value", POSITIVES)
def test_each_kind_is_found_with_its_exact_span(kind, text, value):
    findings = find_pii(text)
    assert [(f.kind, f.value) for f in findings] == [(kind, value)]
    f = findings[0]
    assert text[f.start:f.end] == value


@pytest.mark.parametrize("text", NEGATIVES)
def test_lookalikes_are_not_reported(text):
    assert find_pii(text) == []


def test_luhn_invalid_sixteen_digits_is_no_card_but_the_valid_one_is():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert [f.kind for f in find_pii("4111111111111111")] == ["card"]
    assert find_pii("4111111111111112") == []


def test_iban_checksum():
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("NL91ABNA0417164300")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert not iban_valid("GB82 WEST 1234 5698 7654")  # wrong length for GB
    found = find_pii("a GB82WEST12345698765432 b GB82WEST12345698765433")
    assert [(f.kind, f.value) for f in found] == [("iban", "GB82WEST12345698765432")]


def test_synthetic_hiring_texts_have_no_findings():
    report = scan_texts([r["text"] for r in hiring_rows()])
    assert report["findings_total"] == 0 and report["rows_affected"] == 0


def test_overlapping_kinds_are_reported_once():
    # An IBAN's digits or a card's digits must not also be reported as a phone number.
    text = "IBAN GB82 WEST 1234 5698 7654 32 card 4111 1111 1111 1111 mail x1@ex.com"
    assert [f.kind for f in find_pii(text)] == ["iban", "card", "email"]


@pytest.mark.parametrize("kind, text, value", POSITIVES)
def test_mask_never_reveals_the_value(kind, text, value):
    masked = mask_value(kind, value)
    assert value not in masked and masked != value
    assert "*" in masked
    # At most four digits of any number survive.
    assert len(re.findall(r"\d", masked)) <= 4
    if kind == "email":
        local, domain = value.split("@")
        assert local not in masked and domain.split(".")[0] not in masked


def test_mask_formats():
    assert mask_value("email", "john.doe@example.com") == "j***@e***.com"
    assert mask_value("card", "4111-1111-1111-1111") == "**** **** **** 1111"
    assert mask_value("us_ssn", "123-45-6789") == "***-**-6789"


def test_scan_counts_kinds_rows_and_masks_examples():
    texts = [
        "mail john.doe@example.com and JOHN.DOE@example.com",
        "nothing here",
        None,
        "card 4111 1111 1111 1111, phone +44 20 7946 0958",
        "mail jane@example.org",
    ]
    report = scan_texts(texts)
    json.dumps(report, allow_nan=False)
    assert report["n_texts"] == 5
    assert report["rows_affected"] == 3 and report["row_indices"] == [0, 3, 4]
    assert report["rows_affected_share"] == pytest.approx(0.6)
    assert report["findings_total"] == 5
    email = report["by_kind"]["email"]
    assert (email["count"], email["rows"], email["distinct"]) == (3, 2, 2)
    assert email["examples"] == ["j***@e***.com", "j***@e***.org"]
    assert report["by_kind"]["card"]["examples"] == ["**** **** **** 1111"]
    assert set(report["by_kind"]) == set(KINDS)
    assert report["by_kind"]["iban"]["count"] == 0
    dumped = json.dumps(report)
    for raw in ("john.doe", "4111 1111 1111 1111", "7946 0958", "jane@"):
        assert raw not in dumped


def test_pseudonyms_are_keyed_stable_and_formatting_independent():
    texts = ["Contact John.Doe@Example.com or 4111-1111-1111-1111",
             "again john.doe@example.com, card 4111 1111 1111 1111",
             "other jane@example.org", 42, None]
    out, report = pseudonymise_texts(texts, SECRET)
    expected = hmac.new(SECRET, b"email:john.doe@example.com", hashlib.sha256).hexdigest()[:12]
    assert out[0] == f"Contact <EMAIL_{expected}> or <CARD_" + \
        hmac.new(SECRET, b"card:4111111111111111", hashlib.sha256).hexdigest()[:12] + ">"
    tokens = [re.findall(r"<[A-Z_]+_[0-9a-f]{12}>", t) for t in out[:3]]
    assert tokens[0] == tokens[1]  # same values, different formatting -> same tokens
    assert tokens[2][0] != tokens[0][0]
    assert out[3] == 42 and out[4] is None
    assert pseudonymise_texts(texts, SECRET)[0] == out  # stable across calls
    other, _ = pseudonymise_texts(texts, b"another-secret-key-of-32-bytes!!")
    assert other[0] != out[0]  # keyed
    assert all("john" not in t.lower() and "4111" not in t for t in out[:3])
    assert report["rows_changed"] == 3
    assert report["replacements"]["email"] == 3 and report["replacements"]["card"] == 2
    assert report["distinct_values"]["email"] == 2 and report["distinct_values"]["card"] == 1
    assert report["collisions"] == 0 and len(report["key_fingerprint"]) == 16
    assert scan_texts(out)["findings_total"] == 0


def test_pseudonymise_refuses_weak_or_missing_keys():
    with pytest.raises(InputError):
        pseudonymise_texts(["a@b.com"], b"short")
    with pytest.raises(InputError):
        pseudonymise_texts(["a@b.com"], "a text secret of enough length")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        scan_texts("one string, not a list")


def test_redact_keeps_only_the_kind():
    assert redact_text("mail john@example.com now") == "mail <EMAIL> now"
