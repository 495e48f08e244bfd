"""Server-side keys derived for one purpose each, so that no two uses share a key.

All are keyed with the compliance salt: the subject hash (compliance/subjects.py), the PII pseudonymisation
tokens (datasets/pii_scans.py) and the audit log's digests of free text cannot be recomputed without it. It
is COMPLIANCE_SUBJECT_SALT (required in production, from the secret store, the same on every machine), else
the file COMPLIANCE_SUBJECT_SALT_FILE (development and the demo: generated on first use under var/keys/).
It is never SECRET_KEY: rotating SECRET_KEY (sessions, password resets) must not change a subject's hash,
which erasure certificates and later access requests are matched by.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _file_salt(path: str) -> bytes:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{secrets.token_hex(8)}")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, file)  # fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    salt = file.read_text().strip()
    if len(salt) < 32:
        raise ImproperlyConfigured(f"{file} must hold at least 32 characters (the compliance salt).")
    return salt.encode()


def compliance_salt() -> bytes:
    explicit = getattr(settings, "COMPLIANCE_SUBJECT_SALT", "") or ""
    if explicit:
        return explicit.encode()
    path = getattr(settings, "COMPLIANCE_SUBJECT_SALT_FILE", None)
    if not path:
        raise ImproperlyConfigured("COMPLIANCE_SUBJECT_SALT is not set (and no COMPLIANCE_SUBJECT_SALT_FILE is "
                                   "allowed here).")
    return _file_salt(str(path))


def derived_key(label: bytes) -> bytes:
    return hmac.new(compliance_salt(), label, hashlib.sha256).digest()


def text_digest(text: str) -> dict:
    """What the audit log keeps of free text that people write (a reason, a comment, an error message): a
    keyed digest and the length, never the words. They may name a data subject, and the append-only log
    could never erase them; the text itself stays on its row, where an erasure can redact it, and the
    digest still shows whether the row's text is the one that was logged."""
    text = text or ""
    digest = hmac.new(derived_key(b"governance.auditlog free text"), text.encode(), hashlib.sha256).hexdigest()
    return {"hmac_sha256": digest, "chars": len(text)}
