"""Alembic environment: migrates the exchange's database towards ``exchange.models``.

Run through ``exchange.migrate`` (``exchange db upgrade``, ``exchange init``, ``exchange db
revision``), which puts the database URL in ``config.attributes``; there is no alembic.ini, so
the URL comes from the app's configuration like everything else.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from exchange.migrate import MigrationError, context_options

config = context.config
database_url: str = config.attributes["database_url"]


def run_offline() -> None:
    """``--sql`` mode: write the SQL instead of running it."""
    context.configure(url=database_url, literal_binds=True, **context_options())
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **context_options())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    # NullPool: the migration's connection is closed afterwards, never handed to the app.
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            _run(connection)
            return
        # SQLite alters tables in batch mode: copy, drop the old table, rename. With foreign
        # keys enforced, dropping a parent table would cascade-delete its children's rows, so
        # enforcement is off while migrating (a PRAGMA that only works outside a transaction)
        # and the result is checked before it is switched back on.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        _run(connection)
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise MigrationError(f"the migration left {len(broken)} broken foreign key(s)")


if context.is_offline_mode():
    run_offline()
else:
    run_online()
