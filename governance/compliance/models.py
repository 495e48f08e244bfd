from __future__ import annotations

from django.conf import settings
from django.db import models


class OrganisationProfile(models.Model):
    """The controller's identity for GDPR Art. 30(1)(a) and every export (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    controller_name = models.CharField(max_length=200, default="")
    controller_contact = models.CharField(max_length=300, default="", blank=True)
    joint_controllers = models.TextField(blank=True, default="")
    representative = models.CharField(max_length=300, blank=True, default="")
    dpo_name = models.CharField(max_length=200, blank=True, default="")
    dpo_contact = models.CharField(max_length=300, blank=True, default="")
    security_measures = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)


# ---------------------------------------------------------------------------------------------------
# GDPR and AI Act records (issue #7): data-subject requests, erasure decisions, retention runs, model
# documentation (PII scans are the datasets app's). None of these rows ever reaches the audit log with a raw subject id: the
# log carries `subject_hash` (HMAC-SHA256 under a server-side salt, see compliance/subjects.py).


class RequestKind(models.TextChoices):
    ACCESS = "access", "Access (Art. 15, with Art. 20 portability)"
    ERASURE = "erasure", "Erasure (Art. 17)"


class SubjectRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    FULFILLED = "fulfilled", "Erasure carried out"
    REFUSED = "refused", "Refused (Art. 17(3) exception)"


class ErasureGround(models.TextChoices):
    """GDPR Art. 17(1) points (a)–(f)."""

    NOT_NECESSARY = "a", "(a) no longer necessary for the purposes"
    CONSENT_WITHDRAWN = "b", "(b) consent withdrawn, no other legal ground"
    OBJECTION = "c", "(c) objection under Art. 21"
    UNLAWFUL = "d", "(d) unlawfully processed"
    LEGAL_OBLIGATION = "e", "(e) erasure required by a legal obligation"
    CHILD = "f", "(f) data of a child, information-society services"


class ErasureException(models.TextChoices):
    """GDPR Art. 17(3) points (a)–(e); NONE: no exception applies."""

    NONE = "", "None applies"
    EXPRESSION = "a", "(a) freedom of expression and information"
    LEGAL = "b", "(b) legal obligation or public-interest task"
    PUBLIC_HEALTH = "c", "(c) public health"
    ARCHIVING = "d", "(d) archiving, research or statistics"
    LEGAL_CLAIMS = "e", "(e) establishment, exercise or defence of legal claims"


class SubjectRequest(models.Model):
    """A data subject's access or erasure request.

    `subject_id` is the raw identifier while the request is being handled; erasure (of this subject, by
    this or a later request) blanks it on every request row, leaving only `subject_hash`.
    """

    reference = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=10, choices=RequestKind.choices)
    subject_id = models.CharField(max_length=200, blank=True, default="")
    subject_hash = models.CharField(max_length=64, db_index=True)
    received_on = models.DateField()
    due_on = models.DateField()
    extended_due_on = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=SubjectRequestStatus.choices, default=SubjectRequestStatus.OPEN,
                              db_index=True)
    channel = models.CharField(max_length=100, blank=True, default="",
                               help_text="How it arrived (e-mail, letter, web form).")
    notes = models.TextField(blank=True, default="")
    ground = models.CharField(max_length=2, choices=ErasureGround.choices, blank=True, default="")
    exception = models.CharField(max_length=2, choices=ErasureException.choices, blank=True, default="")
    exception_reason = models.TextField(blank=True, default="")
    # Erasure: the certificate is written once, at fulfilment, and exported as stored.
    certificate = models.JSONField(null=True, blank=True)
    certificate_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display().split(' (')[0]} request {self.reference}"

    @property
    def effective_due_on(self):
        return self.extended_due_on or self.due_on


class ModelDecision(models.TextChoices):
    PENDING = "pending", "Decision required"
    RETRAIN = "retrain", "Retrain without the erased subjects"
    KEEP = "keep", "Keep, with a recorded justification"


class ErasureImpact(models.Model):
    """A model version trained on records that an erasure removed: a decision is required."""

    request = models.ForeignKey(SubjectRequest, on_delete=models.PROTECT, related_name="impacts")
    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT,
                                      related_name="erasure_impacts")
    records_removed = models.PositiveIntegerField()
    # Generative versions: what the latest memorisation audit found about the subject, read at fulfilment
    # (audits.memorisation.subject_extraction: counts and kinds, never the data); null for classifiers.
    extraction = models.JSONField(null=True, blank=True)
    decision = models.CharField(max_length=10, choices=ModelDecision.choices, default=ModelDecision.PENDING,
                                db_index=True)
    justification = models.TextField(blank=True, default="")
    retrained_dataset_version = models.ForeignKey("datasets.DatasetVersion", null=True, blank=True,
                                                  on_delete=models.PROTECT, related_name="+")
    retrained_model_version = models.ForeignKey("registry.ModelVersion", null=True, blank=True,
                                                on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request_id", "model_version_id"]
        constraints = [models.UniqueConstraint(fields=["request", "model_version"], name="uniq_erasure_impact")]


class RetentionRun(models.Model):
    """One pass of the retention purge: what it removed, per dataset version (counts, never subjects)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    triggered_by = models.CharField(max_length=150, default="schedule")
    removed = models.JSONField(default=list)
    records_removed = models.PositiveIntegerField(default=0)
    predictions_removed = models.PositiveIntegerField(default=0)
    # Every store the purge cleaned, with counts (compliance/erasure.py stores_clean).
    stores = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]


class ModelDocumentation(models.Model):
    """What the registry does not hold for EU AI Act Annex IV, written by people (one row per model)."""

    model = models.OneToOneField("registry.Model", on_delete=models.CASCADE, related_name="documentation")
    provider = models.CharField(max_length=300, blank=True, default="")
    interaction_with_other_systems = models.TextField(blank=True, default="")
    forms_of_placing_on_market = models.TextField(blank=True, default="")
    hardware_requirements = models.TextField(blank=True, default="")
    user_interface = models.TextField(blank=True, default="")
    instructions_for_use = models.TextField(blank=True, default="")
    design_rationale = models.TextField(blank=True, default="")
    human_oversight_measures = models.TextField(blank=True, default="")
    predetermined_changes = models.TextField(blank=True, default="")
    cybersecurity_measures = models.TextField(blank=True, default="")
    capabilities_and_limitations = models.TextField(blank=True, default="")
    foreseeable_risks = models.TextField(blank=True, default="")
    input_data_specifications = models.TextField(blank=True, default="")
    metrics_rationale = models.TextField(blank=True, default="")
    risk_management_system = models.TextField(blank=True, default="")
    harmonised_standards = models.TextField(blank=True, default="")
    declaration_of_conformity = models.TextField(blank=True, default="")
    post_market_monitoring_plan = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
