"""Registers the stale-job sweep with django-celery-beat (idempotent: update_or_create by name)."""

from django.conf import settings
from django.db import migrations

SWEEP_NAME = "jobs: re-queue jobs stranded by dead workers"


def register(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=settings.JOB_SWEEP_INTERVAL_S, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME, defaults={"task": "governance.requeue_stale_jobs", "interval": every, "enabled": True,
                                   "queue": "default"})


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_delivery"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(register, unregister)]
