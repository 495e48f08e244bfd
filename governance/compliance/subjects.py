"""Data subjects: the salted hash that stands for them in logs and certificates, and reads of their data.

A subject id never reaches the audit log or an erasure certificate. They carry `subject_hash(id)`:
HMAC-SHA256 keyed with a server-side salt (COMPLIANCE_SUBJECT_SALT, governance/keys.py; never SECRET_KEY), so the
hash cannot be recomputed from a guessed id by anyone without the key, yet the same id always maps to the
same hash (a later access request finds the erasure certificate by it).
"""

from __future__ import annotations

import hashlib
import hmac

from django.db.models import QuerySet

from governance.audits.models import Prediction
from governance.datasets.models import DatasetRecord
from governance.keys import derived_key

HASH_ALGORITHM = "HMAC-SHA256(salt, subject_id)"


def subject_salt() -> bytes:
    return derived_key(b"governance.compliance subject salt")


def salt_fingerprint() -> str:
    """Names the salt a hash was made with, without revealing it."""
    return hmac.new(subject_salt(), b"fingerprint", hashlib.sha256).hexdigest()[:16]


def normalise_subject_id(subject_id: str) -> str:
    return (subject_id or "").strip()


def subject_hash(subject_id: str) -> str:
    return hmac.new(subject_salt(), normalise_subject_id(subject_id).encode(), hashlib.sha256).hexdigest()


def subject_records(*, subject_id: str) -> QuerySet[DatasetRecord]:
    """Every record of the subject in every dataset version (uses the subject_id index)."""
    return (DatasetRecord.objects.filter(subject_id=normalise_subject_id(subject_id))
            .select_related("version__dataset").order_by("version__dataset__name", "version__version", "row_index"))


def subject_predictions(*, subject_id: str) -> QuerySet[Prediction]:
    """Every decision an audit recorded about the subject."""
    return (Prediction.objects.filter(subject_id=normalise_subject_id(subject_id))
            .select_related("audit__model_version__model", "audit__dataset_version__dataset", "record")
            .order_by("audit_id", "pk"))
