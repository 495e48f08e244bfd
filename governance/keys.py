"""Server-side keys derived for one purpose each, so that no two uses share a key.

Keyed with COMPLIANCE_SUBJECT_SALT when set, else SECRET_KEY: the subject hash (compliance/subjects.py) and
the PII pseudonymisation tokens (datasets/pii_scans.py) cannot be recomputed without it.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def derived_key(label: bytes) -> bytes:
    explicit = getattr(settings, "COMPLIANCE_SUBJECT_SALT", "") or ""
    base = explicit.encode() if explicit else settings.SECRET_KEY.encode()
    return hmac.new(base, label, hashlib.sha256).digest()


def text_digest(text: str) -> dict:
    """What the audit log keeps of free text that people write (a reason, a comment, an error message): a
    keyed digest and the length, never the words. They may name a data subject, and the append-only log
    could never erase them; the text itself stays on its row, where an erasure can redact it, and the
    digest still shows whether the row's text is the one that was logged."""
    text = text or ""
    digest = hmac.new(derived_key(b"governance.auditlog free text"), text.encode(), hashlib.sha256).hexdigest()
    return {"hmac_sha256": digest, "chars": len(text)}
