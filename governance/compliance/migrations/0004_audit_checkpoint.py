"""Signed audit-log checkpoints: the table (append-only on PostgreSQL, like the log) and the periodic task."""

from django.conf import settings
from django.db import migrations, models

CHECKPOINT_TASK_NAME = "compliance: sign an audit-log checkpoint"
TRIGGER = """
CREATE TRIGGER compliance_auditcheckpoint_append_only
  BEFORE UPDATE OR DELETE ON compliance_auditcheckpoint
  FOR EACH ROW EXECUTE FUNCTION compliance_auditlog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=settings.AUDIT_CHECKPOINT_INTERVAL_S, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=CHECKPOINT_TASK_NAME, defaults={"task": "governance.audit_log_checkpoint", "interval": every,
                                             "enabled": True, "queue": "default"})


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS compliance_auditcheckpoint_append_only "
                              "ON compliance_auditcheckpoint;", params=None)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=CHECKPOINT_TASK_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0003_gdpr_records'),
        ('django_celery_beat', '0019_alter_periodictasks_options'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(db_index=True)),
                ('head_hash', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
                ('created_by', models.CharField(blank=True, default='', max_length=150)),
                ('reason', models.CharField(default='manual', max_length=20)),
                ('algorithm', models.CharField(default='Ed25519', max_length=20)),
                ('public_key', models.CharField(max_length=64)),
                ('signature', models.CharField(max_length=128)),
            ],
            options={
                'ordering': ['-seq', '-created_at'],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
