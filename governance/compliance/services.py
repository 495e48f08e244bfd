"""Writes of the compliance records that belong to no narrower module: the organisation profile.

Subject requests are written by subject_requests.py, retention runs by retention.py, the Annex IV
documentation by documentation.py; every write appends to the audit log (governance.auditlog)."""

from __future__ import annotations

from django.db import transaction

from governance.auditlog.services import audit_log_append
from governance.compliance.models import OrganisationProfile
from governance.errors import ValidationFailed


@transaction.atomic
def organisation_profile_update(*, actor, **fields) -> OrganisationProfile:
    profile, _ = OrganisationProfile.objects.select_for_update().get_or_create(id=1)
    allowed = {f.name for f in OrganisationProfile._meta.fields} - {"id", "updated_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    if "controller_name" in fields and not str(fields["controller_name"]).strip():
        raise ValidationFailed("The controller's name is required.", field="controller_name")
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save()
    audit_log_append(actor=actor, action="organisation_profile.updated", obj=profile,
                     payload={"fields": sorted(fields)})
    return profile
