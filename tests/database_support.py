"""A fresh database for a test or a test module (imported by tests/conftest.py and
tests/browser/conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fresh_database(directory: Path) -> Iterator[str]:
    """A new, empty database: SQLite under ``directory``, or a new database on the PostgreSQL
    server EXCHANGE_TEST_DATABASE_URL names, for one test (tests/conftest.py's
    ``database_url``) or one module (the browser tests). A PostgreSQL database is dropped
    afterwards, whoever is still connected to it."""
    server = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{directory / 'exchange.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"exchange_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with admin.connect() as conn:
                # Connections a test left open would block the drop. Not DROP ... WITH (FORCE):
                # it also needs to stop autovacuum, which only a superuser may.
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND usename = current_user"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        finally:
            admin.dispose()
