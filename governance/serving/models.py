"""Serving: service tokens, the decision log (partitioned by month on PostgreSQL), outcomes, the per-environment
serving and monitoring policy, the monitoring reports and the alerts they raise."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from governance.registry.choices import Environment


class ServiceToken(models.Model):
    """A bearer token for the serving endpoint, scoped to one model and one environment.

    Only the SHA-256 of the token is stored (`token_sha256`); the token itself is shown once, at creation.
    `prefix` (the token's first characters) lets people tell their tokens apart."""

    model = models.ForeignKey("registry.Model", on_delete=models.PROTECT, related_name="service_tokens")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def project_id(self) -> int:
        return self.model.project_id


class Decision(models.Model):
    """One automated decision (GDPR Art. 22, AI Act Art. 12 logging): what answered, about what, with what.

    On PostgreSQL the table is partitioned by month on `decided_at` (migration 0001: the primary key is
    (decided_at, id); partitions are made on demand by `serving_decision_partition_ensure`, a SECURITY DEFINER
    function, since the application's role may create no table). Rows arrive in bulk from the write-ahead
    queue (governance/serving/decision_queue.py), never from the request path. `text` is kept only when the
    environment's serving policy says so; `input_sha256` always."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    decided_at = models.DateTimeField()
    project_id = models.IntegerField()
    model_id = models.IntegerField()
    model_version_id = models.IntegerField()
    deployment_id = models.IntegerField()
    environment = models.CharField(max_length=20)
    token_id = models.IntegerField(null=True)
    input_sha256 = models.CharField(max_length=64)
    text = models.TextField(null=True)
    subject_id = models.CharField(max_length=200, blank=True, default="")
    attributes = models.JSONField(default=dict)
    predicted_label = models.CharField(max_length=200)
    probabilities = models.JSONField(default=dict)

    class Meta:
        managed = True
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["subject_id"], name="serving_decision_subject"),
                   models.Index(fields=["deployment_id", "decided_at"], name="serving_decision_deploy_at")]


class DecisionOutcome(models.Model):
    """The ground truth learnt later about a decision (`POST /api/decisions/outcomes/`); one per decision."""

    decision_id = models.UUIDField(unique=True)
    decided_at = models.DateTimeField()
    deployment_id = models.IntegerField(db_index=True)
    label = models.CharField(max_length=200)
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.CharField(max_length=150)


class ServingPolicy(models.Model):
    """What serving and monitoring do in one environment (edited by compliance officers).

    `store_text`: the decision log keeps the input text (else its SHA-256 only). `retention_days`: decisions
    older are purged daily (AI Act Art. 19(1)/26(6): at least six months). Thresholds raise monitoring alerts:
    PSI of the predicted-label mix and of each sensitive attribute against the training data, the largest
    change of a predicted-label share, and fairness rules (models_core.fairness.rules, "max" judged on the
    upper end of the interval); `auto_suspend` suspends the deployment on an alert."""

    environment = models.CharField(max_length=20, choices=Environment.choices, unique=True)
    store_text = models.BooleanField(default=False)
    retention_days = models.PositiveIntegerField(default=183)
    min_decisions = models.PositiveIntegerField(default=100)
    max_psi = models.FloatField(null=True, blank=True, default=0.25)
    max_prediction_shift = models.FloatField(null=True, blank=True, default=0.2)
    fairness_rules = models.JSONField(default=list, blank=True)
    n_boot = models.PositiveIntegerField(default=400)
    auto_suspend = models.BooleanField(default=False)
    alert_emails = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["environment"]

    def __str__(self) -> str:
        return f"Serving policy for {self.environment}"


class MonitoringWindow(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"


class MonitoringStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    OK = "ok", "Within thresholds"
    ALERT = "alert", "Alert"
    TOO_FEW = "too_few", "Too few decisions"
    FAILED = "failed", "Failed"


class MonitoringReport(models.Model):
    """The monitoring of one deployment over one window: prediction mix, drift against the training data,
    fairness with bootstrap intervals where outcomes and attributes are known, and the policy's verdict."""

    deployment = models.ForeignKey("registry.Deployment", on_delete=models.PROTECT, related_name="monitoring")
    window = models.CharField(max_length=10, choices=MonitoringWindow.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=MonitoringStatus.choices, default=MonitoringStatus.QUEUED)
    decisions = models.PositiveIntegerField(default=0)
    with_outcomes = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start"]
        constraints = [models.UniqueConstraint(fields=["deployment", "window", "window_start"],
                                               name="uniq_monitoring_window")]

    @property
    def project_id(self) -> int:
        return self.deployment.model_version.model.project_id


class MonitoringAlert(models.Model):
    """A threshold a monitoring report crossed; shown on the home page until acknowledged."""

    report = models.ForeignKey(MonitoringReport, on_delete=models.CASCADE, related_name="alerts")
    deployment = models.ForeignKey("registry.Deployment", on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=100)
    message = models.CharField(max_length=500)
    measured = models.FloatField(null=True)
    threshold = models.FloatField(null=True)
    suspended = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")

    class Meta:
        ordering = ["-created_at"]

    @property
    def project_id(self) -> int:
        return self.deployment.model_version.model.project_id
