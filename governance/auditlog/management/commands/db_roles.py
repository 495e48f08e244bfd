"""`python manage.py db_roles --app-role NAME [--password-env VAR]`: create (or bring back in line) the
least-privilege PostgreSQL role the application runs as. Run it as the owner of the tables (the role that
runs `migrate`), after every `migrate`.

The role owns no table and can create none. On every table of the schema it may SELECT, INSERT, UPDATE and
DELETE (and use the sequences); on the audit log's tables it may only SELECT and INSERT (the chain head:
SELECT; the insert trigger of auditlog 0002, SECURITY DEFINER, advances it). It is never granted TRUNCATE,
REFERENCES or TRIGGER, and, owning nothing, it cannot ALTER, DISABLE TRIGGER or DROP anything.
`ALTER DEFAULT PRIVILEGES` gives it the same rights on tables later migrations create; running this command
again after each `migrate` also re-applies the audit-log restriction.
"""

from __future__ import annotations

import os
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from governance.auditlog.models import AuditCheckpoint, AuditLogEntry, ChainHead

APPEND_ONLY_TABLES = (AuditLogEntry._meta.db_table, AuditCheckpoint._meta.db_table)
READ_ONLY_TABLES = (ChainHead._meta.db_table,)
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Command(BaseCommand):
    help = "Create the application's least-privilege database role (run as the tables' owner, after migrate)."

    def add_arguments(self, parser):
        parser.add_argument("--app-role", required=True, help="the role the application connects as")
        parser.add_argument("--password-env", help="the environment variable holding its password (LOGIN)")

    def handle(self, *args, app_role: str, password_env: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("db_roles needs PostgreSQL (the SQLite demo has no roles).")
        if not ROLE_NAME.fullmatch(app_role):
            raise CommandError("--app-role: lower-case letters, digits and _, at most 63, not starting with a digit.")
        password = None
        if password_env:
            password = os.environ.get(password_env, "")
            if not password:
                raise CommandError(f"--password-env: the environment variable {password_env} is empty or unset.")
        with transaction.atomic(), connection.cursor() as cursor:
            owner = self._one(cursor, "SELECT current_user")
            if app_role == owner:
                raise CommandError("--app-role must differ from the owner that runs this command.")
            q = connection.ops.quote_name
            role, owner_q, database = q(app_role), q(owner), q(connection.settings_dict["NAME"])
            attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
            exists = self._one(cursor, "SELECT count(*) FROM pg_roles WHERE rolname = %s", [app_role])
            cursor.execute(f"{'ALTER' if exists else 'CREATE'} ROLE {role} {attributes}")
            if password is not None:
                cursor.execute(f"ALTER ROLE {role} PASSWORD %s", [password])
            if self._one(cursor, "SELECT pg_has_role(%s, %s, 'MEMBER')", [app_role, owner]):
                raise CommandError(f"{app_role} is a member of the owner {owner}: it would hold the owner's rights.")
            owned = self._all(cursor, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
                              [app_role])
            if owned:
                raise CommandError(f"{app_role} owns tables ({', '.join(owned)}): reassign them to {owner} first.")
            cursor.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
            cursor.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
            cursor.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
            cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
            for table in APPEND_ONLY_TABLES + READ_ONLY_TABLES:
                cursor.execute(f"REVOKE ALL ON {q(table)} FROM {role}")
                cursor.execute(f"GRANT {'SELECT, INSERT' if table in APPEND_ONLY_TABLES else 'SELECT'} "
                               f"ON {q(table)} TO {role}")
            cursor.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_q} IN SCHEMA public "
                           f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}")
            cursor.execute(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_q} IN SCHEMA public "
                           f"GRANT USAGE, SELECT ON SEQUENCES TO {role}")
        self.stdout.write(f"{app_role}: may read and write the application's tables; on "
                          f"{', '.join(APPEND_ONLY_TABLES)} only SELECT and INSERT, on {READ_ONLY_TABLES[0]} only "
                          f"SELECT; owns nothing. Connect the application as {app_role} (DATABASE_URL) and run "
                          f"migrate, then this command, as {owner}.")

    @staticmethod
    def _one(cursor, sql: str, params=()):
        cursor.execute(sql, params)
        return cursor.fetchone()[0]

    @staticmethod
    def _all(cursor, sql: str, params=()) -> list:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
