"""The audit log's models, taken over from the compliance app (compliance 0005 let them go).

State only: the tables compliance 0001/0004 created keep their names, rows and append-only triggers
(compliance 0002/0004), so a database holding a chain migrates forward with the chain intact.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compliance', '0005_audit_log_and_pii_scans_leave'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ChainHead',
                    fields=[
                        ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                        ('seq', models.BigIntegerField(default=0)),
                        ('hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
                    ],
                    options={'db_table': 'compliance_chainhead'},
                ),
                migrations.CreateModel(
                    name='AuditLogEntry',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('seq', models.BigIntegerField(unique=True)),
                        ('created_at', models.DateTimeField()),
                        ('actor_username', models.CharField(blank=True, max_length=150)),
                        ('action', models.CharField(db_index=True, max_length=80)),
                        ('object_type', models.CharField(db_index=True, max_length=80)),
                        ('object_id', models.CharField(db_index=True, max_length=64)),
                        ('payload', models.JSONField(default=dict)),
                        ('prev_hash', models.CharField(max_length=64, unique=True)),
                        ('hash', models.CharField(max_length=64, unique=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'compliance_auditlogentry', 'ordering': ['-seq']},
                ),
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
                    options={'db_table': 'compliance_auditcheckpoint', 'ordering': ['-seq', '-created_at']},
                ),
            ],
            database_operations=[],
        ),
    ]
