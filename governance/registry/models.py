from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.registry.choices import Environment, ModelKind, VersionStatus


class Model(models.Model):
    """A named model of one project (names are unique within a project); its versions follow it."""

    project = models.ForeignKey("accounts.Project", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    intended_purpose = models.TextField(blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="models")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_model_name_in_project")]

    def __str__(self) -> str:
        return self.name


class PretrainedEncoder(models.Model):
    """An external pretrained encoder (a Hugging Face BERT-family folder) registered for training from.

    `digest` is models_core.encoder.artifacts.artifact_digest over the stored folder: config.json, model.safetensors,
    tokenizer.json and the registry's metadata.json (provenance, and the SHA-256 of every other file of the
    upload). Training checks it before the folder is used.
    """

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    directory = models.CharField(max_length=500)
    digest = models.CharField(max_length=64, db_index=True)
    config = models.JSONField(default=dict)  # summary: model_type, layers, hidden, heads, vocab, ...
    source_file = models.CharField(max_length=255, blank=True, default="")
    source_sha256 = models.CharField(max_length=64, blank=True, default="")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One trained (or registered) artifact, with its lineage and the evidence of how it was made."""

    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=ModelKind.choices, default=ModelKind.CLASSIFIER, db_index=True)
    status = models.CharField(max_length=10, choices=VersionStatus.choices, default=VersionStatus.QUEUED,
                              db_index=True)
    dataset_version = models.ForeignKey("datasets.DatasetVersion", null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="model_versions")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    pretrained_encoder = models.ForeignKey("registry.PretrainedEncoder", null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="model_versions")
    lineage_note = models.CharField(max_length=300, blank=True, default="")
    training_config = models.JSONField(default=dict)
    label_names = models.JSONField(default=list)
    metrics = models.JSONField(default=dict, blank=True)
    compute = models.JSONField(default=dict, blank=True)
    dp = models.JSONField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    artifact_path = models.CharField(max_length=500, blank=True, default="")
    artifact_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    trained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="uniq_model_version")]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    @property
    def project_id(self) -> int:
        return self.model.project_id


class DeploymentKind(models.TextChoices):
    APPROVED = "approved", "Approved deployment"
    ROLLBACK = "rollback", "Rollback to an earlier version"


class Deployment(models.Model):
    """Which version served in which environment, from when to when (ended_at null: still serving).

    An approved request starts one; a rollback starts one for the version that served before; a retirement
    ends the serving one without a successor (`ended_reason` says which). A deployment whose request loses
    its approval is suspended at once (`suspended_at`: it stops serving) until the request is approved again,
    which ends it and starts a fresh one; `status_at(t)` says which of the three it was at time t.
    """

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    kind = models.CharField(max_length=10, choices=DeploymentKind.choices, default=DeploymentKind.APPROVED)
    started_by = models.CharField(max_length=150, blank=True, default="")
    request = models.ForeignKey("approvals.DeploymentRequest", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="deployments")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=200, blank=True, default="")
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["environment", "started_at"])]

    def status_at(self, at) -> str:
        """"ended", "suspended" or "serving" at instant `at` (None: now)."""
        if self.ended_at is not None and (at is None or self.ended_at <= at):
            return "ended"
        if self.suspended_at is not None and (at is None or self.suspended_at <= at):
            return "suspended"
        return "serving"

    @property
    def status(self) -> str:
        return self.status_at(None)

    @property
    def project_id(self) -> int:
        return self.model_version.model.project_id
