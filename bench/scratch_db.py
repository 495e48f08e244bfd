"""A benchmark's own PostgreSQL database, `<DATABASE_URL's name>_<suffix>`: created fresh, dropped afterwards.

    with scratch_database("ingest_bench") as url:
        os.environ["DATABASE_URL"] = url
        ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/governance"


@contextmanager
def scratch_database(suffix: str) -> Iterator[str]:
    """Create the database (dropping one that an interrupted run left behind) and yield its URL. On the way
    out, close Django's connections and drop it, WITH (FORCE): a server the benchmark started may still hold
    connections to it."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    base = dj_database_url.parse(os.environ.get("DATABASE_URL", DEFAULT_URL))
    name = sql.Identifier(f"{base['NAME']}_{suffix}")
    password = base.get("PASSWORD")
    admin = f"host={base['HOST']} port={base['PORT'] or 5432} user={base['USER']} dbname=postgres"
    if password:
        admin += f" password={password}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield (f"postgres://{base['USER']}{':' + password if password else ''}"
               f"@{base['HOST']}:{base['PORT'] or 5432}/{base['NAME']}_{suffix}")
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
