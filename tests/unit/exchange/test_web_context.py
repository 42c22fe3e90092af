"""The context pages: administrators load files at /admin/context (a bad file is refused whole,
its problems listed by row); every signed-in user reads any LA's context at /context/<code>,
LA staff their own LA's at /context."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html import unescape

import pytest
from auth_support import csrf_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from exchange.actions import context as actions
from exchange.extensions import db
from exchange.models import ContextDataset, ContextValue
from exchange.security.principals import system_principal
from schemas.context import context_columns

HEADER = context_columns()
DURHAM = {
    "time_period": "2025",
    "time_identifier": "Reporting year",
    "geographic_level": "Local authority",
    "country_code": "E92000001",
    "country_name": "England",
    "region_code": "E12000001",
    "region_name": "North East",
    "old_la_code": "840",
    "new_la_code": "E06000047",
    "la_name": "County Durham",
    "child_population": "103417",
    "idaci_score": "0.215",
    "spend_per_child": "1251",
    "uasc_per_10k": "x",
    "inflow_families": "1.2",
}
BRADFORD = {
    **DURHAM,
    "region_code": "E12000003",
    "region_name": "Yorkshire and The Humber",
    "old_la_code": "380",
    "new_la_code": "E08000032",
    "la_name": "Bradford",
    "child_population": "131020",
    "idaci_score": "0.262",
}

SignIn = Callable[[str, str, str], FlaskClient]


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    lines = [",".join(HEADER)] + [",".join(r[c] for c in HEADER) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def upload(client: FlaskClient, data: bytes, name: str = "context.csv"):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/admin/context")
    return client.post(
        "/admin/context",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.fixture
def loaded(db_app: Flask) -> Flask:
    with db_app.app_context():
        actions.load_context(
            db.session, system_principal("system:test"), csv_bytes([DURHAM, BRADFORD]), "ctx.csv"
        )
    return db_app


def counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(ContextDataset.id))) or 0,
            db.session.scalar(select(func.count(ContextValue.id))) or 0,
        )


# ------------------------------------------------------------------------------ administrators


def test_admin_context_page_lists_datasets_and_links_the_template(
    loaded: Flask, sign_in: SignIn
) -> None:
    admin = sign_in("admin@platform.example", "administrator", "platform")
    response = admin.get("/admin/context")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = text_of(response.get_data(as_text=True))
    assert "ctx.csv" in text
    assert "system:test" in text
    assert 'href="/admin/context/template.csv"' in response.get_data(as_text=True)
    template = admin.get("/admin/context/template.csv")
    assert template.status_code == 200
    assert template.mimetype == "text/csv"
    assert template.get_data(as_text=True).splitlines()[0].split(",") == HEADER
    home = admin.get("/admin").get_data(as_text=True)
    assert 'href="/admin/context"' in home


def test_admin_context_upload_loads_the_file(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("admin@platform.example", "administrator", "platform")
    response = upload(admin, csv_bytes([DURHAM, BRADFORD]), "s251.csv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/context"
    page = text_of(admin.get("/admin/context").get_data(as_text=True))
    assert "Loaded s251.csv: 2 local authority rows for 2025." in page
    assert counts(db_app) == (1, 10)


def test_admin_context_upload_refuses_a_bad_file_listing_each_problem(
    db_app: Flask, sign_in: SignIn
) -> None:
    admin = sign_in("admin@platform.example", "administrator", "platform")
    bad = [{**DURHAM, "idaci_score": "3"}, {**BRADFORD, "old_la_code": "999"}]
    response = upload(admin, csv_bytes(bad), "bad.csv")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    rows = re.findall(r'<tr class="govuk-table__row">\s*<td[^>]*>(.*?)</td>(.*?)</tr>', html, re.S)
    found = [
        (row.strip(), *[text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", rest)])
        for row, rest in rows
    ]
    assert [f[:4] for f in found] == [
        ("2", "idaci_score", "3", "value_out_of_range"),
        ("3", "old_la_code", "999", "la_code_unknown"),
    ]
    assert counts(db_app) == (0, 0)


def test_admin_context_upload_needs_a_file(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("admin@platform.example", "administrator", "platform")
    token = csrf_token(admin, "/admin/context")
    response = admin.post("/admin/context", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Select a CSV or Excel file" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "org"),
    [("la_submitter", "840"), ("analyst", "national"), ("alliance_viewer", "alliance-north-east")],
)
def test_admin_context_forbidden_to_everyone_else(
    db_app: Flask, sign_in: SignIn, role: str, org: str
) -> None:
    client = sign_in(f"{role}@example.org", role, org)
    assert client.get("/admin/context").status_code == 403
    assert client.get("/admin/context/template.csv").status_code == 403
    token = csrf_token(client, "/account")
    response = client.post(
        "/admin/context",
        data={"csrf_token": token, "file": (io.BytesIO(csv_bytes([DURHAM])), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert counts(db_app) == (0, 0)


def test_context_pages_need_sign_in(db_app: Flask) -> None:
    client = db_app.test_client()
    for path in ("/context", "/context/E06000047", "/admin/context"):
        response = client.get(path)
        assert response.status_code in (302, 303), path
        assert response.headers["Location"].startswith("/sign-in"), path


# ---------------------------------------------------------------------------------- everyone


def test_context_la_staff_see_their_own_la_by_default(loaded: Flask, sign_in: SignIn) -> None:
    staff = sign_in("viewer@durham.example", "la_viewer", "840")
    response = staff.get("/context")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "County Durham" in text
    assert "for your local authority" in text
    assert "103,417" in text
    assert "1,251" in text
    assert "0.215" in text
    assert "– not available" in text  # uasc_per_10k was "x"
    assert 'href="/context"' in response.get_data(as_text=True), "the navigation links it"


def test_context_any_signed_in_user_sees_any_la(loaded: Flask, sign_in: SignIn) -> None:
    staff = sign_in("viewer@durham.example", "la_viewer", "840")
    other = staff.get("/context/E08000032")
    assert other.status_code == 200
    text = text_of(other.get_data(as_text=True))
    assert "Bradford" in text
    assert "131,020" in text
    assert "for your local authority" not in text
    # The old code names the same LA; a code no LA has is a 404.
    assert "131,020" in text_of(staff.get("/context/380").get_data(as_text=True))
    assert staff.get("/context/E99999999").status_code == 404
    analyst = sign_in("ana@dfe.example", "analyst", "national")
    assert "103,417" in text_of(analyst.get("/context/E06000047").get_data(as_text=True))


def test_context_users_without_an_la_choose_one(loaded: Flask, sign_in: SignIn) -> None:
    admin = sign_in("admin@platform.example", "administrator", "platform")
    page = admin.get("/context")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<option value="E06000047"' in html
    chosen = admin.get("/context?la=E08000032")
    assert chosen.status_code == 303
    assert chosen.headers["Location"] == "/context/E08000032"


def test_context_page_for_an_la_without_figures(loaded: Flask, sign_in: SignIn) -> None:
    staff = sign_in("viewer@durham.example", "la_viewer", "840")
    response = staff.get("/context/E06000001")  # Hartlepool: nothing loaded
    assert response.status_code == 200
    assert "No context figures have been loaded for Hartlepool yet" in text_of(
        response.get_data(as_text=True)
    )
