from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.registry.choices import Environment


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    VOID = "void", "Void (evidence changed)"  # kept for old rows; a void now returns the request to review


class DeploymentPolicy(models.Model):
    """The gates and the N-of-M approval rule of one environment (editable by compliance officers).

    N = `required_approvals` distinct reviewers; M = `approvers`, the reviewers eligible to approve here
    (none listed: every reviewer). Fairness rules are `models_core.fairness.rules.evaluate_thresholds` rules on
    disparities; a "max" is judged on the upper end of the confidence interval, a "min" on the lower end.
    """

    environment = models.CharField(max_length=20, choices=Environment.choices, unique=True)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    min_accuracy = models.FloatField(null=True, blank=True)
    fairness_rules = models.JSONField(default=list, blank=True)
    max_audit_age_days = models.PositiveIntegerField(null=True, blank=True, default=90)
    require_explanations = models.BooleanField(default=True)
    # Robustness gate (issue 21), each judged on the upper end of the bootstrap interval; None: not gated.
    max_invariance_flip_rate = models.FloatField(null=True, blank=True)
    max_directional_failure_rate = models.FloatField(null=True, blank=True)
    max_attack_success_rate = models.FloatField(null=True, blank=True)
    require_dpia_for_personal_data = models.BooleanField(default=True)
    require_lawful_basis = models.BooleanField(default=True)
    # Generative versions (issue 23), judged on their memorisation audit: the upper end of the largest inserted
    # canary's exposure interval (bits), and whether any personal data of the training records was reproduced.
    max_canary_exposure = models.FloatField(null=True, blank=True, default=10.0)
    forbid_pii_extraction = models.BooleanField(default=True)
    # Approvals and waivers here are signed with a TOTP code only: no password step-up, no device no signature.
    require_totp = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["environment"]

    def __str__(self) -> str:
        return f"Policy for {self.environment}"


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
    # The latest evaluation of the environment's gates (gates.py), stored when requested and re-checked.
    gate_results = models.JSONField(default=list, blank=True)
    gates_evaluated_at = models.DateTimeField(null=True, blank=True)
    voided_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.model_version} → {self.environment}"

    @property
    def project_id(self) -> int:  # the model's project (the predicates scope by it)
        return self.model_version.model.project_id


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
    voided_reason = models.CharField(max_length=300, blank=True, default="")
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["request", "reviewer"], condition=models.Q(voided=False),
                                               name="one_live_decision_per_reviewer")]


class GateWaiver(models.Model):
    """A compliance officer's waiver of one failing gate of one request, with a reason and an expiry, bound to
    the audit result hash and the measured value it waives: another audit or another value voids it."""

    request = models.ForeignKey(DeploymentRequest, on_delete=models.PROTECT, related_name="waivers")
    gate = models.CharField(max_length=40)
    reason = models.TextField()
    expires_at = models.DateTimeField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    audit_result_hash = models.CharField(max_length=64, default="")
    measured = models.JSONField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]


class RequestComment(models.Model):
    request = models.ForeignKey(DeploymentRequest, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]


class WebhookEvent(models.TextChoices):
    REQUESTED = "request.created", "Deployment requested"
    APPROVED = "request.approved", "Approval recorded"
    REJECTED = "request.rejected", "Request rejected"
    VOIDED = "request.voided", "Approvals voided (evidence changed)"
    # Sent by the audit log (governance.auditlog.signals, connected in approvals/apps.py): witnesses outside
    # the organisation hold each signed head, and hear when the checkpoint writer refuses a log that fails.
    AUDITLOG_CHECKPOINT = "auditlog.checkpoint", "Audit log: signed checkpoint (the signed head)"
    AUDITLOG_VERIFICATION_FAILED = "auditlog.verification_failed", "Audit log: verification failed, nothing signed"
    SUSPENDED = "deployment.suspended", "Deployment suspended (its request lost its approval)"
    # Sent by serving's monitoring (governance/serving/monitoring.py) when a window crosses a policy threshold.
    MONITORING_ALERT = "monitoring.alert", "Monitoring: a deployment crossed a threshold of its serving policy"


class Webhook(models.Model):
    """An endpoint told about deployment-request events, each POST signed with HMAC-SHA256 of its secret."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event to one webhook: the row owns its state, so a repeated task sends nothing twice."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING,
                              db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
