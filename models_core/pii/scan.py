"""Counting personal data over many texts, and the masked forms that reports show instead of it.

``scan_texts(texts)`` returns::

    {"schema": "models_core.pii_scan", "version": 2,
     "n_texts": 3, "rows_affected": 2, "rows_affected_share": 0.667,
     "row_indices": [0, 2],                    # first MAX_ROW_INDICES affected rows
     "findings_total": 3,
     "by_kind": {"email": {"count": 2, "rows": 2, "distinct": 2,
                           "examples": ["j***@e***.com", "a***@b***.org"]},   # masked, never the value
                 "person": {"count": 1, "rows": 1, "distinct": 1, "examples": ["M*** K***"]},
                 ...every kind of engine.KINDS, zeros included}}

``mask_text(text)`` is the text with each finding replaced by its kind (``[PERSON]``, ``[PHONE]``): what
reviewers see of a text by default. ``mask_tokens(text, tokens)`` does the same to an explained text and
moves its tokens' character offsets onto the masked text (the tokens inside a finding become one token
showing the mask).
"""

from __future__ import annotations

from typing import Callable, Sequence

from models_core.errors import InputError
from models_core.pii.anonymize import replace_findings
from models_core.pii.engine import KINDS, check_texts, find_pii
from models_core.pii.patterns import digits_of
from models_core.pii.pseudonym import canonical_value

MAX_EXAMPLES = 3
MAX_ROW_INDICES = 100


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
        return "**** **** **** " + digits_of(value)[-4:]
    if kind == "iban":
        compact = value.replace(" ", "").upper()
        return compact[:2] + "** **** **** " + compact[-4:]
    if kind == "phone":
        return _mask_digits_keep_last(value, 2)
    if kind == "ipv4":
        return value.split(".")[0] + ".***.***.***"
    if kind == "us_ssn":
        return "***-**-" + digits_of(value)[-4:]
    if kind == "uk_nino":
        return value.replace(" ", "")[:2] + " ** ** ** *"
    if kind in ("person", "location"):
        return " ".join(part[:1] + "***" for part in value.split())
    raise InputError(f"unknown PII kind {kind!r}")


def scan_texts(texts: Sequence[str | None], *, progress: Callable[[dict], None] | None = None) -> dict:
    """Count personal data per kind over `texts` (None or non-strings are skipped). Schema: module doc."""
    items = check_texts(texts)
    by_kind = {kind: {"count": 0, "rows": 0, "distinct": 0, "examples": []} for kind in KINDS}
    distinct: dict[str, set[str]] = {kind: set() for kind in KINDS}
    affected: list[int] = []
    total = 0
    step = max(1, len(items) // 20)
    for i, text in enumerate(items):
        findings = find_pii(text)
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
        "version": 2,
        "n_texts": n,
        "rows_affected": len(affected),
        "rows_affected_share": len(affected) / n if n else 0.0,
        "row_indices": affected[:MAX_ROW_INDICES],
        "findings_total": total,
        "by_kind": by_kind,
    }


def mask_label(kind: str) -> str:
    return f"[{kind.upper()}]"


def mask_text(text):
    """The text with each finding replaced by ``[KIND]``; anything but a string is returned as it is."""
    if not isinstance(text, str):
        return text
    return replace_findings(text, find_pii(text), lambda kind, value: mask_label(kind))[0]


def redact_text(text):
    """The text with each finding replaced by its kind only (``<EMAIL>``), for previews in datasheets."""
    if not isinstance(text, str):
        return text
    return replace_findings(text, find_pii(text), lambda kind, value: f"<{kind.upper()}>")[0]


def mask_tokens(text: str, tokens: list[dict]) -> tuple[str, list[dict], int]:
    """An explained text masked, its tokens ({"token", "start", "end", ...}) moved onto the masked text.

    A token that overlaps a finding shows the mask (the first such token) or nothing (the others), so no
    piece of the value survives in the token table either. Returns (text, tokens, number of findings)."""
    if not isinstance(text, str):
        return text, tokens, 0
    findings = find_pii(text)
    if not findings:
        return text, tokens, 0
    masked, moved = replace_findings(text, findings, lambda kind, value: mask_label(kind))

    def shift(pos: int) -> int:
        delta = 0
        for old_s, old_e, new_s, new_e in moved:
            if pos >= old_e:
                delta = new_e - old_e
            elif pos > old_s:
                return new_e
        return pos + delta

    out, shown = [], set()
    for tok in tokens:
        start, end = int(tok.get("start", 0)), int(tok.get("end", 0))
        hit = next((m for m in moved if start < m[1] and m[0] < end), None)
        if hit is None:
            out.append({**tok, "start": shift(start), "end": shift(end)})
        elif hit not in shown:
            shown.add(hit)
            out.append({**tok, "token": masked[hit[2]:hit[3]], "start": hit[2], "end": hit[3]})
        else:
            out.append({**tok, "token": str(), "start": hit[3], "end": hit[3]})
    return masked, out, len(findings)
