"""The improvement journey page (/journey) and the administrators' Ofsted page (/admin/ofsted):
they render, their forms post (with CSRF) through the actions, and everyone else gets 403."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date

from auth_support import csrf_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange.extensions import db
from exchange.models import AuditEvent, ImprovementJourney, OfstedJudgement, Organisation

SignIn = Callable[[str, str, str], FlaskClient]
DURHAM = "840"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def journey_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    data = {
        "csrf_token": fields.pop("csrf_token", None) or csrf_token(client, "/journey"),
        "start_day": "15",
        "start_month": "11",
        "start_year": "2021",
        "trigger": "Ofsted inadequate 2021",
        "focus_areas": "Workforce stability\nFront door",
    }
    data.update(fields)
    return data


def stored_journeys(app: Flask) -> list[tuple[date, date | None, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(
                ImprovementJourney.start_date,
                ImprovementJourney.ended_on,
                ImprovementJourney.trigger,
            ).order_by(ImprovementJourney.start_date)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def stored_judgements(app: Flask) -> list[tuple[str, date, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(Organisation.code, OfstedJudgement.inspection_date, OfstedJudgement.judgement)
            .join(Organisation, OfstedJudgement.organisation_id == Organisation.id)
            .order_by(Organisation.code, OfstedJudgement.inspection_date)
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


# ------------------------------------------------------------------------------------ /journey


def test_journey_page_submitter_records_a_journey(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    page = client.get("/journey")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'href="/journey"' in html  # the navigation's "Improvement journey"
    assert "Improvement journey" in html
    assert 'id="no-journey"' in html
    assert 'action="/journey"' in html
    assert 'action="/journey/end"' not in html  # nothing to end yet

    response = client.post("/journey", data=journey_form(client))
    assert response.status_code == 303
    assert response.headers["Location"] == "/journey"
    assert stored_journeys(db_app) == [(date(2021, 11, 15), None, "Ofsted inadequate 2021")]

    text = text_of(client.get("/journey").get_data(as_text=True))
    assert "Improvement journey from 15 November 2021 recorded." in text
    assert "Started 15 November 2021" in text
    # The clock says 2 March 2026: 51 complete months since 15 November 2021.
    assert "51 months (on 2 March 2026)" in text
    assert "Workforce stability Front door" in text
    assert "Start a new journey" in text


def test_journey_page_new_journey_ends_the_current_one(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    assert client.post("/journey", data=journey_form(client)).status_code == 303
    second = journey_form(
        client, start_day="1", start_month="4", start_year="2024", trigger="New leadership"
    )
    assert client.post("/journey", data=second).status_code == 303
    assert stored_journeys(db_app) == [
        (date(2021, 11, 15), date(2024, 4, 1), "Ofsted inadequate 2021"),
        (date(2024, 4, 1), None, "New leadership"),
    ]
    html = client.get("/journey").get_data(as_text=True)
    assert 'id="past-journeys"' in html
    assert "1 April 2024" in text_of(html)


def test_journey_page_form_errors_listed(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    empty = journey_form(
        client, start_day="", start_month="", start_year="", trigger=" ", focus_areas=""
    )
    response = client.post("/journey", data=empty)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html
    assert "<title>Error: Improvement journey" in html
    text = text_of(html)
    for message in ("Enter the start date", "Enter what triggered the journey", "Enter the focus"):
        assert message in text
    assert 'href="#start_day"' in html

    partial = journey_form(client, start_month="")
    assert "Start date must include a month" in text_of(
        client.post("/journey", data=partial).get_data(as_text=True)
    )
    unreal = journey_form(client, start_day="31", start_month="2")
    assert "Start date must be a real date" in text_of(
        client.post("/journey", data=unreal).get_data(as_text=True)
    )
    # The action's own rule, shown on the date: the clock says 2 March 2026.
    future = journey_form(client, start_day="3", start_month="3", start_year="2026")
    response = client.post("/journey", data=future)
    assert response.status_code == 400
    assert "Start date must be today or in the past" in text_of(response.get_data(as_text=True))
    assert stored_journeys(db_app) == []


def test_journey_page_post_without_csrf_refused(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    data = journey_form(client)
    del data["csrf_token"]
    assert client.post("/journey", data=data).status_code == 400
    data["csrf_token"] = "forged"
    assert client.post("/journey", data=data).status_code == 400
    assert stored_journeys(db_app) == []


def test_journey_page_end_the_journey(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    assert client.post("/journey", data=journey_form(client)).status_code == 303
    token = csrf_token(client, "/journey")
    early = {"csrf_token": token, "end_day": "1", "end_month": "1", "end_year": "2020"}
    response = client.post("/journey/end", data=early)
    assert response.status_code == 400
    assert "End date must be on or after 15 November 2021" in text_of(
        response.get_data(as_text=True)
    )
    ok = {"csrf_token": token, "end_day": "31", "end_month": "3", "end_year": "2025"}
    response = client.post("/journey/end", data=ok)
    assert response.status_code == 303
    assert stored_journeys(db_app) == [
        (date(2021, 11, 15), date(2025, 3, 31), "Ofsted inadequate 2021")
    ]
    text = text_of(client.get("/journey").get_data(as_text=True))
    assert "ended on 31 March 2025" in text
    assert "has no current improvement journey recorded" in text


def test_journey_page_viewer_sees_without_forms_and_may_not_post(
    db_app: Flask, sign_in: SignIn
) -> None:
    submitter = sign_in("sub@durham.example", "la_submitter", DURHAM)
    assert submitter.post("/journey", data=journey_form(submitter)).status_code == 303
    viewer = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    page = viewer.get("/journey")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ofsted inadequate 2021" in html
    assert 'action="/journey"' not in html
    assert "Ask a submitter in your local authority" in text_of(html)
    token = csrf_token(viewer, "/account")
    assert viewer.post("/journey", data=journey_form(viewer, csrf_token=token)).status_code == 403
    ended = {"csrf_token": token, "end_day": "1", "end_month": "1", "end_year": "2025"}
    assert viewer.post("/journey/end", data=ended).status_code == 403
    assert len(stored_journeys(db_app)) == 1


def test_journey_page_shows_only_own_la(db_app: Flask, sign_in: SignIn) -> None:
    durham = sign_in("sub@durham.example", "la_submitter", DURHAM)
    assert durham.post("/journey", data=journey_form(durham)).status_code == 303
    bradford = sign_in("sub@bradford.example", "la_submitter", "380")
    html = bradford.get("/journey").get_data(as_text=True)
    assert "Bradford" in html
    assert "County Durham" not in html
    assert 'id="journey-trigger"' not in html
    assert 'id="no-journey"' in html


def test_journey_page_forbidden_to_others(db_app: Flask, sign_in: SignIn) -> None:
    for email, role, org in (
        ("ada@platform.example", "administrator", "platform"),
        ("an@national.example", "analyst", "national"),
    ):
        client = sign_in(email, role, org)
        assert client.get("/journey").status_code == 403
        token = csrf_token(client, "/account")
        assert (
            client.post("/journey", data=journey_form(client, csrf_token=token)).status_code == 403
        )
    anonymous = db_app.test_client()
    response = anonymous.get("/journey")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/sign-in")


# -------------------------------------------------------------------------------- /admin/ofsted


def judgement_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(client, "/admin/ofsted"),
        "organisation": DURHAM,
        "day": "20",
        "month": "9",
        "year": "2023",
        "judgement": "Good",
    }
    data.update(fields)
    return data


def test_ofsted_page_administrator_adds_and_deletes(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    assert 'href="/admin/ofsted"' in admin.get("/admin").get_data(as_text=True)
    page = admin.get("/admin/ofsted")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'id="no-judgements"' in html
    assert '<option value="840">County Durham (840)</option>' in html

    response = admin.post("/admin/ofsted", data=judgement_form(admin))
    assert response.status_code == 303
    assert stored_judgements(db_app) == [(DURHAM, date(2023, 9, 20), "Good")]
    text = text_of(admin.get("/admin/ofsted").get_data(as_text=True))
    assert "County Durham: Good on 20 September 2023 recorded." in text
    assert "County Durham (840) 20 September 2023 Good" in text

    with db_app.app_context():
        judgement_id = db.session.scalars(select(OfstedJudgement.id)).one()
    token = csrf_token(admin, "/admin/ofsted")
    response = admin.post(
        "/admin/ofsted/delete", data={"csrf_token": token, "judgement_id": str(judgement_id)}
    )
    assert response.status_code == 303
    assert stored_judgements(db_app) == []
    assert "Ofsted judgement deleted." in text_of(admin.get("/admin/ofsted").get_data(as_text=True))
    # Deleting it again: a message, not an error page.
    response = admin.post(
        "/admin/ofsted/delete", data={"csrf_token": token, "judgement_id": str(judgement_id)}
    )
    assert response.status_code == 303
    assert "no such Ofsted judgement" in text_of(admin.get("/admin/ofsted").get_data(as_text=True))
    assert admin.post("/admin/ofsted/delete", data={"csrf_token": token}).status_code == 400
    with db_app.app_context():
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"ofsted_judgement_recorded", "ofsted_judgement_deleted"} <= actions


def test_ofsted_page_form_errors_listed(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    empty = judgement_form(admin, organisation="", day="", month="", year="", judgement="")
    response = admin.post("/admin/ofsted", data=empty)
    assert response.status_code == 400
    text = text_of(response.get_data(as_text=True))
    for message in (
        "Select a local authority",
        "Enter the inspection date",
        "Select the judgement",
    ):
        assert message in text
    future = judgement_form(admin, year="2027")
    response = admin.post("/admin/ofsted", data=future)
    assert response.status_code == 400
    assert "Inspection date must be today or in the past" in text_of(
        response.get_data(as_text=True)
    )
    unknown = judgement_form(admin, organisation="999")
    response = admin.post("/admin/ofsted", data=unknown)
    assert response.status_code == 400
    assert "'999' is not a local authority code" in response.get_data(as_text=True).replace(
        "&#39;", "'"
    )
    assert stored_judgements(db_app) == []


def upload(client: FlaskClient, data: bytes, name: str = "history.csv") -> object:
    token = csrf_token(client, "/admin/ofsted")
    return client.post(
        "/admin/ofsted/upload",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_ofsted_page_upload_loads_a_good_file(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    good = (
        b"old_la_code,inspection_date,judgement\n840,2019-03-01,Good\n380,2018-09-20,Inadequate\n"
    )
    response = upload(admin, good)
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert stored_judgements(db_app) == [
        ("380", date(2018, 9, 20), "Inadequate"),
        (DURHAM, date(2019, 3, 1), "Good"),
    ]
    text = text_of(admin.get("/admin/ofsted").get_data(as_text=True))
    assert "history.csv: 2 judgements for 2 local authorities loaded (2 added" in text


def test_ofsted_page_upload_lists_every_problem_and_loads_nothing(
    db_app: Flask, sign_in: SignIn
) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    bad = (
        b"new_la_code,inspection_date,judgement\n"
        b"E06000047,2019-03-01,Good\n"
        b"E06000047,2019/03/02,Good\n"
        b"NOPE,2019-03-03,Brilliant\n"
    )
    response = upload(admin, bad, "bad.csv")
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "govuk-error-summary" in html
    assert 'id="file-problems"' in html
    text = text_of(html)
    assert "bad.csv was not loaded: 3 problems found" in text
    assert "3 inspection_date 2019/03/02 date_format Write the date as YYYY-MM-DD" in text
    assert "4 new_la_code NOPE unknown_la This is not a local authority code" in text
    assert "4 judgement Brilliant" in text
    assert stored_judgements(db_app) == []
    missing = upload(admin, b"")
    assert missing.status_code == 400  # type: ignore[attr-defined]


def test_ofsted_page_upload_without_file(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    token = csrf_token(admin, "/admin/ofsted")
    response = admin.post("/admin/ofsted/upload", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Select a CSV file" in text_of(response.get_data(as_text=True))


def test_ofsted_page_forbidden_to_la_staff(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    assert client.get("/admin/ofsted").status_code == 403
    token = csrf_token(client, "/journey")
    add = {"csrf_token": token, "organisation": DURHAM, "day": "1", "month": "1", "year": "2020"}
    assert client.post("/admin/ofsted", data={**add, "judgement": "Good"}).status_code == 403
    assert client.post("/admin/ofsted/delete", data={"csrf_token": token}).status_code == 403
    file = (io.BytesIO(b"old_la_code,inspection_date,judgement\n840,2019-03-01,Good\n"), "h.csv")
    response = client.post(
        "/admin/ofsted/upload",
        data={"csrf_token": token, "file": file},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert stored_judgements(db_app) == []
    assert 'href="/admin/ofsted"' not in client.get("/journey").get_data(as_text=True)
