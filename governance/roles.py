"""Roles: Django groups (organisation-wide) and project memberships; these are their names, the only place
they are spelled."""

ML_ENGINEER = "ml_engineer"
REVIEWER = "reviewer"
COMPLIANCE_OFFICER = "compliance_officer"
AUDITOR = "auditor"
ADMIN = "admin"

ALL_ROLES = [ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR, ADMIN]
# Roles a user may hold within one project (accounts.Membership). A global group holds its role in every
# project (organisation-wide); the projects migration leaves only officers, auditors and admins global.
PROJECT_ROLES = [ML_ENGINEER, REVIEWER, COMPLIANCE_OFFICER, AUDITOR]
ORG_WIDE_ROLES = [COMPLIANCE_OFFICER, AUDITOR, ADMIN]
LABELS = {
    ML_ENGINEER: "ML engineer",
    REVIEWER: "Reviewer",
    COMPLIANCE_OFFICER: "Compliance officer",
    AUDITOR: "Auditor (read-only)",
    ADMIN: "Administrator",
}
