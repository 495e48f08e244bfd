"""Writes of the Annex IV documentation people keep for a model (what the registry cannot know)."""

from __future__ import annotations

from django.db import transaction

from governance.compliance.models import ModelDocumentation
from governance.compliance.services import audit_log_append
from governance.errors import ValidationFailed
from governance.registry.models import Model

EDITABLE = tuple(f.name for f in ModelDocumentation._meta.fields if f.name not in ("id", "model", "updated_at"))
MAX_LENGTH = 20_000


@transaction.atomic
def model_documentation_update(*, actor, model: Model, intended_purpose: str | None = None,
                               **fields) -> ModelDocumentation:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ValidationFailed("Must be text.", field=name)
        if len(value) > MAX_LENGTH:
            raise ValidationFailed(f"At most {MAX_LENGTH} characters.", field=name)
    doc, _ = ModelDocumentation.objects.select_for_update().get_or_create(model=model)
    changed = sorted(name for name, value in fields.items() if getattr(doc, name) != value.strip())
    for name in changed:
        setattr(doc, name, fields[name].strip())
    doc.save()
    if intended_purpose is not None and intended_purpose.strip() != model.intended_purpose:
        Model.objects.filter(pk=model.pk).update(intended_purpose=intended_purpose.strip())
        model.intended_purpose = intended_purpose.strip()
        changed.append("intended_purpose")
    audit_log_append(actor=actor, action="model_documentation.updated", obj=model, payload={"fields": changed})
    return doc
