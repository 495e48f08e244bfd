"""The audit log (entries, chain head, checkpoints) moves to the auditlog app and PII scans to the datasets app.

State only: the tables, their rows and the append-only triggers stay as they are (the new models keep the
table names with `db_table`); auditlog 0001 and datasets 0004 take the models over in Django's state.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0004_audit_checkpoint'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AuditLogEntry'),
                migrations.DeleteModel(name='ChainHead'),
                migrations.DeleteModel(name='AuditCheckpoint'),
                migrations.DeleteModel(name='PiiScan'),
            ],
            database_operations=[],
        ),
    ]
