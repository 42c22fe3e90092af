"""The custom comparison set pages: an LA's own sets (/comparisons/sets) and the alliances' sets
administrators manage (/admin/comparison-sets). They render, their forms post (with CSRF)
through the actions, another owner's set looks like no set at all, everyone else gets 403, and
the comparison pages name a set once the comparisons are recomputed."""

from __future__ import annotations

import re
from collections.abc import Callable

from auth_support import csrf_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from exchange.actions import custom_sets
from exchange.actions.organisations import create_alliance
from exchange.extensions import db
from exchange.models import AuditEvent, CustomComparisonSet, Organisation
from exchange.security.principals import system_principal

SignIn = Callable[[str, str, str], FlaskClient]
DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH, REDCAR = "840", "841", "805", "806", "807"
BRADFORD = "380"
SYSTEM = system_principal("system:test")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def set_form(client: FlaskClient, path: str, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, path),
        "name": "Coastal authorities",
        "description": "On the coast",
        "members": [DARLINGTON, HARTLEPOOL, MIDDLESBROUGH],
    }
    data.update(fields)
    return data


def org_id(app: Flask, code: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Organisation.id).where(Organisation.code == code)).one()


def stored_sets(app: Flask) -> list[tuple[str, str, list[str]]]:
    """(owner code, name, member codes) of every set."""
    with app.app_context():
        out = []
        for chosen in db.session.scalars(
            select(CustomComparisonSet).order_by(CustomComparisonSet.id)
        ):
            members = sorted(m.organisation.code for m in chosen.members)
            out.append((chosen.owner.code, chosen.name, members))
        return out


def make_set(app: Flask, owner: str, name: str, members: list[str]) -> int:
    """A set made through the action (as the system actor, which may manage any owner's)."""
    with app.app_context():
        made = custom_sets.create_set(
            db.session,
            SYSTEM,
            org_id(app, owner),
            name=name,
            member_ids=[org_id(app, c) for c in members],
        )
        return made.id


# ------------------------------------------------------------------------------ an LA's sets


def test_sets_page_submitter_creates_a_set(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    page = client.get("/comparisons/sets")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert 'id="no-sets"' in html
    assert 'href="/comparisons/sets/new"' in html

    form = client.get("/comparisons/sets/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert 'action="/comparisons/sets/new"' in html
    # Live LAs as checkboxes, one <details> per region; Durham itself is not offered.
    assert html.count('<details class="govuk-details') == 9
    assert "North East (0 of 11 chosen)" in text_of(html)
    assert 'value="841"' in html
    assert 'value="840"' not in html
    assert 'value="909"' not in html  # Cumbria, abolished
    assert 'id="members" name="members" type="checkbox"' in html  # the error summary's target

    response = client.post("/comparisons/sets/new", data=set_form(client, "/comparisons/sets/new"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/comparisons/sets"
    assert stored_sets(db_app) == [
        (DURHAM, "Coastal authorities", sorted([DARLINGTON, HARTLEPOOL, MIDDLESBROUGH]))
    ]
    text = text_of(client.get("/comparisons/sets").get_data(as_text=True))
    assert "Coastal authorities created with 3 local authorities." in text
    assert "3 local authorities Darlington Hartlepool Middlesbrough" in text
    assert "On the coast" in text
    with db_app.app_context():
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "custom_set_created")
        ).one()
        assert event.actor_label == "user:sub@durham.example"
        assert event.details == {"name": "Coastal authorities", "members": 3}


def test_sets_page_form_errors_listed(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    data = set_form(client, "/comparisons/sets/new", name="  ", members=[DARLINGTON, REDCAR])
    response = client.post("/comparisons/sets/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<title>Error: Create a comparison set" in html
    assert "govuk-error-summary" in html
    assert "Enter a name for the set" in text_of(html)
    assert stored_sets(db_app) == []
    # The action's refusal of two members lands on the members once the name is right.
    data = set_form(client, "/comparisons/sets/new", members=[DARLINGTON, REDCAR])
    response = client.post("/comparisons/sets/new", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Choose at least 3 local authorities (you chose 2)" in text_of(html)
    assert 'href="#members"' in html
    assert "North East (2 of 11 chosen)" in text_of(html)  # the ticks are kept
    assert re.search(r'value="807" checked', html)
    # Durham's own code is not on offer: a tampered form is told so.
    data = set_form(client, "/comparisons/sets/new", members=[DURHAM, DARLINGTON, REDCAR])
    response = client.post("/comparisons/sets/new", data=data)
    assert response.status_code == 400
    assert "840 cannot be chosen" in text_of(response.get_data(as_text=True))
    assert stored_sets(db_app) == []


def test_sets_page_edit_and_delete_with_confirmation(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    set_id = make_set(db_app, DURHAM, "Coastal", [DARLINGTON, HARTLEPOOL, MIDDLESBROUGH])
    page = client.get(f"/comparisons/sets/edit?set={set_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Change Coastal" in text_of(html)
    assert re.search(r'value="841" checked', html)
    assert not re.search(r'value="807" checked', html)
    path = f"/comparisons/sets/edit?set={set_id}"
    data = set_form(client, path, name="Tees", members=[DARLINGTON, REDCAR, MIDDLESBROUGH])
    response = client.post(path, data=data)
    assert response.status_code == 303
    assert stored_sets(db_app) == [(DURHAM, "Tees", sorted([DARLINGTON, REDCAR, MIDDLESBROUGH]))]
    assert "Tees saved with 3 local authorities." in text_of(
        client.get("/comparisons/sets").get_data(as_text=True)
    )

    confirm = client.get(f"/comparisons/sets/delete?set={set_id}")
    assert confirm.status_code == 200
    text = text_of(confirm.get_data(as_text=True))
    assert "Delete Tees" in text
    assert "Darlington, Middlesbrough, Redcar and Cleveland" in text
    token = csrf_token(client, f"/comparisons/sets/delete?set={set_id}")
    response = client.post(f"/comparisons/sets/delete?set={set_id}", data={"csrf_token": token})
    assert response.status_code == 303
    assert stored_sets(db_app) == []
    assert "Tees deleted." in text_of(client.get("/comparisons/sets").get_data(as_text=True))


def test_sets_page_another_las_set_is_not_found(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    theirs = make_set(db_app, DARLINGTON, "Theirs", [DURHAM, HARTLEPOOL, MIDDLESBROUGH])
    for path in (f"/comparisons/sets/edit?set={theirs}", f"/comparisons/sets/delete?set={theirs}"):
        assert client.get(path).status_code == 404
        token = csrf_token(client, "/comparisons/sets/new")
        data = {"csrf_token": token, "name": "Mine", "members": [HARTLEPOOL]}
        assert client.post(path, data=data).status_code == 404
    assert client.get("/comparisons/sets/edit?set=999").status_code == 404
    # No set named: back to the list.
    response = client.get("/comparisons/sets/edit")
    assert response.status_code == 303
    assert response.headers["Location"] == "/comparisons/sets"
    assert "Theirs" not in client.get("/comparisons/sets").get_data(as_text=True)
    assert stored_sets(db_app) == [
        (DARLINGTON, "Theirs", sorted([DURHAM, HARTLEPOOL, MIDDLESBROUGH]))
    ]


def test_sets_page_viewer_sees_sets_without_changing_them(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    set_id = make_set(db_app, DURHAM, "Coastal", [DARLINGTON, HARTLEPOOL, MIDDLESBROUGH])
    html = client.get("/comparisons/sets").get_data(as_text=True)
    assert "Coastal" in html
    assert "/comparisons/sets/new" not in html
    assert "/comparisons/sets/edit" not in html
    assert "but not change them" in text_of(html)
    assert client.get("/comparisons/sets/new").status_code == 403
    assert client.get(f"/comparisons/sets/edit?set={set_id}").status_code == 403
    token = csrf_token(client, "/account")
    response = client.post(f"/comparisons/sets/delete?set={set_id}", data={"csrf_token": token})
    assert response.status_code == 403
    assert len(stored_sets(db_app)) == 1


def test_sets_page_comparisons_overview_links_to_it(db_app: Flask, sign_in: SignIn) -> None:
    client = sign_in("viewer@durham.example", "la_viewer", DURHAM)
    html = client.get("/comparisons/").get_data(as_text=True)
    assert 'href="/comparisons/sets"' in html


# ------------------------------------------------------------------------ the alliances' sets


def test_admin_sets_alliance_set_made_by_an_administrator(db_app: Flask, sign_in: SignIn) -> None:
    admin = sign_in("ada@platform.example", "administrator", "platform")
    with db_app.app_context():
        alliance = create_alliance(
            db.session, SYSTEM, "Tees partnership", [DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH]
        )
        code = alliance.code
    page = admin.get("/admin/comparison-sets")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tees partnership" in html
    assert f'href="/admin/comparison-sets/new?alliance={code}"' in html

    path = f"/admin/comparison-sets/new?alliance={code}"
    form = admin.get(path).get_data(as_text=True)
    offered = set(re.findall(r'name="members" type="checkbox" value="(\d+)"', form))
    assert offered == {DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH}  # the alliance's own
    data = set_form(admin, path, name="Core", members=[DURHAM, DARLINGTON, HARTLEPOOL])
    response = admin.post(path, data=data)
    assert response.status_code == 400
    assert "Choose at least 4 local authorities" in text_of(response.get_data(as_text=True))
    data["members"] = [DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH]
    response = admin.post(path, data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/comparison-sets"
    assert stored_sets(db_app) == [
        (code, "Core", sorted([DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH]))
    ]
    assert admin.get("/admin/comparison-sets/new?alliance=no-such").status_code == 404
    assert admin.get("/comparisons/sets").status_code == 403

    # A member LA sees the alliance's set, read only; an outsider does not.
    member = sign_in("viewer@durham.example", "la_submitter", DURHAM)
    html = member.get("/comparisons/sets").get_data(as_text=True)
    text = text_of(html)
    assert "Your alliances' sets" in text
    assert "Core Defined by Tees partnership" in text
    set_id = stored_set_id(db_app, "Core")
    assert f"/comparisons/sets/edit?set={set_id}" not in html
    assert member.get(f"/comparisons/sets/edit?set={set_id}").status_code == 404
    assert member.get("/admin/comparison-sets").status_code == 403
    outsider = sign_in("viewer@bradford.example", "la_viewer", BRADFORD)
    assert "Core" not in outsider.get("/comparisons/sets").get_data(as_text=True)

    # An administrator changes and deletes it; an LA's set is not theirs to change.
    edit = f"/admin/comparison-sets/edit?set={set_id}"
    data = set_form(
        admin, edit, name="Core four", members=[DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH]
    )
    assert admin.post(edit, data=data).status_code == 303
    assert stored_sets(db_app)[0][1] == "Core four"
    durham_set = make_set(db_app, DURHAM, "Coastal", [DARLINGTON, HARTLEPOOL, MIDDLESBROUGH])
    assert admin.get(f"/admin/comparison-sets/edit?set={durham_set}").status_code == 404
    delete = f"/admin/comparison-sets/delete?set={set_id}"
    assert "Delete Core four" in text_of(admin.get(delete).get_data(as_text=True))
    assert admin.post(delete, data={"csrf_token": csrf_token(admin, delete)}).status_code == 303
    assert [s[1] for s in stored_sets(db_app)] == ["Coastal"]


def stored_set_id(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalars(
            select(CustomComparisonSet.id).where(CustomComparisonSet.name == name)
        ).one()


# ------------------------------------------------------------------ on the comparison pages


def test_indicator_page_names_the_custom_set(db_app: Flask, sign_in: SignIn) -> None:
    from test_web_comparisons import build_comparisons, invoke, view_of

    build_comparisons(db_app, "840,841,806,805,807", ("2025",))
    client = sign_in("sub@durham.example", "la_submitter", DURHAM)
    data = set_form(client, "/comparisons/sets/new", name="Tees neighbours")
    assert client.post("/comparisons/sets/new", data=data).status_code == 303
    invoke(db_app, "comparisons", "recompute")
    view = view_of(db_app, DURHAM)
    groups = view.per_group
    custom = groups.loc[(groups["group_type"] == "custom") & (groups["period"] == "2025")]
    assert len(custom) > 0
    indicator_id = str(custom.loc[custom["breakdown_topic"] == "Total", "indicator_id"].iloc[0])
    text = text_of(client.get(f"/comparisons/{indicator_id}").get_data(as_text=True))
    assert "Tees neighbours" in text
    assert "Custom:" not in text
