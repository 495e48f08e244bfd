"""PII scans, taken over from the compliance app (compliance 0005 let the model go).

State only: the table compliance 0003 created keeps its name and rows (`db_table`).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0003_dataset_drift'),
        ('compliance', '0005_audit_log_and_pii_scans_leave'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PiiScan',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('data', models.JSONField()),
                        ('sha256', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('version', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='pii_scan', to='datasets.datasetversion')),
                    ],
                    options={'db_table': 'compliance_piiscan'},
                ),
            ],
            database_operations=[],
        ),
    ]
