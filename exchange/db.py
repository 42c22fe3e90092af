"""The database: one engine per app, one session per app context.

Plain SQLAlchemy 2.0 (no Flask-SQLAlchemy): ``Database.init_app`` builds the engine from the
parsed config; ``db.session`` is the session of the current app context (a request, a CLI
command or a Celery task, which all run inside one), closed when the context ends. Writes go
through ``exchange.actions``, each in one transaction (``with db.transaction():``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "one_transaction"]


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # Foreign keys are off by default in SQLite; WAL lets the worker write while the portal
    # reads; a busy timeout rather than "database is locked" under light contention.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@contextmanager
def one_transaction(session: Session) -> Iterator[None]:
    """One unit of work on ``session``: commit on success, roll back everything on any error.
    Every action uses it, so an action and its audit event land together or not at all."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


class Database:
    """Unbound until ``init_app``: importing this connects to nothing."""

    def init_app(self, app: Flask) -> None:
        config = app.config["EXCHANGE"]
        url = config.database_url
        if url.startswith("sqlite"):
            config.instance_path.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        app.extensions["exchange.db"] = sessionmaker(bind=engine, expire_on_commit=False)
        app.teardown_appcontext(self._close)

    @staticmethod
    def _factory() -> sessionmaker[Session]:
        return current_app.extensions["exchange.db"]

    @property
    def engine(self) -> Engine:
        return self._factory().kw["bind"]

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self._factory()()
        return g.db_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back everything on any error."""
        session = self.session
        with one_transaction(session):
            yield session

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
