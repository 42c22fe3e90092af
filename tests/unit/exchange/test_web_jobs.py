"""Job pages, the administrators' job list and ``exchange jobs``: a user sees their own
organisation's jobs only (another's is a 404, exactly like a job that does not exist);
administrators and the CLI see every job."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from auth_support import FakeClock, enrol, make_user, post_password
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange.actions import jobs
from exchange.cli import main
from exchange.extensions import db
from exchange.models import Organisation
from exchange.security import clock as clock_module
from workers.tasks import job_task

MISSING = "00000000-0000-4000-8000-000000000000"


@job_task("unit_check", name="tests.unit_check_job")
def unit_check_job(job: object) -> dict[str, int]:
    """A second kind of job, so the lists can be filtered by kind."""
    return {}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


@pytest.fixture
def world(db_app: Flask) -> dict[str, str]:
    """Durham's job (done), Bradford's (queued) and a system job (failed), made through the
    actions on a broker with no worker."""
    celery = db_app.extensions["celery"]
    celery.conf.task_always_eager = False
    celery.conf.broker_url = "memory://"
    make_user(db_app, "seed@platform.example", role="administrator", org="platform")
    with db_app.app_context():
        ids = dict(
            db.session.execute(
                select(Organisation.code, Organisation.id).where(
                    Organisation.code.in_(["840", "380"])
                )
            ).all()
        )
        durham = jobs.enqueue(db.session, "ping", {"period": "2025"}, organisation_id=ids["840"])
        jobs.start(db.session, durham.id)
        jobs.finish(db.session, durham.id, {"organisations": 12})
        bradford = jobs.enqueue(db.session, "unit_check", {}, organisation_id=ids["380"])
        system = jobs.enqueue(db.session, "ping", {})
        jobs.fail(db.session, system.id, "Failed unexpectedly (KeyError).")
        return {"840": durham.id, "380": bradford.id, "system": system.id}


@pytest.fixture
def sign_in(db_app: Flask, clock: FakeClock) -> Callable[[str, str, str], FlaskClient]:
    def signed_in(email: str, role: str, org: str) -> FlaskClient:
        make_user(db_app, email, role=role, org=org)
        client = db_app.test_client()
        assert post_password(client, email=email).status_code == 303
        enrol(client, clock)
        return client

    return signed_in


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_job_pages_show_a_users_own_organisations_jobs_only(
    world: dict[str, str], sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    durham = sign_in("viewer@durham.example", "la_viewer", "840")
    page = durham.get(f"/jobs/{world['840']}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = text_of(page.get_data(as_text=True))
    assert "Done" in text
    assert "organisations: 12" in text
    assert 'http-equiv="refresh"' not in page.get_data(as_text=True)  # finished: no refresh
    status = durham.get(f"/jobs/{world['840']}/status.json")
    assert status.status_code == 200
    body = status.get_json()
    assert body["status"] == "done"
    assert body["finished"] is True
    assert body["result"] == {"organisations": 12}
    assert body["organisation"] == "840"
    assert body["attempts"] == 1
    assert body["links"]["page"] == f"/jobs/{world['840']}"

    for other in (world["380"], world["system"], MISSING, "not-a-job"):
        assert durham.get(f"/jobs/{other}").status_code == 404
        assert durham.get(f"/jobs/{other}/status.json").status_code == 404

    listing = text_of(durham.get("/jobs").get_data(as_text=True))
    assert world["840"] in listing
    assert world["380"] not in listing
    assert world["system"] not in listing


def test_job_page_of_a_queued_job_refreshes_itself(
    world: dict[str, str], sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    bradford = sign_in("sub@bradford.example", "la_submitter", "380")
    html = bradford.get(f"/jobs/{world['380']}").get_data(as_text=True)
    assert 'http-equiv="refresh"' in html
    assert "waiting for a worker" in text_of(html)
    status = bradford.get(f"/jobs/{world['380']}/status.json").get_json()
    assert (status["status"], status["finished"], status["result"]) == ("queued", False, None)


def test_job_pages_administrators_see_every_job(
    world: dict[str, str], sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    for job_id in world.values():
        assert admin.get(f"/jobs/{job_id}").status_code == 200
    failed = admin.get(f"/jobs/{world['system']}/status.json").get_json()
    assert failed["status"] == "failed"
    assert failed["reason"] == "Failed unexpectedly (KeyError)."

    listing = admin.get("/admin/jobs")
    assert listing.status_code == 200
    text = text_of(listing.get_data(as_text=True))
    assert all(job_id in text for job_id in world.values())
    assert "Failed unexpectedly (KeyError)." in text
    only_failed = text_of(admin.get("/admin/jobs?status=failed").get_data(as_text=True))
    assert world["system"] in only_failed
    assert world["840"] not in only_failed
    only_bradford = text_of(admin.get("/admin/jobs?organisation=380").get_data(as_text=True))
    assert world["380"] in only_bradford
    assert world["840"] not in only_bradford
    by_kind = text_of(admin.get("/admin/jobs?kind=unit_check").get_data(as_text=True))
    assert world["380"] in by_kind
    assert world["system"] not in by_kind
    assert admin.get("/admin/jobs?status=lost").status_code == 400
    assert admin.get("/admin/jobs?organisation=nowhere").status_code == 404
    assert "/admin/jobs" in admin.get("/admin").get_data(as_text=True)


def test_job_pages_need_sign_in_and_the_admin_list_administrators(
    db_app: Flask, world: dict[str, str], sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    anonymous = db_app.test_client()
    for path in ("/jobs", f"/jobs/{world['840']}", f"/jobs/{world['840']}/status.json"):
        response = anonymous.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=")
    durham = sign_in("viewer@durham.example", "la_viewer", "840")
    assert durham.get("/admin/jobs").status_code == 403


# ------------------------------------------------------------------------------------------ CLI


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(main, ["jobs", *args])


def test_cli_jobs_list_and_show(db_app: Flask, world: dict[str, str]) -> None:
    listing = invoke(db_app, "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert len(lines) == 3
    assert all(any(job_id in line for line in lines) for job_id in world.values())
    failed = invoke(db_app, "list", "--status", "failed")
    assert failed.exit_code == 0
    assert failed.output.split("\t")[:4] == [world["system"], "ping", "failed", "system"]
    assert "Failed unexpectedly (KeyError)." in failed.output
    kinds = invoke(db_app, "list", "--kind", "unit_check", "--limit", "5")
    assert [line.split("\t")[0] for line in kinds.output.splitlines()] == [world["380"]]
    assert invoke(db_app, "list", "--status", "lost").exit_code == 2

    shown = invoke(db_app, "show", world["840"])
    assert shown.exit_code == 0, shown.output
    assert re.search(r"^status: +done$", shown.output, re.MULTILINE)
    assert re.search(r"^organisation: +840 \(", shown.output, re.MULTILINE)
    assert re.search(r'^result: +\{"organisations": 12\}$', shown.output, re.MULTILINE)
    assert re.search(r'^params: +\{"period": "2025"\}$', shown.output, re.MULTILINE)
    missing = invoke(db_app, "show", MISSING)
    assert missing.exit_code == 1
    assert "no job has id" in missing.output


def test_cli_jobs_list_says_when_there_are_none(db_app: Flask) -> None:
    result = invoke(db_app, "list")
    assert result.exit_code == 0
    assert result.output == "no jobs\n"
