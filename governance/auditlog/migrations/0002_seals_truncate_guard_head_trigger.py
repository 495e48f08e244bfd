"""Issue 15: the audit log cannot be quietly rewritten.

- Each entry carries a `seal`: the Ed25519 signature of its hash by the application's signing key, made as it
  is appended. A database owner who rewrites and re-chains entries after the newest checkpoint cannot seal
  them, so the checkpoint writer refuses to sign the forgery and every verifier names the entries.
- On PostgreSQL, a statement-level BEFORE TRUNCATE trigger refuses TRUNCATE of the log's three tables (the
  row triggers of compliance 0002/0004 never see a TRUNCATE).
- On PostgreSQL, a BEFORE INSERT trigger on the entries (SECURITY DEFINER, owned by the migrating owner)
  refuses an entry that does not extend the chain head by one and advances the head itself: the application
  role (`manage.py db_roles`) may SELECT and INSERT on the log's tables and never UPDATE any of them.
"""

from django.db import migrations, models

CREATE = r"""
CREATE OR REPLACE FUNCTION auditlog_refuse_truncate() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: TRUNCATE of % refused', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER compliance_auditlogentry_no_truncate BEFORE TRUNCATE ON compliance_auditlogentry
  FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_truncate();
CREATE TRIGGER compliance_auditcheckpoint_no_truncate BEFORE TRUNCATE ON compliance_auditcheckpoint
  FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_truncate();
CREATE TRIGGER compliance_chainhead_no_truncate BEFORE TRUNCATE ON compliance_chainhead
  FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_truncate();

CREATE OR REPLACE FUNCTION auditlog_entry_extends_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  head_seq bigint;
  head_hash varchar(64);
BEGIN
  INSERT INTO compliance_chainhead (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
  SELECT seq, hash INTO head_seq, head_hash FROM compliance_chainhead WHERE id = 1 FOR UPDATE;
  IF NEW.seq <> head_seq + 1 OR NEW.prev_hash <> head_hash THEN
    RAISE EXCEPTION 'audit log entry #% does not extend the head #% (%): refused', NEW.seq, head_seq, head_hash
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  UPDATE compliance_chainhead SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
  RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION auditlog_entry_extends_head() FROM PUBLIC;
CREATE TRIGGER compliance_auditlogentry_extends_head BEFORE INSERT ON compliance_auditlogentry
  FOR EACH ROW EXECUTE FUNCTION auditlog_entry_extends_head();
"""
DROP = """
DROP TRIGGER IF EXISTS compliance_auditlogentry_extends_head ON compliance_auditlogentry;
DROP FUNCTION IF EXISTS auditlog_entry_extends_head();
DROP TRIGGER IF EXISTS compliance_auditlogentry_no_truncate ON compliance_auditlogentry;
DROP TRIGGER IF EXISTS compliance_auditcheckpoint_no_truncate ON compliance_auditcheckpoint;
DROP TRIGGER IF EXISTS compliance_chainhead_no_truncate ON compliance_chainhead;
DROP FUNCTION IF EXISTS auditlog_refuse_truncate();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("auditlog", "0001_initial")]
    operations = [
        migrations.AddField(model_name="auditlogentry", name="seal",
                            field=models.CharField(blank=True, db_default="", default="", max_length=128)),
        migrations.RunPython(forwards, backwards),
    ]
