"""The admin pages: organisations, alliances, users and roles, the audit log and its check.

Users sign in through the portal (password, then MFA set-up) with CSRF protection on, so every
POST carries the token of its form; every change must go through the actions and be audited
with the administrator as the actor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from auth_support import FakeClock, csrf_token, make_user, post_password
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from exchange.actions import accounts
from exchange.extensions import db
from exchange.models import AuditEvent, Organisation, Role, User
from exchange.security import passwords

ADMIN = "ada.admin@platform.example"
SUBMITTER = "sam@durham.example"
ADMIN_PAGES = [
    "/admin",
    "/admin/organisations",
    "/admin/organisations?kind=alliance",
    "/admin/organisations/840",
    "/admin/alliances",
    "/admin/alliances/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/audit",
]


@pytest.fixture
def admin(sign_in: Callable[[str, str, str], FlaskClient]) -> FlaskClient:
    return sign_in(ADMIN, "administrator", "platform")


def post_form(client: FlaskClient, page: str, action: str, **data: str) -> object:
    """POST ``action`` with the CSRF token of the form on ``page``."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **data})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def events(app: Flask, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        db.session.expunge_all()
        return rows


def user_by_email(app: Flask, email: str) -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        db.session.expunge(user)
        return user


def user_id(app: Flask, email: str) -> int:
    return user_by_email(app, email).id


# -- who may see the pages ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_page_anonymous_is_sent_to_sign_in(db_app: Flask, path: str) -> None:
    response = db_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/admin")


@pytest.mark.parametrize(
    ("role", "org"),
    [
        ("la_submitter", "840"),
        ("la_viewer", "840"),
        ("alliance_viewer", "alliance-north-east"),
        ("analyst", "national"),
    ],
)
def test_admin_page_forbidden_to_other_roles(
    db_app: Flask, sign_in: Callable[[str, str, str], FlaskClient], role: str, org: str
) -> None:
    client = sign_in(f"{role}@example.org", role, org)
    for path in ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You do not have permission to see this page" in response.get_data(as_text=True)
    # Nor can they change anything: the guard refuses before the form is even read.
    token = csrf_token(client, "/account")
    target = user_id(db_app, f"{role}@example.org")
    for action in (f"/admin/users/{target}/role", "/admin/audit/verify", "/admin/users/new"):
        response = client.post(action, data={"csrf_token": token, "role": "administrator"})
        assert response.status_code == 403, action
    assert user_by_email(db_app, f"{role}@example.org").role.value == role
    assert events(db_app, "audit_verified") == []


def test_admin_signs_in_to_admin_home_with_admin_link(admin: FlaskClient, clock: FakeClock) -> None:
    html = admin.get("/admin").get_data(as_text=True)
    assert "Administration" in html
    assert 'href="/admin"' in html  # the service navigation's Admin link
    assert 'href="/submissions"' not in html  # an administrator has no LA
    assert "Sign out" in html
    # After signing in again, an administrator lands on the admin home.
    admin.post("/sign-out", data={"csrf_token": csrf_token(admin, "/account")})
    assert post_password(admin, email=ADMIN).status_code == 303
    clock.advance(seconds=30)
    from auth_support import post_code, stored_secret, totp

    secret = stored_secret(admin.application, user_id(admin.application, ADMIN))
    response = post_code(admin, totp(secret, clock))
    assert response.headers["Location"] == "/admin"


def test_admin_link_hidden_from_la_users(sign_in: Callable[[str, str, str], FlaskClient]) -> None:
    client = sign_in(SUBMITTER, "la_submitter", "840")
    html = client.get("/submissions").get_data(as_text=True)
    assert 'href="/admin"' not in html
    assert 'href="/submissions"' in html
    assert 'href="/sharing"' in html


def test_admin_pages_render_for_admin(admin: FlaskClient) -> None:
    for path in ADMIN_PAGES:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store"


# -- organisations and alliances ------------------------------------------------------------------


def test_admin_organisations_filter_by_kind(admin: FlaskClient) -> None:
    text = text_of(admin.get("/admin/organisations?kind=alliance").get_data(as_text=True))
    assert "9 organisations: alliance" in text
    assert "North East regional alliance" in text
    assert "County Durham" not in text
    assert admin.get("/admin/organisations?kind=nonsense").status_code == 400


def test_admin_la_detail_shows_alliances_and_users(
    db_app: Flask, admin: FlaskClient, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    sign_in(SUBMITTER, "la_submitter", "840")
    html = admin.get("/admin/organisations/840").get_data(as_text=True)
    assert "County Durham" in html
    assert "North East regional alliance" in html
    assert SUBMITTER in html
    assert admin.get("/admin/organisations/nope").status_code == 404


def test_admin_create_alliance_edit_members_and_deactivate(
    db_app: Flask, admin: FlaskClient
) -> None:
    response = post_form(
        admin,
        "/admin/alliances/new",
        "/admin/alliances/new",
        name="Tees Valley",
        las="805, 806\n807 808\nE06000005",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/organisations/alliance-tees-valley"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tees Valley created with 5 members." in page
    assert "Darlington" in page  # E06000005 is Darlington (841)
    [created] = events(db_app, "alliance_created")
    assert created.actor_label == f"user:{ADMIN}"
    assert created.details["members"] == ["805", "806", "807", "808", "841"]

    members_page = admin.get("/admin/alliances/alliance-tees-valley/members").get_data(as_text=True)
    assert "805\n806\n807\n808\n841</textarea>" in members_page
    response = post_form(
        admin,
        "/admin/alliances/alliance-tees-valley/members",
        "/admin/alliances/alliance-tees-valley/members",
        las="805 806 840",
    )
    assert response.status_code == 303
    [changed] = events(db_app, "alliance_members_changed")
    assert changed.details["added"] == ["840"]
    assert changed.details["removed"] == ["807", "808", "841"]

    page = "/admin/alliances/alliance-tees-valley/deactivate"
    assert "Deactivate Tees Valley" in admin.get(page).get_data(as_text=True)
    response = post_form(admin, page, page)
    assert response.status_code == 303
    assert events(db_app, "alliance_deactivated")[0].details["removed"] == ["805", "806", "840"]
    with db_app.app_context():
        alliance = db.session.scalars(
            select(Organisation).where(Organisation.code == "alliance-tees-valley")
        ).one()
        assert not alliance.is_active
        assert alliance.memberships == []


def test_admin_create_alliance_errors_show_on_the_form(db_app: Flask, admin: FlaskClient) -> None:
    response = post_form(
        admin, "/admin/alliances/new", "/admin/alliances/new", name="Tees", las="805 999"
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is a problem" in html
    assert "&#39;999&#39; is not a known LA code" in html
    assert 'href="#las"' in html
    response = post_form(
        admin, "/admin/alliances/new", "/admin/alliances/new", name="North East", las="805"
    )
    assert response.status_code == 400
    assert 'href="#name"' in response.get_data(as_text=True)
    assert events(db_app, "alliance_created") == []


def test_admin_regional_alliance_not_editable(db_app: Flask, admin: FlaskClient) -> None:
    html = admin.get("/admin/alliances").get_data(as_text=True)
    assert "North East regional alliance" in html
    assert "/admin/alliances/alliance-north-east/members" not in html
    response = admin.get("/admin/alliances/alliance-north-east/members")
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "its members follow the regions" in page
    token = csrf_token(admin, "/admin/alliances/new")
    response = admin.post(
        "/admin/alliances/alliance-north-east/deactivate", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert events(db_app, "alliance_deactivated") == []


# -- users ----------------------------------------------------------------------------------------


def test_admin_create_user_shows_password_once(db_app: Flask, admin: FlaskClient) -> None:
    response = post_form(
        admin,
        "/admin/users/new",
        "/admin/users/new",
        email="Viv@Darlington.example",
        name="Viv Viewer",
        organisation="841",
        role="la_viewer",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    match = re.search(r'id="new-password">([^<]+)<', html)
    assert match
    password = match.group(1)
    assert len(password) >= 24
    user = user_by_email(db_app, "viv@darlington.example")
    assert user.role is Role.LA_VIEWER
    assert passwords.verify_password(user.password_hash, password)
    assert user.mfa_enrolled_at is None
    created = events(db_app, "user_created")[-1]  # the first is the administrator's own
    assert created.actor_label == f"user:{ADMIN}"
    assert created.details == {"role": "la_viewer", "organisation": "841"}
    assert password not in str(created.details)
    # The password is never shown again.
    assert password not in admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert password not in admin.get("/admin/users").get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"organisation": "841", "role": "analyst"}, "role", "cannot belong to 841"),
        ({"organisation": "nope", "role": "la_viewer"}, "organisation", "No organisation has"),
        ({"email": "not-an-email"}, "email", "is not an email address"),
        ({"email": ""}, "email", "Enter an email address"),
    ],
)
def test_admin_create_user_refusal_shows_on_its_field(
    db_app: Flask, admin: FlaskClient, fields: dict[str, str], field: str, message: str
) -> None:
    data = {
        "email": "kim@example.org",
        "name": "Kim",
        "organisation": "841",
        "role": "la_viewer",
        **fields,
    }
    response = post_form(admin, "/admin/users/new", "/admin/users/new", **data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'href="#{field}"' in html
    assert message in html
    assert [e.target_id for e in events(db_app, "user_created")] == [str(user_id(db_app, ADMIN))]


def test_admin_users_list_filters(
    admin: FlaskClient, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    sign_in(SUBMITTER, "la_submitter", "840")
    html = admin.get("/admin/users").get_data(as_text=True)
    assert SUBMITTER in html
    assert ADMIN in html
    html = admin.get("/admin/users?organisation=840").get_data(as_text=True)
    assert SUBMITTER in html
    assert ADMIN not in html
    html = admin.get("/admin/users?role=administrator").get_data(as_text=True)
    assert SUBMITTER not in html
    assert ADMIN in html
    assert "No users match." in admin.get("/admin/users?organisation=841").get_data(as_text=True)


def test_admin_change_role(db_app: Flask, admin: FlaskClient) -> None:
    target = make_user(db_app, "val@durham.example", role="la_viewer", org="840")
    page = f"/admin/users/{target}"
    response = post_form(admin, page, f"{page}/role", role="la_submitter")
    assert response.status_code == 303
    assert "role changed" in admin.get(page).get_data(as_text=True)
    assert user_by_email(db_app, "val@durham.example").role is Role.LA_SUBMITTER
    [changed] = events(db_app, "role_changed")
    assert changed.actor_label == f"user:{ADMIN}"
    assert changed.details == {"old": "la_viewer", "new": "la_submitter"}
    # A role that does not fit the organisation is refused on the form, and nothing changes.
    response = post_form(admin, page, f"{page}/role", role="analyst")
    assert response.status_code == 400
    assert "cannot belong to 840" in response.get_data(as_text=True)
    assert user_by_email(db_app, "val@durham.example").role is Role.LA_SUBMITTER


def test_admin_reset_mfa_signs_the_user_out(
    db_app: Flask, admin: FlaskClient, sign_in: Callable[[str, str, str], FlaskClient]
) -> None:
    victim = sign_in(SUBMITTER, "la_submitter", "840")
    assert victim.get("/submissions").status_code == 200
    target = user_id(db_app, SUBMITTER)
    page = f"/admin/users/{target}"
    assert "Reset authenticator app" in admin.get(page).get_data(as_text=True)
    response = post_form(admin, page, f"{page}/reset-mfa")
    assert response.status_code == 303
    assert "MFA reset for" in admin.get(page).get_data(as_text=True)
    user = user_by_email(db_app, SUBMITTER)
    assert user.mfa_enrolled_at is None
    assert user.totp_secret_encrypted is None
    assert events(db_app, "mfa_reset")[0].actor_label == f"user:{ADMIN}"
    assert victim.get("/submissions").status_code == 302  # signed out everywhere


def test_admin_unlock_locked_user(db_app: Flask, admin: FlaskClient) -> None:
    target = make_user(db_app, "lou@durham.example")
    with db_app.app_context():
        for _ in range(accounts.MAX_FAILED_ATTEMPTS):
            accounts.check_password(db.session, "lou@durham.example", "wrong wrong wrong")
    assert user_by_email(db_app, "lou@durham.example").locked_until is not None
    page = f"/admin/users/{target}"
    html = admin.get(page).get_data(as_text=True)
    assert "Locked" in html
    assert "Unlock account" in html
    assert "Locked" in admin.get("/admin/users?organisation=840").get_data(as_text=True)
    response = post_form(admin, page, f"{page}/unlock")
    assert response.status_code == 303
    user = user_by_email(db_app, "lou@durham.example")
    assert user.locked_until is None
    assert user.failed_logins == 0
    [unlocked] = events(db_app, "account_unlocked")
    assert unlocked.actor_label == f"user:{ADMIN}"
    assert unlocked.details == {"was_locked": True}
    with db_app.app_context():
        result = accounts.check_password(
            db.session, "lou@durham.example", "tangerine kettle orbit swimming"
        )
    assert result.ok


def test_admin_post_without_csrf_token_is_refused(db_app: Flask, admin: FlaskClient) -> None:
    target = make_user(db_app, "val@durham.example", role="la_viewer", org="840")
    response = admin.post(f"/admin/users/{target}/role", data={"role": "la_submitter"})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert user_by_email(db_app, "val@durham.example").role is Role.LA_VIEWER


# -- audit log ------------------------------------------------------------------------------------


def test_admin_audit_view_filters_and_is_not_audited(db_app: Flask, admin: FlaskClient) -> None:
    def count() -> int:
        with db_app.app_context():
            return len(db.session.scalars(select(AuditEvent.id)).all())

    before = count()
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert count() == before  # looking at the log adds nothing to it
    assert "login_success" in html
    assert "default_organisations_ensured" in html
    html = admin.get("/admin/audit?action=login_success").get_data(as_text=True)
    assert "1 event" in text_of(html)
    assert "default_organisations_ensured</span>" not in html
    html = admin.get(f"/admin/audit?actor={ADMIN[:8].upper()}").get_data(as_text=True)
    assert "mfa_enrolled" in html
    assert "default_organisations_ensured</span>" not in html
    assert "No events match." in admin.get("/admin/audit?organisation=840").get_data(as_text=True)
    html = admin.get("/admin/audit?organisation=platform").get_data(as_text=True)
    assert "user_created" in html
    assert "No events match." in admin.get("/admin/audit?actor=100%25").get_data(as_text=True)


def test_admin_audit_view_paginates_newest_first(db_app: Flask, admin: FlaskClient) -> None:
    from exchange import audit

    with db_app.app_context():
        for i in range(120):
            audit.record(db.session, "test_event", actor_label=f"system:test-{i:03d}")
        db.session.commit()
    first = admin.get("/admin/audit?action=test_event").get_data(as_text=True)
    assert "120 events, page 1 of 3" in text_of(first)
    assert "system:test-119" in first
    assert "system:test-070" in first
    assert "system:test-069" not in first
    assert 'href="/admin/audit?page=2&amp;action=test_event" rel="next"' in first
    last = admin.get("/admin/audit?action=test_event&page=3").get_data(as_text=True)
    assert "system:test-019" in last
    assert "system:test-000" in last
    assert "system:test-020" not in last
    assert admin.get("/admin/audit?page=x").status_code == 400


def test_admin_audit_verify_reports_and_is_audited(db_app: Flask, admin: FlaskClient) -> None:
    response = post_form(admin, "/admin/audit", "/admin/audit/verify")
    assert response.status_code == 303
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert re.search(r"The audit log is intact: \d+ entries verified\.", html)
    [verified] = events(db_app, "audit_verified")
    assert verified.actor_label == f"user:{ADMIN}"
    assert verified.outcome == "success"
    assert verified.details["intact"] is True

    # Tamper with an entry: the button finds it.
    with db_app.app_context():
        db.session.execute(
            update(AuditEvent).where(AuditEvent.seq == 2).values(actor_label="someone else")
        )
        db.session.commit()
    post_form(admin, "/admin/audit", "/admin/audit/verify")
    html = admin.get("/admin/audit").get_data(as_text=True)
    assert "The audit log is broken at entry 2: its content does not match its hash" in html
    broken = events(db_app, "audit_verified")[-1]
    assert broken.outcome == "failure"
    assert broken.details["broken_at"] == 2
