from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.datasets.choices import FileFormat, LawfulBasis


class Dataset(models.Model):
    """A named collection of versions, with the personal-data metadata GDPR Art. 30 asks for."""

    project = models.ForeignKey("accounts.Project", on_delete=models.PROTECT, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="datasets")
    created_at = models.DateTimeField(auto_now_add=True)
    # Personal-data metadata (GDPR Art. 30(1)(b)–(g), Art. 6, Art. 35).
    lawful_basis = models.CharField(max_length=30, choices=LawfulBasis.choices, default=LawfulBasis.NONE)
    purposes = models.TextField(blank=True, default="")
    data_subject_categories = models.CharField(max_length=300, blank=True, default="")
    personal_data_categories = models.CharField(max_length=300, blank=True, default="")
    special_categories = models.BooleanField(default=False)
    recipients = models.CharField(max_length=300, blank=True, default="")
    third_country_transfers = models.CharField(max_length=300, blank=True, default="")
    transfer_safeguards = models.CharField(max_length=300, blank=True, default="")
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True, default="")
    dpia_reference = models.CharField(max_length=200, blank=True, default="")
    # A compliance officer's confirmation of the metadata above (the maker declares, the checker confirms):
    # the SHA-256 of the confirmed values (selectors.dataset_metadata_digest). Editing them clears it.
    metadata_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.PROTECT, related_name="+")
    metadata_confirmed_at = models.DateTimeField(null=True, blank=True)
    metadata_confirmed_sha256 = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="uniq_dataset_name_in_project")]

    def __str__(self) -> str:
        return self.name

    @property
    def holds_personal_data(self) -> bool:
        return self.lawful_basis != LawfulBasis.NONE


class DatasetVersion(models.Model):
    """An immutable snapshot of a dataset file: its digest, column mapping and rows."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    note = models.CharField(max_length=300, blank=True, default="")
    sha256 = models.CharField(max_length=64, db_index=True)
    row_count = models.PositiveIntegerField()
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8, choices=FileFormat.choices)
    text_column = models.CharField(max_length=100)
    label_column = models.CharField(max_length=100)
    subject_column = models.CharField(max_length=100)
    sensitive_attributes = models.JSONField(default=list)
    label_names = models.JSONField(default=list)
    positive_label = models.CharField(max_length=100, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # A part of a split of `parent` (governance/datasets/splits.py): which split, and its role in it.
    split = models.ForeignKey("datasets.DatasetSplit", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="parts")
    split_role = models.CharField(max_length=12, blank=True, default="")

    class Meta:
        ordering = ["dataset__name", "-version"]
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="uniq_dataset_version")]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.version}"

    @property
    def project_id(self) -> int:
        return self.dataset.project_id


class DatasetSplit(models.Model):
    """A split of one version into train / validation / holdout child versions (its `parts`): by subject,
    stratified by label and the sensitive attributes, seeded. `sha256` is the digest of the assignment
    (the split name of every row, in row order), so the same split can be shown to be reproduced."""

    source = models.ForeignKey("datasets.DatasetVersion", on_delete=models.PROTECT, related_name="splits")
    seed = models.PositiveBigIntegerField(default=0)
    shares = models.JSONField(default=dict)
    stratified_by = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Split of {self.source} (seed {self.seed})"

    @property
    def project_id(self) -> int:
        return self.source.dataset.project_id


class DatasetRecord(models.Model):
    """One row of a dataset version; the subject id is indexed for access and erasure requests."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="records")
    row_index = models.PositiveIntegerField()
    subject_id = models.CharField(max_length=200, db_index=True)
    text = models.TextField()
    label = models.CharField(max_length=100)
    attributes = models.JSONField(default=dict)
    weight = models.FloatField(default=1.0)

    class Meta:
        ordering = ["version_id", "row_index"]
        constraints = [models.UniqueConstraint(fields=["version", "row_index"], name="uniq_record_row")]


class Datasheet(models.Model):
    """The datasheet of one dataset version (models_core.datasheet schema), computed once by a worker.

    `sha256` is the digest of the canonical JSON of `data`, so evidence that cites it can be checked."""

    version = models.OneToOneField(DatasetVersion, on_delete=models.CASCADE, related_name="datasheet")
    data = models.JSONField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Datasheet of {self.version}"


class DatasetDrift(models.Model):
    """How `version` differs from `against` (models_core.dataset_drift schema), computed once by a worker.

    Versions never change, so the pair's result is stored once and read back; `data` is null until the
    worker stores it."""

    against = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="drifts")
    data = models.JSONField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["against", "version"], name="uniq_dataset_drift_pair")]

    def __str__(self) -> str:
        return f"Drift of {self.version} against {self.against}"

    @property
    def project_id(self) -> int:
        return self.version.dataset.project_id


class PiiScan(models.Model):
    """The PII scan of one dataset version's text column (models_core.data.pii schema), computed by a worker.

    The table was created by the compliance app (migration compliance 0003) and keeps its name."""

    version = models.OneToOneField(DatasetVersion, on_delete=models.CASCADE, related_name="pii_scan")
    data = models.JSONField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "compliance_piiscan"


class UploadStatus(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    RECEIVED = "received", "Received, loading"
    COMPLETE = "complete", "Loaded"
    FAILED = "failed", "Failed"


class DatasetUpload(models.Model):
    """A large dataset file arriving in chunks (resumable: `received` is the offset to send from), then parsed and
    COPY-loaded by a worker into a new version (governance/datasets/large_uploads.py).

    The bytes live in a file under DATASET_UPLOAD_ROOT named by `token`, never in memory or in this row;
    `request` holds the upload's form (dataset or name and project, column mapping, personal-data metadata)."""

    token = models.CharField(max_length=32, unique=True)
    project = models.ForeignKey("accounts.Project", on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8, choices=FileFormat.choices)
    size = models.PositiveBigIntegerField()
    received = models.PositiveBigIntegerField(default=0)
    request = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=UploadStatus.choices, default=UploadStatus.RECEIVING)
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Upload of {self.file_name}"
