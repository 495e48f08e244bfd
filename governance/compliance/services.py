"""Writes of the compliance domain: the audit log first, every other app appends through it."""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from governance.compliance.chain import canonical_json, entry_body, entry_hash
from governance.compliance.models import AuditLogEntry, ChainHead, OrganisationProfile
from governance.errors import ValidationFailed


def audit_log_append(*, actor, action: str, obj=None, object_type: str = "", object_id: str = "",
                     payload: dict | None = None) -> AuditLogEntry:
    """Append one entry in the caller's transaction, serialised on the locked chain head."""
    with transaction.atomic():
        head, _ = ChainHead.objects.select_for_update().get_or_create(id=1)
        if obj is not None:
            object_type = object_type or obj._meta.label_lower
            object_id = object_id or str(obj.pk)
        actor_name = getattr(actor, "username", "") or ("system" if actor is None else str(actor))
        created_at = timezone.now()
        # Round-trip through canonical JSON so the stored payload hashes identically when re-read.
        clean_payload = json.loads(canonical_json(payload or {}))
        seq = head.seq + 1
        body = entry_body(seq=seq, created_at=created_at.isoformat(), actor=actor_name, action=action,
                          object_type=object_type, object_id=str(object_id), payload=clean_payload)
        digest = entry_hash(head.hash, body)
        entry = AuditLogEntry.objects.create(
            seq=seq, created_at=created_at, actor=actor if getattr(actor, "pk", None) else None,
            actor_username=actor_name, action=action, object_type=object_type, object_id=str(object_id),
            payload=clean_payload, prev_hash=head.hash, hash=digest)
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
        return entry


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


def export_create(*, actor, schema: tuple[str, str], content: dict) -> dict:
    """Build an export document and log that it was made (its hash and the log head it was stamped with)."""
    from governance.compliance.exports import envelope

    with transaction.atomic():
        document = envelope(schema=schema, actor=actor, content=content)
        audit_log_append(actor=actor, action="export.generated", object_type="export", object_id=schema[0],
                         payload={"schema": document["schema"], "content_sha256": document["content_sha256"],
                                  "audit_log_head": document["audit_log_head"]})
    return document
