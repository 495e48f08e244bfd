"""On PostgreSQL, a trigger refuses UPDATE and DELETE on the audit log: it is append-only."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION compliance_auditlog_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_auditlogentry_append_only
  BEFORE UPDATE OR DELETE ON compliance_auditlogentry
  FOR EACH ROW EXECUTE FUNCTION compliance_auditlog_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS compliance_auditlogentry_append_only ON compliance_auditlogentry;
DROP FUNCTION IF EXISTS compliance_auditlog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
