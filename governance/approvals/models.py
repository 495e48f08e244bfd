from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.registry.choices import Environment


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    VOID = "void", "Void (evidence changed)"


class DeploymentRequest(models.Model):
    """A maker's request to deploy a model version, bound to the artifact and audit evidence it rests on."""

    model_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="requests")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    audit = models.ForeignKey("audits.Audit", on_delete=models.PROTECT, related_name="deployment_requests")
    justification = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING,
                              db_index=True)
    artifact_digest = models.CharField(max_length=64)
    audit_result_hash = models.CharField(max_length=64)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.model_version} → {self.environment}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class Approval(models.Model):
    """A checker's decision, recording the evidence digests it was made on."""

    request = models.ForeignKey(DeploymentRequest, on_delete=models.PROTECT, related_name="approvals")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason = models.TextField(blank=True, default="")
    artifact_digest = models.CharField(max_length=64)
    audit_result_hash = models.CharField(max_length=64)
    voided = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["request", "reviewer"], condition=models.Q(voided=False),
                                               name="one_live_decision_per_reviewer")]
