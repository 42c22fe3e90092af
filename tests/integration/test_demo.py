"""``exchange demo`` on a real database (PostgreSQL in CI), then the issue's acceptance path:
sign in as the demo LA submitter with a code from ``exchange demo code``, see the LA home with
the demo's accepted return, upload a synthetic correction, see its report, accept it, and see
version 2 in the history.

One period and a few LAs keep the test quick; ``exchange demo`` with its defaults loads every LA
for 2022-2025 the same way.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from exchange import audit
from exchange.actions.demo import DEMO_PASSWORD
from exchange.cli import main
from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    Organisation,
    SharingSetting,
    Submission,
    SubmissionVersion,
    User,
)
from schemas.synth import generate

pytestmark = pytest.mark.integration

SUBMITTER = "submitter.840@demo.exchange.invalid"
DEMO_ARGS = ["demo", "--periods", "2024", "--las", "840,841,202"]


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, list(args))


def csrf_token(client: FlaskClient, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"{path} has a form with a CSRF token"
    return match.group(1)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def sign_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token(client, "/sign-in"),
            "email": email,
            "password": DEMO_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in/mfa"  # MFA is already set up
    result = invoke(app, "demo", "code", email)
    assert result.exit_code == 0, result.output
    code = result.output.strip()
    assert re.fullmatch(r"\d{6}", code)
    response = client.post(
        "/sign-in/mfa", data={"csrf_token": csrf_token(client, "/sign-in/mfa"), "code": code}
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def demo_app(db_app: Flask) -> Flask:
    started = time.perf_counter()
    result = invoke(db_app, *DEMO_ARGS)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "database set up" in result.output
    assert "returns: 3 accepted, 0 already there" in result.output
    assert elapsed < 60, f"exchange demo took {elapsed:.1f} s"
    return db_app


def test_demo_loads_returns_sharing_and_users(demo_app: Flask) -> None:
    with demo_app.app_context():
        session = db.session
        versions = session.execute(
            select(Organisation.code, Submission.time_period, SubmissionVersion.number)
            .join(Submission, Submission.organisation_id == Organisation.id)
            .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
            .order_by(Organisation.code)
        ).all()
        assert [tuple(v) for v in versions] == [
            ("202", "2024", 1),
            ("840", "2024", 1),
            ("841", "2024", 1),
        ]
        assert {v.accepted_by_label for v in session.scalars(select(SubmissionVersion))} == {
            "system:demo"
        }
        # Sharing: the demo's settings, Camden private throughout, Darlington's exception.
        settings = {
            (org, s.domain, s.indicator_id): s.scope
            for org, s in session.execute(
                select(Organisation.code, SharingSetting).join(
                    Organisation, Organisation.id == SharingSetting.organisation_id
                )
            )
        }
        assert settings[("840", "reaching_families", None)] == "national"
        assert settings[("840", "conditions_culture", None)] == "alliance"
        assert settings[("840", "child_outcomes", "t5_domestic_violence")] == "alliance"
        # Private is the default, stored as no setting at all.
        assert settings[("841", "reaching_families", None)] == "national"
        assert ("841", "valued_involved", None) not in settings
        assert not any(org == "202" for org, _, _ in settings)
        # One demo user of each role, MFA set up, all in the reserved demo domain.
        users = session.scalars(select(User)).all()
        assert {u.role.value for u in users} == {
            "la_submitter", "la_viewer", "alliance_viewer", "analyst", "administrator"
        }  # fmt: skip
        assert all(u.email.endswith("@demo.exchange.invalid") for u in users)
        assert all(u.mfa_enrolled_at is not None for u in users)
        labels = set(session.scalars(select(AuditEvent.actor_label).distinct()))
        assert labels == {"system:demo"}
        assert audit.verify(session)[1] is None


def test_demo_again_adds_nothing(demo_app: Flask) -> None:
    with demo_app.app_context():
        before = db.session.scalar(select(func.count(AuditEvent.id)))
        secret = db.session.scalars(select(User).where(User.email == SUBMITTER)).one()
        sealed = secret.totp_secret_encrypted
    started = time.perf_counter()
    result = invoke(demo_app, *DEMO_ARGS)
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 10
    assert "returns: 0 accepted, 3 already there" in result.output
    assert "sharing: 0 settings made" in result.output
    assert f"password for every one: {DEMO_PASSWORD}" in result.output
    assert SUBMITTER in result.output
    assert "otpauth://totp/" in result.output
    with demo_app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id))) == before
        user = db.session.scalars(select(User).where(User.email == SUBMITTER)).one()
        assert user.totp_secret_encrypted == sealed


def test_demo_code_refuses_accounts_outside_the_demo_domain(demo_app: Flask) -> None:
    result = invoke(demo_app, "demo", "code", "someone@durham.gov.uk")
    assert result.exit_code == 1
    assert "only for demo accounts" in result.output
    result = invoke(demo_app, "demo", "code", "nobody@demo.exchange.invalid")
    assert result.exit_code == 1
    with demo_app.app_context():
        issued = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "demo_code_issued")
        ).all()
        assert issued == []


def test_demo_submitter_corrects_a_return(demo_app: Flask) -> None:
    client = sign_in(demo_app, SUBMITTER)
    home = text_of(client.get("/submissions").get_data(as_text=True))
    assert "County Durham" in home
    assert "Reporting year 2024 Current Version 1: 840_county-durham_2024.csv" in home
    assert "Reporting year 2025 Not submitted" in home

    # A correction: the same LA and period with other (synthetic) figures.
    correction = generate([2024], 7, las=["840"]).to_csv(index=False).encode("utf-8")
    response = client.post(
        "/submissions/upload",
        data={
            "csrf_token": csrf_token(client, "/submissions/upload"),
            "file": (io.BytesIO(correction), "840_correction_2024.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    check = response.headers["Location"]
    job_id = check.rsplit("/", 1)[1]
    report = client.get(check).get_data(as_text=True)
    assert "Your file is valid" in report
    response = client.post(
        f"/submissions/uploads/{job_id}/accept", data={"csrf_token": csrf_token(client, check)}
    )
    assert response.status_code == 303
    history = text_of(client.get("/submissions/history").get_data(as_text=True))
    assert "accepted as version 2" in history
    assert "840_correction_2024.csv" in history
    assert "Superseded" in history
    assert f"by user:{SUBMITTER}" in history
    assert "by system:demo" in history
    home = text_of(client.get("/submissions").get_data(as_text=True))
    assert "Reporting year 2024 Current Version 2: 840_correction_2024.csv" in home


def test_demo_code_works_again_right_after_a_sign_in(demo_app: Flask) -> None:
    # A code is accepted once: a second sign-in within the same 30 seconds gets the next
    # step's code, which the clock-drift window accepts.
    first = sign_in(demo_app, SUBMITTER)
    second = sign_in(demo_app, SUBMITTER)
    assert second.get("/submissions").status_code == 200
    assert first.get("/account").status_code == 200
    with demo_app.app_context():
        issued = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "demo_code_issued")
        ).all()
        assert [e.actor_label for e in issued] == ["system:demo", "system:demo"]
        assert all("code" not in e.details for e in issued)
