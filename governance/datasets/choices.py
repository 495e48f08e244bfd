from django.db import models


class LawfulBasis(models.TextChoices):
    """GDPR Art. 6(1) points (a)–(f)."""

    CONSENT = "consent", "Consent — Art. 6(1)(a)"
    CONTRACT = "contract", "Contract — Art. 6(1)(b)"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation — Art. 6(1)(c)"
    VITAL_INTERESTS = "vital_interests", "Vital interests — Art. 6(1)(d)"
    PUBLIC_TASK = "public_task", "Public task — Art. 6(1)(e)"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests — Art. 6(1)(f)"
    NONE = "none", "No personal data"


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"


# The personal-data metadata of a dataset (GDPR Art. 30(1), Art. 6, Art. 35). The deployment gates read the
# lawful basis and the DPIA reference only once a compliance officer confirmed these values (their digest).
PERSONAL_DATA_FIELDS = ("description", "lawful_basis", "purposes", "data_subject_categories",
                        "personal_data_categories", "special_categories", "recipients", "third_country_transfers",
                        "transfer_safeguards", "retention_days", "source", "dpia_reference")
