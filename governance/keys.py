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
