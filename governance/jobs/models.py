from __future__ import annotations

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """A unit of background work that owns its state; the Celery message only carries its id."""

    kind = models.CharField(max_length=40, db_index=True)
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)
    stage = models.CharField(max_length=80, blank=True, default="")
    percent = models.FloatField(default=0.0)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    # Attempts that a worker shutting down (a deploy, a scale-down: SIGTERM) cut short and handed back to
    # the queue: they count in `attempts` (the job did start again) but not toward JOB_MAX_ATTEMPTS.
    handed_back = models.PositiveIntegerField(default=0)
    subject_type = models.CharField(max_length=80)
    subject_id = models.BigIntegerField()
    # The project of the subject (its `project_id`), copied when the job is made, so that job lists are scoped
    # like the objects they work on; null for a subject of no project (a webhook delivery).
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Delivery bookkeeping: which task runs it (for re-enqueueing), which broker message holds it now
    # (the Celery task id; a redelivery keeps it, a re-enqueue gets a new one) and which process.
    task_name = models.CharField(max_length=100, blank=True, default="")
    delivery = models.CharField(max_length=64, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["subject_type", "subject_id"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def elapsed_s(self) -> float | None:
        if not self.started_at:
            return None
        from django.utils import timezone

        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()
