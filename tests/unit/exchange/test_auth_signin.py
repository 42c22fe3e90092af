"""Signing in through the portal, with CSRF protection on (the ``db_app`` fixture's default):
the two steps, MFA set-up, the guard, lockout, throttling, timeouts, signing out, and the
audit trail that all of it leaves (with no password or code in it, nor in the logs)."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest
from auth_support import (
    EMAIL,
    PASSWORD,
    FakeClock,
    csrf_token,
    enrol,
    load_user,
    make_user,
    post_code,
    post_password,
    sign_in,
    sign_in_new_user,
    totp,
)
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from exchange import audit
from exchange.actions import accounts
from exchange.extensions import db
from exchange.models import AuditEvent, Role, User
from exchange.security import clock as clock_module
from exchange.security.auth import (
    current_account,
    current_organisation,
    current_principal,
    login_required_mfa,
    protect_blueprint,
)
from exchange.security.policy import Permission, requires
from exchange.security.principals import system_principal

LOCKED = "Your account is locked because of too many failed attempts to sign in"
GENERIC = "Enter a correct email address and password"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture
def user_id(db_app: Flask) -> int:
    return make_user(db_app)


@pytest.fixture
def client(db_app: Flask) -> FlaskClient:
    return db_app.test_client()


@pytest.fixture
def signed_in(client: FlaskClient, user_id: int, clock: FakeClock) -> str:
    """The user has set up MFA and is signed in on ``client``; returns their TOTP secret."""
    secret, _ = sign_in_new_user(client, clock)
    return secret


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.seq)]


def audit_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.query(AuditEvent).order_by(AuditEvent.seq).all()
        db.session.expunge_all()
        return events


def regenerate(client: FlaskClient, code: str) -> TestResponse:
    token = csrf_token(client, "/account")
    return client.post("/account/recovery-codes", data={"csrf_token": token, "code": code})


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    return False


# -- the pages and CSRF --------------------------------------------------------------------------


def test_sign_in_page_has_labelled_fields_and_csrf_token(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label class="govuk-label govuk-label--s" for="email">Email address</label>' in html
    assert 'autocomplete="current-password"' in html
    assert 'name="csrf_token"' in html
    assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_post_without_csrf_token_is_refused(client: FlaskClient, user_id: int) -> None:
    response = client.post("/sign-in", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert "auth_pending_user" not in (client.get_cookie("session") or "")


def test_mfa_and_sign_out_posts_without_csrf_token_are_refused(
    client: FlaskClient, signed_in: str
) -> None:
    assert client.post("/sign-out").status_code == 400
    assert is_signed_in(client)
    assert client.post("/account/recovery-codes", data={"code": "123456"}).status_code == 400


def test_sign_in_empty_fields_show_errors(client: FlaskClient) -> None:
    response = client.post("/sign-in", data={"csrf_token": csrf_token(client, "/sign-in")})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your email address" in html
    assert "Enter your password" in html
    assert "<title>Error: Sign in" in html


# -- the two steps -------------------------------------------------------------------------------


def test_sign_in_new_user_sets_up_mfa_then_is_signed_in(
    db_app: Flask, client: FlaskClient, user_id: int, clock: FakeClock
) -> None:
    response = post_password(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/mfa/setup"

    page = client.get("/mfa/setup").get_data(as_text=True)
    assert '<svg width="' in page  # the QR code, inline
    assert not is_signed_in(client)

    enrol(client, clock)
    assert is_signed_in(client)
    account = client.get("/account").get_data(as_text=True)
    assert "County Durham" in account
    assert "Local authority submitter" in account
    assert "10 of 10 unused" in account
    assert load_user(db_app, user_id).mfa_enrolled_at == clock()


def test_mfa_setup_keeps_the_same_secret_across_reloads_and_mistakes(
    client: FlaskClient, user_id: int, clock: FakeClock
) -> None:
    post_password(client)
    first = client.get("/mfa/setup").get_data(as_text=True)
    response = post_code(client, "000000", "/mfa/setup")
    assert response.status_code == 400
    assert "Enter a correct code" in response.get_data(as_text=True)
    second = client.get("/mfa/setup").get_data(as_text=True)
    secret = first.split('id="totp-secret">')[1].split("<")[0]
    assert secret in second


def test_sign_in_with_totp_code(client: FlaskClient, signed_in: str, clock: FakeClock) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    response = post_password(client)
    assert response.headers["Location"] == "/sign-in/mfa"
    assert not is_signed_in(client)
    clock.advance(seconds=30)
    response = post_code(client, totp(signed_in, clock))
    assert response.status_code == 303
    assert response.headers["Location"] == "/submissions"  # an LA submitter's home
    assert is_signed_in(client)


def test_sign_in_reused_totp_code_is_refused(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    # The code that completed set-up cannot complete another sign-in.
    other = db_app.test_client()
    post_password(other)
    response = post_code(other, totp(signed_in, clock))
    assert response.status_code == 400
    assert "Enter a correct code" in response.get_data(as_text=True)
    assert not is_signed_in(other)


def test_sign_in_with_recovery_code_uses_it_up(
    db_app: Flask, client: FlaskClient, user_id: int, clock: FakeClock
) -> None:
    _, codes = sign_in_new_user(client, clock)
    other = db_app.test_client()
    post_password(other)
    assert post_code(other, codes[0]).status_code == 303
    assert "9 of 10 unused" in other.get("/account").get_data(as_text=True)

    third = db_app.test_client()
    post_password(third)
    assert post_code(third, codes[0]).status_code == 400


def test_sign_in_wrong_password_and_unknown_email_look_the_same(
    client: FlaskClient, user_id: int
) -> None:
    wrong = post_password(client, password="not the right password")
    unknown = post_password(client, email="nobody@nowhere.example")
    assert wrong.status_code == unknown.status_code == 400
    assert GENERIC in wrong.get_data(as_text=True)
    assert GENERIC in unknown.get_data(as_text=True)
    assert not is_signed_in(client)


def test_sign_in_inactive_user_gets_the_generic_error(
    db_app: Flask, client: FlaskClient, user_id: int
) -> None:
    with db_app.app_context():
        db.session.get(User, user_id).is_active = False
        db.session.commit()
    response = post_password(client)
    assert response.status_code == 400
    assert GENERIC in response.get_data(as_text=True)


def test_sign_in_goes_to_a_local_next_page_only(
    client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    response = sign_in(client, signed_in, clock, next_url=quote("/account/password"))
    assert response.headers["Location"] == "/account/password"

    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    response = sign_in(client, signed_in, clock, next_url=quote("//evil.example/x"))
    assert response.headers["Location"] == "/submissions"


def test_guard_sends_anonymous_user_to_sign_in_with_next(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/account"


# -- the pending state and the guard -------------------------------------------------------------


@pytest.fixture
def guarded_app(db_app: Flask) -> Flask:
    """The app plus pages guarded each way another blueprint can guard them."""
    protected = protect_blueprint(Blueprint("protected_test", __name__))

    @protected.get("/protected-test")
    @requires(Permission.SIGNED_IN)
    def whole_blueprint() -> str:
        org = current_organisation()
        return f"hello {current_account().email} of {org.code}"

    single = Blueprint("single_test", __name__)

    @single.get("/single-test")
    @requires(Permission.SIGNED_IN)
    @login_required_mfa
    def one_view() -> str:
        return "one view"

    @single.get("/admin-test")
    @requires(Permission.ADMINISTER)
    def admin_only() -> str:
        return "administration"

    @single.get("/submit-test")
    @requires(Permission.LA_SUBMIT)
    def submit() -> str:
        principal = current_principal()
        assert principal is not None
        return f"submitter of {principal.organisation_id}"

    @single.get("/public-test")
    @requires(Permission.PUBLIC)
    def public() -> str:
        return "public"

    api = protect_blueprint(Blueprint("api_test", __name__, url_prefix="/api/test"))

    @api.get("/thing")
    @requires(Permission.SIGNED_IN)
    def api_thing() -> dict[str, str]:
        return {"ok": "yes"}

    @single.get("/undeclared-test")
    def undeclared() -> str:
        return "no permission declared"

    db_app.register_blueprint(protected)
    db_app.register_blueprint(single)
    db_app.register_blueprint(api)
    return db_app


@pytest.mark.parametrize("path", ["/protected-test", "/single-test", "/submit-test", "/account"])
def test_pending_session_cannot_reach_protected_pages(
    guarded_app: Flask, user_id: int, clock: FakeClock, path: str
) -> None:
    client = guarded_app.test_client()
    post_password(client)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/mfa/setup"
    enrol(client, clock)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    post_password(client)
    response = client.get(path)
    assert response.headers["Location"] == "/sign-in/mfa"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/protected-test", "hello sam.submitter@durham.example of 840"),
        ("/single-test", "one view"),
        ("/public-test", "public"),
    ],
)
def test_guard_lets_a_signed_in_user_through(
    guarded_app: Flask, user_id: int, clock: FakeClock, path: str, expected: str
) -> None:
    client = guarded_app.test_client()
    sign_in_new_user(client, clock)
    assert client.get(path).get_data(as_text=True) == expected


def test_guard_checks_the_policy_for_marked_views(
    guarded_app: Flask, user_id: int, clock: FakeClock
) -> None:
    client = guarded_app.test_client()
    assert client.get("/admin-test").status_code == 302
    assert client.get("/public-test").status_code == 200
    sign_in_new_user(client, clock)
    assert client.get("/admin-test").status_code == 403
    assert client.get("/submit-test").get_data(as_text=True).startswith("submitter of ")


def test_guard_answers_401_json_under_api(guarded_app: Flask) -> None:
    response = guarded_app.test_client().get("/api/test/thing")
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401


def test_pending_sign_in_expires(client: FlaskClient, user_id: int, clock: FakeClock) -> None:
    post_password(client)
    clock.advance(minutes=16)
    response = client.get("/mfa/setup")
    assert response.headers["Location"] == "/sign-in"
    assert "Your sign-in timed out" in client.get("/sign-in").get_data(as_text=True)


def test_second_step_pages_without_a_pending_sign_in(client: FlaskClient) -> None:
    for path in ("/sign-in/mfa", "/mfa/setup"):
        assert client.get(path).headers["Location"] == "/sign-in"
    assert "timed out" not in client.get("/sign-in").get_data(as_text=True)


def test_second_step_pages_leave_a_signed_in_user_signed_in(
    client: FlaskClient, signed_in: str
) -> None:
    for path in ("/sign-in/mfa", "/mfa/setup", "/sign-in"):
        assert client.get(path).headers["Location"] == "/submissions"
    assert is_signed_in(client)


# -- lockout ---------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_15_minutes(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    for _ in range(4):
        assert GENERIC in post_password(client, password="wrong password!").get_data(as_text=True)
    fifth = post_password(client, password="wrong password!").get_data(as_text=True)
    assert LOCKED in fifth
    assert "Try again after 9:15am" in fifth  # 09:00 UTC + 15 minutes, GMT in March

    # Locked: even the right password is refused.
    response = post_password(client)
    assert response.status_code == 400
    assert LOCKED in response.get_data(as_text=True)

    clock.advance(minutes=15, seconds=1)
    assert sign_in(client, signed_in, clock).status_code == 303
    assert is_signed_in(client)
    assert load_user(db_app, load_user_id(db_app)).failed_logins == 0


def load_user_id(app: Flask) -> int:
    with app.app_context():
        return db.session.query(User.id).filter_by(email=EMAIL).scalar()


def test_wrong_codes_count_towards_lockout_and_end_the_pending_sign_in(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    post_password(client, password="wrong password!")
    post_password(client)
    for _ in range(3):
        assert post_code(client, "000000").status_code == 400
    response = post_code(client, "000000")
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in"
    assert LOCKED in client.get("/sign-in").get_data(as_text=True)
    assert client.get("/sign-in/mfa").headers["Location"] == "/sign-in"


def test_successful_sign_in_resets_the_failure_count(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    for _ in range(4):
        post_password(client, password="wrong password!")
    assert sign_in(client, signed_in, clock).status_code == 303
    # Another address, so that the rate limit (10 a minute per address) stays out of the way.
    client = db_app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert load_user(db_app, load_user_id(db_app)).failed_logins == 0
    # Without the reset, the first of these would have been the fifth failure in a row.
    for _ in range(4):
        response = post_password(client, password="wrong password!")
        assert GENERIC in response.get_data(as_text=True)
    assert LOCKED in post_password(client, password="wrong!password").get_data(as_text=True)


def test_password_alone_does_not_reset_the_failure_count(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    for _ in range(4):
        post_password(client, password="wrong password!")
    post_password(client)  # right password, no code
    assert load_user(db_app, load_user_id(db_app)).failed_logins == 4


def test_unknown_email_never_shows_a_lock(client: FlaskClient, user_id: int) -> None:
    for _ in range(7):
        response = post_password(client, email="nobody@nowhere.example")
        assert GENERIC in response.get_data(as_text=True)
        assert LOCKED not in response.get_data(as_text=True)


# -- throttling ------------------------------------------------------------------------------


def test_sign_in_posts_are_rate_limited_per_ip(client: FlaskClient) -> None:
    statuses = [
        post_password(client, email=f"nobody{i}@nowhere.example").status_code for i in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429
    assert client.get("/sign-in").status_code == 200  # only POSTs are limited
    response = post_password(client, email="nobody@nowhere.example")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_mfa_posts_are_rate_limited(client: FlaskClient, user_id: int) -> None:
    post_password(client)
    # The set-up page is not limited, the code page is: prove it with a signed-in user's peer.
    statuses = [
        client.post("/sign-in/mfa", data={"csrf_token": csrf_token(client, "/sign-in")}).status_code
        for _ in range(11)
    ]
    assert statuses[-1] == 429
    assert 429 not in statuses[:10]


# -- timeouts and session versions ---------------------------------------------------------------


def test_idle_timeout_signs_out_after_30_minutes(
    client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    clock.advance(minutes=29)
    assert is_signed_in(client)
    clock.advance(minutes=29)  # activity above restarted the idle clock
    assert is_signed_in(client)
    clock.advance(minutes=30, seconds=1)
    assert not is_signed_in(client)
    page = client.get("/sign-in").get_data(as_text=True)
    assert "you had not used the exchange for 30 minutes" in page


def test_absolute_timeout_signs_out_after_12_hours(
    client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    for _ in range(12 * 60 // 20):
        clock.advance(minutes=20)
        assert is_signed_in(client)
    clock.advance(seconds=1)
    assert not is_signed_in(client)
    assert "you signed in more than 12 hours ago" in client.get("/sign-in").get_data(as_text=True)


def test_session_version_bump_signs_out(db_app: Flask, client: FlaskClient, signed_in: str) -> None:
    with db_app.app_context():
        db.session.query(User).filter_by(email=EMAIL).one().session_version += 1
        db.session.commit()
    assert not is_signed_in(client)
    assert "your account changed" in client.get("/sign-in").get_data(as_text=True)


def test_reset_mfa_signs_out_and_requires_set_up_again(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    with db_app.app_context():
        accounts.reset_mfa(db.session, system_principal(), EMAIL)
    assert not is_signed_in(client)
    assert post_password(client).headers["Location"] == "/mfa/setup"


def test_session_is_rotated_at_each_step(
    client: FlaskClient, user_id: int, clock: FakeClock
) -> None:
    client.get("/sign-in")
    before = client.get_cookie("session")
    assert before is not None
    post_password(client)
    pending = client.get_cookie("session")
    assert pending is not None
    assert pending.value != before.value
    enrol(client, clock)
    full = client.get_cookie("session")
    assert full is not None
    assert full.value != pending.value
    assert full.http_only
    assert full.same_site == "Lax"


def test_session_cookie_is_secure_when_configured(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from exchange.app import create_app
    from exchange.config import load_config

    env = {
        "EXCHANGE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EXCHANGE_DATABASE_URL": database_url,
        "EXCHANGE_SECURE_COOKIES": "1",
    }
    app = create_app(load_config(env=env, testing=True))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/sign-in", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


# -- signing out -------------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_every_copy_of_it(
    db_app: Flask, client: FlaskClient, signed_in: str
) -> None:
    stolen = client.get_cookie("session")
    assert stolen is not None
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in"
    assert "You have signed out" in client.get("/sign-in").get_data(as_text=True)
    assert not is_signed_in(client)

    replay = db_app.test_client()
    replay.set_cookie("session", stolen.value)
    assert not is_signed_in(replay)


def test_sign_out_from_a_pending_sign_in(client: FlaskClient, user_id: int) -> None:
    post_password(client)
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/mfa/setup")})
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/mfa/setup").headers["Location"] == "/sign-in"


def test_sign_out_is_post_only(client: FlaskClient, signed_in: str) -> None:
    assert client.get("/sign-out").status_code == 405
    assert is_signed_in(client)


# -- the account page --------------------------------------------------------------------------


def test_regenerate_recovery_codes_needs_a_totp_code(
    client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    response = regenerate(client, "000000")
    assert response.status_code == 400
    assert "Enter a correct code" in response.get_data(as_text=True)
    clock.advance(seconds=30)
    response = regenerate(client, totp(signed_in, clock))
    assert response.status_code == 200
    assert "Your new recovery codes" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def test_change_password_keeps_this_session_and_ends_others(
    db_app: Flask, client: FlaskClient, signed_in: str, clock: FakeClock
) -> None:
    other = db_app.test_client()
    sign_in(other, signed_in, clock)
    assert is_signed_in(other)

    new = "a different but memorable phrase"
    data = {
        "csrf_token": csrf_token(client, "/account/password"),
        "current_password": PASSWORD,
        "new_password": new,
        "confirm_password": new,
    }
    response = client.post("/account/password", data=data)
    assert response.status_code == 303
    assert "Your password has been changed" in client.get("/account").get_data(as_text=True)
    assert not is_signed_in(other)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    assert post_password(client, password=new).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong current password", "a different but memorable phrase", "correct current password"),
        (PASSWORD, "password1234", "too easy to guess"),
        (PASSWORD, "short", "12 characters or more"),
    ],
)
def test_change_password_errors(
    client: FlaskClient, signed_in: str, current: str, new: str, message: str
) -> None:
    data = {
        "csrf_token": csrf_token(client, "/account/password"),
        "current_password": current,
        "new_password": new,
        "confirm_password": new,
    }
    response = client.post("/account/password", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert is_signed_in(client)


# -- audit and logs ----------------------------------------------------------------------------


def test_sign_in_flows_are_audited_and_the_chain_verifies(
    db_app: Flask, client: FlaskClient, user_id: int, clock: FakeClock
) -> None:
    _, codes = sign_in_new_user(client, clock)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    post_password(client, email="nobody@nowhere.example")
    post_password(client)
    post_code(client, "000000")
    post_code(client, codes[0])
    for _ in range(5):
        post_password(db_app.test_client(), password="wrong password!")

    assert audit_actions(db_app) == [
        "default_organisations_ensured",
        "user_created",
        "mfa_enrolled",
        "login_success",
        "logout",
        "login_failed",
        "mfa_failed",
        "recovery_code_used",
        "login_success",
        "login_failed",
        "login_failed",
        "login_failed",
        "login_failed",
        "login_failed",
        "account_locked",
    ]
    events = audit_events(db_app)
    unknown = events[5]
    assert unknown.actor_label == "unknown"
    assert unknown.actor_user_id is None
    assert unknown.outcome == "failure"
    assert "nobody" not in json.dumps(unknown.details)
    failed = events[9]
    assert failed.actor_label == f"user:{EMAIL}"
    assert failed.actor_user_id == user_id
    assert failed.details == {"reason": "password"}
    assert events[1].actor_label == "system:test"
    with db_app.app_context():
        count, broken = audit.verify(db.session)
    assert count == len(events)
    assert broken is None


def test_no_password_or_code_in_audit_details_or_logs(
    db_app: Flask,
    client: FlaskClient,
    user_id: int,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_password = "wrong-password-canary-1"
    secret, codes = sign_in_new_user(client, clock)
    enrol_code = totp(secret, clock)
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/account")})
    post_password(client, password=wrong_password)
    post_password(client)
    post_code(client, "987654")
    post_code(client, codes[1])
    clock.advance(seconds=30)
    regenerate(client, totp(secret, clock))
    new_password = "new-password-canary-2 long"
    form = {
        "csrf_token": csrf_token(client, "/account/password"),
        "current_password": PASSWORD,
        "new_password": new_password,
        "confirm_password": new_password,
    }
    client.post("/account/password", data=form)

    secrets = [PASSWORD, wrong_password, new_password, secret, enrol_code, "987654", *codes]
    audit_text = json.dumps([(e.actor_label, e.details) for e in audit_events(db_app)])
    assert "recovery_codes_regenerated" in audit_actions(db_app)
    assert "password_changed" in audit_actions(db_app)
    for value in secrets:
        assert value not in audit_text
        assert value not in caplog.text
    assert "signed in" in caplog.text  # the logs did record the events


def test_guard_refuses_a_view_without_a_declared_permission(guarded_app: Flask) -> None:
    # Fail closed: a route added without @requires is forbidden to everyone, even anonymous.
    assert guarded_app.test_client().get("/undeclared-test").status_code == 403


@pytest.mark.parametrize(
    ("role", "endpoint"),
    [
        (Role.LA_SUBMITTER, "submissions.home"),
        (Role.LA_VIEWER, "submissions.home"),
        (Role.ALLIANCE_VIEWER, "alliance.index"),
        (Role.ADMINISTRATOR, "admin.home"),
        (Role.ANALYST, "auth.account"),
    ],
)
def test_landing_endpoint_is_the_roles_home(app: Flask, role: Role, endpoint: str) -> None:
    from types import SimpleNamespace

    from exchange.security.auth import landing_endpoint

    with app.test_request_context():
        assert landing_endpoint(SimpleNamespace(role=role)) == endpoint  # type: ignore[arg-type]
