"""Fixtures shared across the suite: a portal app on a temporary instance folder, and a valid file.

Kept minimal: anything only one test module needs lives in that module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

VALID_CSV = (
    b"time_period,time_identifier,geographic_level,new_la_code,old_la_code,la_name,"
    b"indicator_id,breakdown_topic,breakdown,numerator,denominator,value\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,"
    b"t3_referrals_nfa,Total,Total,10,100,10.0\n"
)


@pytest.fixture
def valid_csv() -> bytes:
    """A one-row upload that passes validation (County Durham, 2025)."""
    return VALID_CSV


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The portal on an instance folder under tmp_path, CSRF protection on (as in production).

    Its environment is given explicitly, so no EXCHANGE_* variable of the caller leaks in; Celery
    runs tasks eagerly (in the request), so no broker or worker is needed.
    """
    from exchange.app import create_app
    from exchange.config import load_config

    # The refresh after an accepted upload (a national release rebuild) is switched off: tests
    # of the pipeline switch it on themselves.
    config = load_config(
        env={"EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance")},
        testing=True,
        refresh_after_accept=False,
    )
    app = create_app(config)
    app.extensions["celery"].conf.task_always_eager = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test: SQLite under tmp_path by default; PostgreSQL
    when EXCHANGE_TEST_DATABASE_URL names a server (CI sets it; scripts/test starts one).
    A PostgreSQL database is dropped after the test, whoever is still connected to it."""
    from database_support import fresh_database

    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def db_app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """The app on a fresh database with every table created from the models (the migrations
    are tested against the same models in tests/integration/test_migrations.py)."""
    from exchange.app import create_app
    from exchange.config import load_config
    from exchange.extensions import db
    from exchange.models import Base

    env = {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EXCHANGE_DATABASE_URL": database_url,
    }
    app = create_app(load_config(env=env, testing=True, refresh_after_accept=False))
    app.extensions["celery"].conf.task_always_eager = True
    with app.app_context():
        Base.metadata.create_all(db.engine)
    yield app
    # Close the pooled connections now: left to the garbage collector they would warn
    # (ResourceWarning, an error here) and keep the test database in use.
    with app.app_context():
        db.engine.dispose()
