"""Compliance exports. Every export carries its schema, time, author, content SHA-256 and the log head."""

from __future__ import annotations

import hashlib

from django.utils import timezone

from governance.compliance.chain import canonical_json
from governance.compliance.selectors import audit_log_head, organisation_profile
from governance.datasets.choices import LawfulBasis
from governance.datasets.models import Dataset

PROCESSING_RECORD_SCHEMA = ("gdpr-art30-record-of-processing", "1.0")


def envelope(*, schema: tuple[str, str], actor, content: dict) -> dict:
    """Wrap export content with the provenance every export must carry (COMPLIANCE.md, 'Every export')."""
    return {
        "schema": {"name": schema[0], "version": schema[1]},
        "generated_at": timezone.now().isoformat(),
        "generated_by": getattr(actor, "username", str(actor)),
        "content_sha256": hashlib.sha256(canonical_json(content).encode()).hexdigest(),
        "audit_log_head": audit_log_head(),
        "content": content,
    }


def processing_record() -> dict:
    """GDPR Art. 30(1)(a)–(g), one activity per dataset that holds personal data."""
    profile = organisation_profile()
    activities = []
    datasets = (Dataset.objects.exclude(lawful_basis=LawfulBasis.NONE)
                .prefetch_related("versions__model_versions__model").order_by("name"))
    for ds in datasets:
        models = sorted({f"{mv.model.name} v{mv.version}" for v in ds.versions.all() for mv in v.model_versions.all()})
        activities.append({
            "name": ds.name,
            "description": ds.description,
            "lawful_basis": ds.get_lawful_basis_display(),
            "b_purposes": ds.purposes,
            "c_categories_of_data_subjects": ds.data_subject_categories,
            "c_categories_of_personal_data": ds.personal_data_categories,
            "c_special_categories": ds.special_categories,
            "d_recipients": ds.recipients,
            "e_third_country_transfers": ds.third_country_transfers,
            "e_transfer_safeguards": ds.transfer_safeguards,
            "f_erasure_time_limit_days": ds.retention_days,
            "source": ds.source,
            "dpia_reference": ds.dpia_reference,
            "models_trained": models,
        })
    return {
        "a_controller": {"name": profile.controller_name, "contact": profile.controller_contact,
                         "joint_controllers": profile.joint_controllers, "representative": profile.representative,
                         "dpo": {"name": profile.dpo_name, "contact": profile.dpo_contact}},
        "g_security_measures": profile.security_measures,
        "activities": activities,
    }
