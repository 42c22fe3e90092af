"""The submissions pages: LA home, upload, the check's report, accept/discard, history, withdraw.

Users sign in through the portal (password, then MFA set-up) with CSRF protection on, so every
POST carries the token of its form. Celery runs eagerly, so a large file's background check
runs in the request.
"""

from __future__ import annotations

import dataclasses
import io
import re
import uuid
from collections.abc import Callable

import pytest
from auth_support import FakeClock, csrf_token, enrol, make_user, post_password
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    IndicatorValue,
    PendingUpload,
    PendingUploadStatus,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security import clock as clock_module
from schemas.synth import generate

SUBMITTER = "sub@durham.example"
VIEWER = "viewer@durham.example"
NEIGHBOUR = "sub@darlington.example"


def synthetic_csv(year: int = 2024, seed: int = 7, la: str = "840") -> bytes:
    return generate([year], seed, las=[la]).to_csv(index=False).encode("utf-8")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture
def sign_in(db_app: Flask, clock: FakeClock) -> Callable[[str, str, str], FlaskClient]:
    """A client signed in as a new user with this email, role and LA code."""

    def signed_in(email: str, role: str, org: str) -> FlaskClient:
        make_user(db_app, email, role=role, org=org)
        client = db_app.test_client()
        assert post_password(client, email=email).status_code == 303
        enrol(client, clock)
        return client

    return signed_in


@pytest.fixture
def submitter(sign_in: Callable[[str, str, str], FlaskClient]) -> FlaskClient:
    return sign_in(SUBMITTER, "la_submitter", "840")


def upload(client: FlaskClient, data: bytes, filename: str = "return.csv") -> TestResponse:
    form = {
        "csrf_token": csrf_token(client, "/submissions/upload"),
        "file": (io.BytesIO(data), filename),
    }
    return client.post("/submissions/upload", data=form, content_type="multipart/form-data")


def job_id_of(response: TestResponse) -> str:
    assert response.status_code == 303
    match = re.fullmatch(r"/submissions/checks/([0-9a-f-]{36})", response.headers["Location"])
    assert match
    return match.group(1)


def post_form(client: FlaskClient, page: str, action: str, **data: str) -> TestResponse:
    """POST ``action`` with the CSRF token of the form on ``page``."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- pages ----------------------------------------------------------------------------------------


def test_home_anonymous_user_is_sent_to_sign_in(db_app: Flask) -> None:
    response = db_app.test_client().get("/submissions")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_home_lists_each_period_as_not_submitted(submitter: FlaskClient) -> None:
    html = submitter.get("/submissions").get_data(as_text=True)
    text = text_of(html)
    for year in (2025, 2024, 2023, 2022):
        assert f"Reporting year {year} Not submitted" in text
    assert 'href="/submissions/upload"' in html
    assert "you share 0 nationally and 0 with your alliances; 125 are private" in text
    assert 'href="/sharing"' in html


def test_upload_valid_file_then_accept_lands_in_history(
    db_app: Flask, submitter: FlaskClient
) -> None:
    data = synthetic_csv()
    job_id = job_id_of(upload(submitter, data))

    page = submitter.get(f"/submissions/checks/{job_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Your file is valid" in html
    assert f'action="/submissions/uploads/{job_id}/accept"' in html
    assert count(db_app, SubmissionVersion) == 0

    response = post_form(
        submitter, f"/submissions/checks/{job_id}", f"/submissions/uploads/{job_id}/accept"
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/submissions/history#submission-")
    history = text_of(submitter.get("/submissions/history").get_data(as_text=True))
    assert "accepted as version 1" in history
    assert "Reporting year 2024" in history
    assert "Current" in history
    assert f"by user:{SUBMITTER}" in history
    with db_app.app_context():
        (version,) = db.session.scalars(select(SubmissionVersion)).all()
        rows = db.session.execute(
            select(func.count()).where(IndicatorValue.version_id == version.id)
        ).scalar_one()
        assert rows == version.row_count == data.count(b"\n") - 1
    home = text_of(submitter.get("/submissions").get_data(as_text=True))
    assert "Reporting year 2024 Current Version 1" in home
    assert "Reporting year 2025 Not submitted" in home


def test_upload_invalid_file_shows_report_without_accept(
    db_app: Flask, submitter: FlaskClient
) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv(la="841")))

    html = submitter.get(f"/submissions/checks/{job_id}").get_data(as_text=True)
    assert "Your file has" in html
    assert "la_matches_authority" in html
    assert "/accept" not in html
    assert count(db_app, PendingUpload) == 0
    report = submitter.get(f"/submissions/checks/{job_id}/report.csv")
    assert report.status_code == 200
    assert report.get_data(as_text=True).startswith("severity,row,column,value,rule,message")
    with db_app.app_context():
        download = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "download")
        ).one()
        assert (download.target_type, download.target_id) == ("validation_report", job_id)
        assert download.details == {"media_type": "text/csv"}
    filtered = submitter.get(f"/submissions/checks/{job_id}?rule=la_matches_authority")
    assert filtered.status_code == 200


def test_upload_large_file_is_checked_by_the_worker(db_app: Flask, submitter: FlaskClient) -> None:
    config = db_app.config["EXCHANGE"]
    db_app.config["EXCHANGE"] = dataclasses.replace(config, inline_validation_bytes=1024)
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    html = submitter.get(f"/submissions/checks/{job_id}").get_data(as_text=True)
    assert "Your file is valid" in html
    assert "Accept and submit" in html


def test_accept_without_csrf_token_is_refused(db_app: Flask, submitter: FlaskClient) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    response = submitter.post(f"/submissions/uploads/{job_id}/accept")
    assert response.status_code == 400
    assert count(db_app, SubmissionVersion) == 0


def test_discard_leaves_nothing_submitted(db_app: Flask, submitter: FlaskClient) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    assert "Waiting for your decision" in submitter.get("/submissions").get_data(as_text=True)
    response = post_form(
        submitter, f"/submissions/uploads/{job_id}", f"/submissions/uploads/{job_id}/discard"
    )
    assert response.status_code == 303
    assert count(db_app, SubmissionVersion) == 0
    with db_app.app_context():
        pending = db.session.get(PendingUpload, uuid.UUID(job_id))
        assert pending is not None
        assert pending.status is PendingUploadStatus.DISCARDED
    page = submitter.get(f"/submissions/uploads/{job_id}").get_data(as_text=True)
    assert "discarded and not submitted" in page


def test_correction_and_withdrawal_through_the_portal(
    db_app: Flask, submitter: FlaskClient
) -> None:
    for seed in (1, 2):
        job_id = job_id_of(upload(submitter, synthetic_csv(seed=seed)))
        accept = f"/submissions/uploads/{job_id}/accept"
        assert post_form(submitter, f"/submissions/uploads/{job_id}", accept).status_code == 303
    with db_app.app_context():
        v2 = db.session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.number == 2)
        ).one()
    page = f"/submissions/versions/{v2.id}/withdraw"

    empty = post_form(submitter, page, page, reason="  ")
    assert empty.status_code == 400
    assert "Enter why you are withdrawing this version" in empty.get_data(as_text=True)

    done = post_form(submitter, page, page, reason="figures were for 2023")
    assert done.status_code == 303
    with db_app.app_context():
        statuses = {v.number: v.status for v in db.session.scalars(select(SubmissionVersion)).all()}
        assert statuses == {1: VersionStatus.SUPERSEDED, 2: VersionStatus.WITHDRAWN}
        actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert actions.count("submission_accepted") == 2
        assert actions[-1] == "submission_withdrawn"
    history = text_of(submitter.get("/submissions/history").get_data(as_text=True))
    assert "Withdrawn" in history
    assert "Superseded" in history
    assert "figures were for 2023" in history
    assert submitter.get(page).status_code == 303  # already withdrawn: back to the history


# -- who may do what ------------------------------------------------------------------------------


def test_viewer_sees_pages_but_cannot_change_anything(
    db_app: Flask, submitter: FlaskClient, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    viewer = sign_in(VIEWER, "la_viewer", "840")

    home = viewer.get("/submissions")
    assert home.status_code == 200
    assert 'href="/submissions/upload"' not in home.get_data(as_text=True)
    assert viewer.get("/submissions/history").status_code == 200
    assert viewer.get("/submissions/upload").status_code == 403
    assert viewer.get(f"/submissions/checks/{job_id}").status_code == 403
    token = csrf_token(viewer, "/account")  # any form's token: it is the session's
    refused = viewer.post(f"/submissions/uploads/{job_id}/accept", data={"csrf_token": token})
    assert refused.status_code == 403
    assert count(db_app, SubmissionVersion) == 0


def test_another_las_submitter_sees_none_of_it(
    db_app: Flask, submitter: FlaskClient, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    neighbour = sign_in(NEIGHBOUR, "la_submitter", "841")

    assert neighbour.get(f"/submissions/checks/{job_id}").status_code == 404
    assert neighbour.get(f"/submissions/checks/{job_id}/report.json").status_code == 404
    assert neighbour.get(f"/submissions/uploads/{job_id}").status_code == 404
    token = csrf_token(neighbour, "/submissions/upload")
    response = neighbour.post(f"/submissions/uploads/{job_id}/accept", data={"csrf_token": token})
    assert response.status_code == 404
    assert "Not submitted" in neighbour.get("/submissions").get_data(as_text=True)
    assert count(db_app, SubmissionVersion) == 0


def test_submission_checks_are_not_public_validation_jobs(
    db_app: Flask, submitter: FlaskClient
) -> None:
    job_id = job_id_of(upload(submitter, synthetic_csv()))
    anonymous = db_app.test_client()
    assert anonymous.get(f"/validate/jobs/{job_id}").status_code == 404
    assert anonymous.get(f"/validate/jobs/{job_id}/report.csv").status_code == 404
    assert anonymous.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert anonymous.get(f"/api/v1/jobs/{job_id}/report").status_code == 404
