"""Roles are Django groups; these are their names, the only place they are spelled."""

ML_ENGINEER = "ml_engineer"
REVIEWER = "reviewer"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"
ADMIN = "admin"

ALL_ROLES = [ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR, ADMIN]
LABELS = {
    ML_ENGINEER: "ML engineer",
    REVIEWER: "Reviewer",
    COMPLIANCE_OFFICER: "Compliance officer",
    AUDITOR: "Auditor (read-only)",
    ADMIN: "Administrator",
}
