"""``exchange users …``: create, set-role, reset-mfa and list, audited as ``system:cli``; and the
account actions' own checks (administrators only, role fits the organisation)."""

from __future__ import annotations

import re

import pytest
from auth_support import PASSWORD, FakeClock, make_user, post_password, sign_in_new_user
from flask import Flask

from exchange.actions import accounts
from exchange.actions.organisations import ensure_default_organisations
from exchange.cli import main
from exchange.extensions import db
from exchange.models import AuditEvent, Role, User
from exchange.security import clock as clock_module
from exchange.security import passwords
from exchange.security.principals import system_principal


@pytest.fixture
def orgs(db_app: Flask) -> Flask:
    with db_app.app_context():
        ensure_default_organisations(db.session)
    return db_app


def invoke(app: Flask, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["users", *args], input=stdin)


def last_event(app: Flask) -> AuditEvent:
    with app.app_context():
        event = db.session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        assert event is not None
        db.session.expunge(event)
        return event


def test_users_create_generates_and_prints_a_strong_password_once(orgs: Flask) -> None:
    result = invoke(
        orgs, "create", "--email", "Ana@Leeds.example", "--name", "Ana", "--org", "383",
        "--role", "la_viewer",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    match = re.search(r"Password \(shown once\): (\S+)", result.output)
    assert match
    password = match.group(1)
    assert len(password) >= 24
    assert passwords.password_problems(password) == []
    with orgs.app_context():
        user = db.session.query(User).filter_by(email="ana@leeds.example").one()
        assert user.role is Role.LA_VIEWER
        assert user.organisation.code == "383"
        assert passwords.verify_password(user.password_hash, password)
    event = last_event(orgs)
    assert event.action == "user_created"
    assert event.actor_label == "system:cli"
    assert event.details == {"role": "la_viewer", "organisation": "383"}
    assert password not in str(event.details)


def test_users_create_reads_the_password_from_stdin(orgs: Flask) -> None:
    result = invoke(
        orgs, "create", "--email", "bo@national.example", "--name", "Bo", "--org", "national",
        "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    assert post_password(orgs.test_client(), "bo@national.example", PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--org", "383", "--role", "analyst"], None, "cannot belong to 383"),
        (["--org", "nope", "--role", "la_viewer"], None, "no organisation has the code 'nope'"),
        (["--org", "383", "--role", "la_viewer", "--password-stdin"], "short\n", "12 characters"),
    ],
)
def test_users_create_refusals(
    orgs: Flask, args: list[str], stdin: str | None, message: str
) -> None:
    result = invoke(orgs, "create", "--email", "cy@x.example", "--name", "Cy", *args, stdin=stdin)
    assert result.exit_code == 1
    assert message in result.output
    with orgs.app_context():
        assert db.session.query(User).count() == 0


def test_users_create_refuses_a_duplicate_email(orgs: Flask) -> None:
    make_user(orgs, "dee@durham.example")
    result = invoke(
        orgs, "create", "--email", "DEE@durham.example", "--name", "Dee", "--org", "840",
        "--role", "la_viewer",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_users_set_role_is_audited(orgs: Flask) -> None:
    make_user(orgs, "ed@durham.example")
    result = invoke(orgs, "set-role", "ed@durham.example", "la_viewer")
    assert result.exit_code == 0, result.output
    event = last_event(orgs)
    assert event.action == "role_changed"
    assert event.actor_label == "system:cli"
    assert event.details == {"old": "la_submitter", "new": "la_viewer"}


def test_users_set_role_refuses_a_role_outside_the_organisation(orgs: Flask) -> None:
    make_user(orgs, "ed@durham.example")
    result = invoke(orgs, "set-role", "ed@durham.example", "administrator")
    assert result.exit_code == 1
    assert "cannot belong to 840" in result.output


def test_users_reset_mfa_makes_the_user_set_it_up_again(
    orgs: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    make_user(orgs)
    sign_in_new_user(orgs.test_client(), fake)
    result = invoke(orgs, "reset-mfa", "sam.submitter@durham.example")
    assert result.exit_code == 0, result.output
    assert last_event(orgs).action == "mfa_reset"
    assert post_password(orgs.test_client()).headers["Location"] == "/mfa/setup"


def test_users_reset_mfa_unknown_email(orgs: Flask) -> None:
    result = invoke(orgs, "reset-mfa", "nobody@x.example")
    assert result.exit_code == 1
    assert "no user has the email address" in result.output


def test_users_list_filters_by_organisation(orgs: Flask) -> None:
    make_user(orgs, "fi@durham.example")
    make_user(orgs, "gu@platform.example", role="administrator", org="platform")
    everyone = invoke(orgs, "list")
    assert everyone.exit_code == 0
    assert "fi@durham.example\t840\tla_submitter\tMFA not set up" in everyone.output
    assert "gu@platform.example" in everyone.output
    platform = invoke(orgs, "list", "--org", "platform")
    assert "fi@durham.example" not in platform.output
    assert "gu@platform.example\tplatform\tadministrator" in platform.output


def test_account_administration_needs_an_administrator(orgs: Flask) -> None:
    from exchange.security.principals import principal_for_user

    make_user(orgs, "hu@durham.example")
    with orgs.app_context():
        submitter = db.session.query(User).filter_by(email="hu@durham.example").one()
        principal = principal_for_user(db.session, submitter)
        with pytest.raises(PermissionError):
            accounts.set_role(db.session, principal, "hu@durham.example", "la_viewer")
        with pytest.raises(PermissionError):
            accounts.reset_mfa(db.session, principal, "hu@durham.example")
        assert submitter.role is Role.LA_SUBMITTER
    event = last_event(orgs)
    assert event.action == "mfa_reset"
    assert event.outcome == "denied"
    assert event.actor_label == "user:hu@durham.example"


def test_actions_normalise_the_email(orgs: Flask) -> None:
    with orgs.app_context():
        user = accounts.create_user(
            db.session,
            system_principal(),
            email="  Iris@Durham.Example ",
            name="Iris",
            organisation_code="840",
            role="la_viewer",
            password=PASSWORD,
        )
        assert user.email == "iris@durham.example"
        assert accounts.find_user(db.session, "IRIS@durham.example") is not None
