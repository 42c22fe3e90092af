"""Helpers shared by the test_auth_* modules: users made through the account actions, a clock
the tests move by hand, and the sign-in steps driven through the portal with CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from exchange.actions import accounts
from exchange.actions.organisations import ensure_default_organisations
from exchange.extensions import db
from exchange.models import Organisation, User
from exchange.security import mfa
from exchange.security.principals import system_principal

PASSWORD = "tangerine kettle orbit swimming"
EMAIL = "sam.submitter@durham.example"
LA_CODE = "840"  # County Durham


class FakeClock:
    """Stands in for ``exchange.security.clock.now``; tests move it with :meth:`advance`."""

    def __init__(self, start: datetime | None = None) -> None:
        # Mid-step, so a 30-second TOTP step boundary is never crossed by accident.
        self.now = start or datetime(2026, 3, 2, 9, 0, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_user(
    app: Flask,
    email: str = EMAIL,
    *,
    role: str = "la_submitter",
    org: str = LA_CODE,
    password: str = PASSWORD,
) -> int:
    """A user created by the account action (organisations from reference data first)."""
    with app.app_context():
        if db.session.query(Organisation.id).first() is None:
            ensure_default_organisations(db.session)
        user = accounts.create_user(
            db.session,
            system_principal("system:test"),
            email=email,
            name="Sam Submitter",
            organisation_code=org,
            role=role,
            password=password,
        )
        return user.id


def load_user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        db.session.expunge(user)
        return user


def stored_secret(app: Flask, user_id: int) -> str:
    """The user's TOTP secret, unsealed from the database."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        assert user.totp_secret_encrypted is not None
        return mfa.open_totp_secret(user.totp_secret_encrypted)


def totp(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock())


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"{path} has a form with a CSRF token"
    return match.group(1)


def post_password(
    client: FlaskClient, email: str = EMAIL, password: str = PASSWORD, next_url: str = ""
) -> TestResponse:
    path = "/sign-in" + (f"?next={next_url}" if next_url else "")
    data = {"csrf_token": csrf_token(client, path), "email": email, "password": password}
    return client.post(path, data=data)


def post_code(client: FlaskClient, code: str, path: str = "/sign-in/mfa") -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client, path), "code": code})


def setup_secret(client: FlaskClient) -> str:
    """The secret shown on the MFA set-up page (what a person types into their app)."""
    html = client.get("/mfa/setup").get_data(as_text=True)
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
    assert match, "the set-up page shows the secret as text"
    return match.group(1).replace(" ", "")


def recovery_codes_on(html: str) -> list[str]:
    return re.findall(r'<span class="app-code">([a-z2-9]{5}-[a-z2-9]{5})</span>', html)


def enrol(client: FlaskClient, clock: FakeClock) -> tuple[str, list[str]]:
    """After the password step of a user without MFA: set it up; returns (secret, codes)."""
    secret = setup_secret(client)
    response = post_code(client, totp(secret, clock), "/mfa/setup")
    assert response.status_code == 200
    codes = recovery_codes_on(response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def sign_in_new_user(client: FlaskClient, clock: FakeClock) -> tuple[str, list[str]]:
    """Password, then MFA set-up: the user ends fully signed in."""
    assert post_password(client).status_code == 303
    return enrol(client, clock)


def sign_in(client: FlaskClient, secret: str, clock: FakeClock, **kw: str) -> TestResponse:
    """Password then a TOTP code, for a user who has MFA (moves the clock to a fresh step)."""
    response = post_password(client, **kw)
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in/mfa"
    clock.advance(seconds=30)
    return post_code(client, totp(secret, clock))
