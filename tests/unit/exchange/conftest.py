"""Fixtures shared by the portal tests of tests/unit/exchange."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from auth_support import FakeClock, enrol, make_user, post_password
from flask import Flask
from flask.testing import FlaskClient

from exchange.security import clock as clock_module


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture
def sign_in(db_app: Flask, clock: FakeClock) -> Callable[[str, str, str], FlaskClient]:
    """A client signed in as a new user with this email, role and organisation code."""

    def signed_in(email: str, role: str, org: str) -> FlaskClient:
        make_user(db_app, email, role=role, org=org)
        client = db_app.test_client()
        assert post_password(client, email=email).status_code == 303
        enrol(client, clock)
        return client

    return signed_in
