from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class Audit(models.Model):
    """An evaluation of one model version on one dataset version. Results are stored once, never edited."""

    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="audits")
    dataset_version = models.ForeignKey("datasets.DatasetVersion", on_delete=models.PROTECT, related_name="audits")
    status = models.CharField(max_length=10, choices=AuditStatus.choices, default=AuditStatus.QUEUED, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    artifact_digest = models.CharField(max_length=64, blank=True, default="")
    summary = models.JSONField(default=dict, blank=True)
    result_hash = models.CharField(max_length=64, blank=True, default="")
    # Results as they come (issue 19): while the audit runs, each finished stage's result by kind (no verdict),
    # for the report page to show; emptied when the audit completes (AuditResult holds the final ones) or fails.
    provisional = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Audit #{self.pk} of {self.model_version}"

    @property
    def project_id(self) -> int:  # the audited model's project (the predicates scope by it)
        return self.model_version.model.project_id


class AuditResult(models.Model):
    """One kind of result of an audit (metrics, fairness, explanations, compute), stored as JSON."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="results")
    kind = models.CharField(max_length=40)
    data = models.JSONField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audit", "kind"], name="uniq_audit_result_kind")]


class Prediction(models.Model):
    """The model's decision about one dataset row in an audit (Art. 15(1)(h) needs these per subject)."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="predictions")
    record = models.ForeignKey("datasets.DatasetRecord", null=True, on_delete=models.SET_NULL, related_name="+")
    subject_id = models.CharField(max_length=200, db_index=True)
    predicted_label = models.CharField(max_length=100)
    probabilities = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["audit", "record"], name="uniq_prediction_record")]
