"""Registers serving's periodic tasks with django-celery-beat (idempotent: update_or_create by name)."""

from django.db import migrations

TASKS = {
    "serving: write the decision log's queue to PostgreSQL": ("governance.flush_decisions", 10, "seconds"),
    "serving: queue the monitoring of the last complete day and week": ("governance.monitoring_schedule", 1, "hours"),
    "serving: delete decisions past their retention": ("governance.decisions_retention", 1, "days"),
}


def register(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, every, period) in TASKS.items():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": schedule,
                                                                   "enabled": True, "queue": "default"})


def unregister(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=list(TASKS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("serving", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(register, unregister)]
