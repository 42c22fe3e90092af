"""Fixtures shared across the suite: a portal app on a temporary instance folder, and a valid file.

Kept minimal: anything only one test module needs lives in that module.
"""

from __future__ import annotations

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

    config = load_config(env={"EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance")}, testing=True)
    app = create_app(config)
    app.extensions["celery"].conf.task_always_eager = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
