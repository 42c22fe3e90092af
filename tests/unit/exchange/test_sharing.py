"""Sharing settings: defaults, precedence, audit, who may change them, and who sees what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from auth_support import FakeClock, csrf_token, enrol, make_user, post_password
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.sharing import (
    effective_scope,
    effective_scopes,
    set_domain_scope,
    set_indicator_scope,
    sharing_summary,
    stored_settings,
    update_sharing,
)
from exchange.extensions import db
from exchange.models import (
    AllianceMembership,
    AuditEvent,
    Organisation,
    OrganisationKind,
    Role,
    SharingSetting,
    User,
)
from exchange.models.sharing import SCOPE_VALUES
from exchange.security import clock as clock_module
from exchange.security.policy import Channel, Principal, Scope, Visibility
from exchange.security.principals import (
    owner_alliance_ids,
    principal_for_user,
    system_principal,
    visible_value,
    visible_values,
)
from schemas.catalogue import load_catalogue

DOMAIN = "child_outcomes"
CATALOGUE = load_catalogue()
FIRST, SECOND = (i.id for i in CATALOGUE.by_domain(DOMAIN)[:2])
OTHER_DOMAIN_INDICATOR = CATALOGUE.by_domain("conditions_culture")[0].id


@dataclass
class World:
    """Organisations and users: the owner LA, an ally (shares an active alliance with it), a
    stranger LA (another alliance), an LA sharing only an inactive alliance with the owner."""

    owner: Organisation
    ally: Organisation
    stranger: Organisation
    inactive_ally: Organisation
    alliance: Organisation
    other_alliance: Organisation
    inactive_alliance: Organisation
    national: Organisation
    platform: Organisation
    users: dict[str, User]


def _org(session: Session, kind: OrganisationKind, code: str, active: bool = True) -> Organisation:
    org = Organisation(kind=kind, code=code, name=f"Org {code}", is_active=active)
    session.add(org)
    return org


def _user(session: Session, key: str, org: Organisation, role: Role) -> User:
    user = User(
        email=f"{key}@example.org", name=key, organisation_id=org.id, role=role, password_hash="x"
    )
    session.add(user)
    return user


@pytest.fixture
def session(db_app: Flask) -> Iterator[Session]:
    with db_app.app_context():
        yield db.session
        db.session.close()
        # Close the pool's connections now: left to the garbage collector, psycopg warns.
        db.engine.dispose()


@pytest.fixture
def world(session: Session) -> World:
    la, al = OrganisationKind.LOCAL_AUTHORITY, OrganisationKind.ALLIANCE
    owner, ally, stranger, inactive_ally = (
        _org(session, la, c) for c in ("840", "841", "842", "843")
    )
    alliance = _org(session, al, "alliance-north")
    other_alliance = _org(session, al, "alliance-south")
    inactive_alliance = _org(session, al, "alliance-old", active=False)
    national = _org(session, OrganisationKind.NATIONAL, "national")
    platform = _org(session, OrganisationKind.PLATFORM, "platform")
    session.flush()
    for a, members in (
        (alliance, (owner, ally)),
        (other_alliance, (stranger,)),
        (inactive_alliance, (owner, inactive_ally)),
    ):
        session.add_all(AllianceMembership(alliance_id=a.id, la_id=m.id) for m in members)
    users = {
        "submitter": _user(session, "submitter", owner, Role.LA_SUBMITTER),
        "viewer": _user(session, "viewer", owner, Role.LA_VIEWER),
        "ally": _user(session, "ally", ally, Role.LA_SUBMITTER),
        "stranger": _user(session, "stranger", stranger, Role.LA_SUBMITTER),
        "inactive_ally": _user(session, "inactive_ally", inactive_ally, Role.LA_VIEWER),
        "alliance_viewer": _user(session, "alliance_viewer", alliance, Role.ALLIANCE_VIEWER),
        "other_alliance_viewer": _user(
            session, "other_alliance_viewer", other_alliance, Role.ALLIANCE_VIEWER
        ),
        "inactive_alliance_viewer": _user(
            session, "inactive_alliance_viewer", inactive_alliance, Role.ALLIANCE_VIEWER
        ),
        "analyst": _user(session, "analyst", national, Role.ANALYST),
        "admin": _user(session, "admin", platform, Role.ADMINISTRATOR),
    }
    session.commit()
    return World(
        owner,
        ally,
        stranger,
        inactive_ally,
        alliance,
        other_alliance,
        inactive_alliance,
        national,
        platform,
        users,
    )


def _p(session: Session, world: World, key: str) -> Principal:
    return principal_for_user(session, world.users[key])


def _events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


# ------------------------------------------------------------------------------- the model


def test_sharing_scope_values_match_policy() -> None:
    assert tuple(s.value for s in Scope) == SCOPE_VALUES


def test_sharing_setting_one_domain_level_row_per_domain(session: Session, world: World) -> None:
    # NULL indicator ids are distinct in a unique constraint: the partial index stops this.
    for _ in range(2):
        session.add(
            SharingSetting(
                organisation_id=world.owner.id, domain=DOMAIN, indicator_id=None, scope="national"
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_sharing_setting_one_override_per_indicator(session: Session, world: World) -> None:
    for _ in range(2):
        session.add(
            SharingSetting(
                organisation_id=world.owner.id, domain=DOMAIN, indicator_id=FIRST, scope="national"
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_sharing_setting_rejects_unknown_scope(session: Session, world: World) -> None:
    session.add(SharingSetting(organisation_id=world.owner.id, domain=DOMAIN, scope="everyone"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# ------------------------------------------------------------------------- effective scopes


def test_effective_scopes_default_private(session: Session, world: World) -> None:
    scopes = effective_scopes(session, world.owner.id)
    assert set(scopes) == set(CATALOGUE.indicators)
    assert set(scopes.values()) == {Scope.PRIVATE}
    assert effective_scope(session, world.owner.id, FIRST) is Scope.PRIVATE


def test_effective_scopes_indicator_override_beats_domain(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    assert set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.ALLIANCE)
    assert set_indicator_scope(session, submitter, world.owner.id, FIRST, Scope.NATIONAL)
    scopes = effective_scopes(session, world.owner.id)
    assert scopes[FIRST] is Scope.NATIONAL
    assert scopes[SECOND] is Scope.ALLIANCE  # follows its domain
    assert scopes[OTHER_DOMAIN_INDICATOR] is Scope.PRIVATE  # another domain: default
    # An override to private narrows an indicator of a widely shared domain.
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.NATIONAL)
    set_indicator_scope(session, submitter, world.owner.id, SECOND, Scope.PRIVATE)
    assert effective_scope(session, world.owner.id, SECOND) is Scope.PRIVATE
    assert effective_scope(session, world.owner.id, FIRST) is Scope.NATIONAL
    # Other LAs' settings are their own.
    assert set(effective_scopes(session, world.ally.id).values()) == {Scope.PRIVATE}


def test_effective_scope_unknown_indicator_private(session: Session, world: World) -> None:
    set_domain_scope(session, _p(session, world, "submitter"), world.owner.id, DOMAIN, "national")
    assert effective_scope(session, world.owner.id, "no_such_indicator") is Scope.PRIVATE


def test_set_indicator_scope_none_removes_override(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.ALLIANCE)
    set_indicator_scope(session, submitter, world.owner.id, FIRST, Scope.PRIVATE)
    assert set_indicator_scope(session, submitter, world.owner.id, FIRST, None)
    assert effective_scope(session, world.owner.id, FIRST) is Scope.ALLIANCE
    assert FIRST not in stored_settings(session, world.owner.id).overrides
    # Removing an override that does not exist changes nothing.
    assert not set_indicator_scope(session, submitter, world.owner.id, FIRST, None)


def test_sharing_summary_counts_per_domain(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    update_sharing(
        session,
        submitter,
        world.owner.id,
        domains={DOMAIN: Scope.ALLIANCE},
        indicators={FIRST: Scope.NATIONAL, OTHER_DOMAIN_INDICATOR: Scope.NATIONAL},
    )
    summary = sharing_summary(session, world.owner.id)
    assert list(summary) == [
        d.id for d in sorted(CATALOGUE.domains.values(), key=lambda d: d.table)
    ]
    size = len(CATALOGUE.by_domain(DOMAIN))
    assert summary[DOMAIN] == {Scope.PRIVATE: 0, Scope.ALLIANCE: size - 1, Scope.NATIONAL: 1}
    other = len(CATALOGUE.by_domain("conditions_culture"))
    assert summary["conditions_culture"] == {
        Scope.PRIVATE: other - 1,
        Scope.ALLIANCE: 0,
        Scope.NATIONAL: 1,
    }


# ------------------------------------------------------------------------------------ audit


def test_sharing_change_audited_with_old_and_new(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.ALLIANCE)
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.NATIONAL)
    set_indicator_scope(session, submitter, world.owner.id, FIRST, Scope.PRIVATE)
    set_indicator_scope(session, submitter, world.owner.id, FIRST, None)
    events = _events(session)
    assert [e.details for e in events] == [
        {"domain": DOMAIN, "indicator_id": None, "old": "private", "new": "alliance"},
        {"domain": DOMAIN, "indicator_id": None, "old": "alliance", "new": "national"},
        {"domain": DOMAIN, "indicator_id": FIRST, "old": None, "new": "private"},
        {"domain": DOMAIN, "indicator_id": FIRST, "old": "private", "new": None},
    ]
    for event in events:
        assert event.action == "sharing_changed"
        assert event.outcome == "success"
        assert event.actor_user_id == world.users["submitter"].id
        assert event.actor_label == "user:submitter@example.org"
        assert event.organisation_id == world.owner.id
    assert audit.verify(session) == (4, None)


def test_sharing_unchanged_setting_records_nothing(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    # Private is the default: setting it changes nothing.
    assert not set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.PRIVATE)
    set_indicator_scope(session, submitter, world.owner.id, FIRST, Scope.ALLIANCE)
    assert not set_indicator_scope(session, submitter, world.owner.id, FIRST, "alliance")
    assert len(_events(session)) == 1


def test_update_sharing_one_transaction_event_per_change(session: Session, world: World) -> None:
    changed = update_sharing(
        session,
        _p(session, world, "submitter"),
        world.owner.id,
        domains={DOMAIN: Scope.NATIONAL, "conditions_culture": Scope.PRIVATE},
        indicators={FIRST: Scope.ALLIANCE, SECOND: None},
    )
    assert changed == 2  # conditions_culture stays private; SECOND had no override
    assert [e.details["indicator_id"] for e in _events(session)] == [None, FIRST]
    row = session.scalars(select(SharingSetting).where(SharingSetting.indicator_id == FIRST)).one()
    assert row.updated_by == world.users["submitter"].id
    assert row.updated_at is not None
    assert row.updated_at.tzinfo is not None


@pytest.mark.parametrize(
    ("domains", "indicators"),
    [
        ({DOMAIN: "national", "no_such_domain": "national"}, {}),
        ({DOMAIN: "national"}, {"no_such_indicator": "national"}),
        ({DOMAIN: "national"}, {FIRST: "everyone"}),
    ],
    ids=["unknown-domain", "unknown-indicator", "unknown-scope"],
)
def test_update_sharing_invalid_changes_nothing(
    session: Session, world: World, domains: dict[str, str], indicators: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="unknown"):
        update_sharing(
            session,
            _p(session, world, "submitter"),
            world.owner.id,
            domains=domains,
            indicators=indicators,
        )
    assert session.scalar(select(func.count()).select_from(SharingSetting)) == 0
    assert _events(session) == []


def test_sharing_system_principal_may_change_any_la(session: Session, world: World) -> None:
    assert set_domain_scope(session, system_principal(), world.ally.id, DOMAIN, Scope.NATIONAL)
    (event,) = _events(session)
    assert (event.actor_label, event.actor_user_id) == ("system:cli", None)
    assert effective_scope(session, world.ally.id, FIRST) is Scope.NATIONAL


def test_sharing_only_for_local_authorities(session: Session, world: World) -> None:
    with pytest.raises(ValueError, match="not a local authority"):
        set_domain_scope(session, system_principal(), world.alliance.id, DOMAIN, Scope.NATIONAL)
    assert session.scalar(select(func.count()).select_from(SharingSetting)) == 0


@pytest.mark.parametrize(
    "who", ["viewer", "ally", "stranger", "alliance_viewer", "analyst", "admin"]
)
def test_sharing_change_denied(session: Session, world: World, who: str) -> None:
    principal = _p(session, world, who)
    with pytest.raises(PermissionError):
        set_domain_scope(session, principal, world.owner.id, DOMAIN, Scope.NATIONAL)
    with pytest.raises(PermissionError):
        set_indicator_scope(session, principal, world.owner.id, FIRST, Scope.NATIONAL)
    assert session.scalar(select(func.count()).select_from(SharingSetting)) == 0
    events = _events(session)
    assert [(e.action, e.outcome, e.details) for e in events] == [
        ("sharing_changed", "denied", {})
    ] * 2
    assert all(e.actor_user_id == world.users[who].id for e in events)
    assert audit.verify(session) == (2, None)


# ----------------------------------------------------------------------------- principals


def test_principal_for_la_user_active_alliances_only(session: Session, world: World) -> None:
    p = _p(session, world, "submitter")
    assert (p.role, p.organisation_id, p.organisation_kind) == (
        Role.LA_SUBMITTER,
        world.owner.id,
        OrganisationKind.LOCAL_AUTHORITY,
    )
    assert p.alliance_ids == frozenset({world.alliance.id})  # not the inactive alliance
    assert (p.user_id, p.label, p.is_system) == (
        world.users["submitter"].id,
        "user:submitter@example.org",
        False,
    )
    assert owner_alliance_ids(session, world.owner.id) == frozenset({world.alliance.id})
    assert owner_alliance_ids(session, world.inactive_ally.id) == frozenset()


def test_principal_for_alliance_user_is_its_alliance(session: Session, world: World) -> None:
    p = _p(session, world, "alliance_viewer")
    assert p.alliance_ids == frozenset({world.alliance.id})
    assert p.organisation_kind is OrganisationKind.ALLIANCE


@pytest.mark.parametrize("who", ["analyst", "admin"])
def test_principal_for_national_and_platform_no_alliances(
    session: Session, world: World, who: str
) -> None:
    assert _p(session, world, who).alliance_ids == frozenset()


def test_principal_for_inactive_user_or_organisation_grants_nothing(
    session: Session, world: World
) -> None:
    world.users["submitter"].is_active = False
    session.commit()
    assert _p(session, world, "submitter").role is None
    assert _p(session, world, "inactive_alliance_viewer").role is None
    with pytest.raises(PermissionError):
        set_domain_scope(
            session, _p(session, world, "submitter"), world.owner.id, DOMAIN, Scope.NATIONAL
        )


def test_system_principal() -> None:
    p = system_principal("system:worker")
    assert (p.label, p.is_system, p.role, p.organisation_id) == ("system:worker", True, None, None)
    assert system_principal().label == "system:cli"


# ------------------------------------------------------------------------ visible_value

R, P, N = Visibility.RAW, Visibility.PROTECTED, Visibility.NONE


@pytest.mark.parametrize(
    ("who", "private", "alliance", "national"),
    [
        ("submitter", R, R, R),
        ("viewer", R, R, R),
        ("ally", N, P, P),
        ("stranger", N, N, P),
        ("inactive_ally", N, N, P),  # shares only an inactive alliance with the owner
        ("alliance_viewer", N, P, P),
        ("other_alliance_viewer", N, N, P),
        ("inactive_alliance_viewer", N, N, N),  # an inactive organisation's user: nothing
        ("analyst", N, N, P),
        ("admin", N, N, N),
        ("system", N, N, N),
        ("anonymous", N, N, N),
    ],
)
@pytest.mark.parametrize("channel", list(Channel))
def test_visible_value_matrix(
    session: Session,
    world: World,
    who: str,
    private: Visibility,
    alliance: Visibility,
    national: Visibility,
    channel: Channel,
) -> None:
    if who == "system":
        principal: Principal | None = system_principal()
    elif who == "anonymous":
        principal = None
    else:
        principal = _p(session, world, who)
    submitter = _p(session, world, "submitter")
    got = []
    for scope in Scope:
        set_domain_scope(session, submitter, world.owner.id, DOMAIN, scope)
        got.append(visible_value(session, principal, world.owner.id, FIRST, channel))
        assert visible_values(session, principal, world.owner.id, channel)[FIRST] is got[-1]
    assert got == [private, alliance, national]


def test_visible_value_follows_indicator_override(session: Session, world: World) -> None:
    submitter, ally = _p(session, world, "submitter"), _p(session, world, "ally")
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.ALLIANCE)
    set_indicator_scope(session, submitter, world.owner.id, FIRST, Scope.PRIVATE)
    assert visible_value(session, ally, world.owner.id, FIRST, Channel.PORTAL) is N
    assert visible_value(session, ally, world.owner.id, SECOND, Channel.PORTAL) is P
    everything = visible_values(session, ally, world.owner.id, Channel.EXPORT)
    assert everything[FIRST] is N
    assert everything[SECOND] is P
    assert everything[OTHER_DOMAIN_INDICATOR] is N


def test_visible_value_alliance_deactivated_stops_sharing(session: Session, world: World) -> None:
    submitter = _p(session, world, "submitter")
    set_domain_scope(session, submitter, world.owner.id, DOMAIN, Scope.ALLIANCE)
    assert (
        visible_value(session, _p(session, world, "ally"), world.owner.id, FIRST, Channel.PORTAL)
        is P
    )
    world.alliance.is_active = False
    session.commit()
    # The ally's principal is rebuilt (as on every request) and the alliance no longer counts.
    ally = _p(session, world, "ally")
    assert visible_value(session, ally, world.owner.id, FIRST, Channel.PORTAL) is N


# --------------------------------------------------------------------------------- the page
# Signed in through the auth helper's real flow (password, then MFA set-up) on users made by the
# account action, with CSRF protection on; organisations from reference data (County Durham,
# 840, is in the North East regional alliance).

SUBMITTER, VIEWER = "sam.submitter@durham.example", "vic.viewer@durham.example"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "now", fake)
    return fake


def _signed_in_client(db_app: Flask, clock: FakeClock, email: str, role: str, org: str = "840"):
    make_user(db_app, email, role=role, org=org)
    client = db_app.test_client()
    assert post_password(client, email=email).status_code == 303
    enrol(client, clock)
    return client


@pytest.fixture
def submitter_client(db_app: Flask, clock: FakeClock) -> FlaskClient:
    return _signed_in_client(db_app, clock, SUBMITTER, "la_submitter")


def _durham_scopes(app: Flask) -> dict[str, Scope]:
    with app.app_context():
        durham = db.session.scalars(select(Organisation).where(Organisation.code == "840")).one()
        return effective_scopes(db.session, durham.id)


def _sharing_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        events = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "sharing_changed")
                .order_by(AuditEvent.seq)
            )
        )
        db.session.expunge_all()
        return events


def _form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "domain": DOMAIN, "scope": "alliance", **fields}


def test_sharing_page_submitter_sees_form(submitter_client: FlaskClient) -> None:
    response = submitter_client.get("/sharing")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Sharing settings" in html
    assert "North East regional alliance" in html
    # One form per domain, each with a CSRF token, radios (private checked) and selects (and
    # the header's sign-out button, a form of its own).
    assert html.count('name="csrf_token"') == len(CATALOGUE.domains) + 1
    assert f'id="{DOMAIN}-scope" name="scope" type="radio" value="private"' in html
    assert html.count('value="private" checked') == len(CATALOGUE.domains)
    assert f'id="override-{FIRST}" name="override-{FIRST}"' in html
    assert 'class="govuk-details"' in html


def test_sharing_page_post_saves_and_shows_banner(
    db_app: Flask, submitter_client: FlaskClient
) -> None:
    token = csrf_token(submitter_client, "/sharing")
    response = submitter_client.post(
        "/sharing",
        data=_form(token, scope="national", **{f"override-{FIRST}": "private"}),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/sharing#domain-{DOMAIN}"
    scopes = _durham_scopes(db_app)
    assert scopes[FIRST] is Scope.PRIVATE
    assert scopes[SECOND] is Scope.NATIONAL
    assert scopes[OTHER_DOMAIN_INDICATOR] is Scope.PRIVATE
    assert [(e.details["indicator_id"], e.details["new"]) for e in _sharing_events(db_app)] == [
        (None, "national"),
        (FIRST, "private"),
    ]
    html = submitter_client.get("/sharing").get_data(as_text=True)
    assert "govuk-notification-banner--success" in html
    assert "Sharing settings for ‘Child outcomes’ saved." in html
    assert '<option value="private" selected>Private</option>' in html
    # Back to the domain: the override goes when "Same as the domain" is chosen.
    token = csrf_token(submitter_client, "/sharing")
    submitter_client.post(
        "/sharing", data=_form(token, scope="national", **{f"override-{FIRST}": ""})
    )
    assert _durham_scopes(db_app)[FIRST] is Scope.NATIONAL
    with db_app.app_context():
        assert audit.verify(db.session) == (len(audit_log(db_app)), None)


def audit_log(app: Flask) -> list[str]:
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent))]


def test_sharing_page_post_without_csrf_refused(
    db_app: Flask, submitter_client: FlaskClient
) -> None:
    response = submitter_client.post("/sharing", data={"domain": DOMAIN, "scope": "national"})
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert _durham_scopes(db_app)[FIRST] is Scope.PRIVATE
    assert _sharing_events(db_app) == []


@pytest.mark.parametrize(
    ("fields", "anchor", "message"),
    [
        ({"scope": "everyone"}, f"#{DOMAIN}-scope", "Select who can see the indicators of"),
        ({"scope": ""}, f"#{DOMAIN}-scope", "Select who can see the indicators of"),
        ({f"override-{FIRST}": "world"}, f"#override-{FIRST}", "Select who can see ‘"),
    ],
    ids=["unknown-scope", "no-scope", "unknown-override"],
)
def test_sharing_page_invalid_post_shows_error_summary(
    db_app: Flask,
    submitter_client: FlaskClient,
    fields: dict[str, str],
    anchor: str,
    message: str,
) -> None:
    token = csrf_token(submitter_client, "/sharing")
    response = submitter_client.post("/sharing", data=_form(token, **fields))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<title>Error: Sharing settings" in html
    assert 'class="govuk-error-summary"' in html
    assert f'<a href="{anchor}">{message}' in html
    assert "govuk-form-group--error" in html
    assert _sharing_events(db_app) == []
    assert set(_durham_scopes(db_app).values()) == {Scope.PRIVATE}


def test_sharing_page_unknown_override_opens_details(submitter_client: FlaskClient) -> None:
    token = csrf_token(submitter_client, "/sharing")
    html = submitter_client.post(
        "/sharing", data=_form(token, **{f"override-{FIRST}": "world"})
    ).get_data(as_text=True)
    assert 'class="govuk-details" open' in html


def test_sharing_page_unknown_domain_rejected(db_app: Flask, submitter_client: FlaskClient) -> None:
    token = csrf_token(submitter_client, "/sharing")
    response = submitter_client.post("/sharing", data=_form(token, domain="nope"))
    assert response.status_code == 400
    assert _sharing_events(db_app) == []


def test_sharing_page_viewer_read_only(db_app: Flask, clock: FakeClock) -> None:
    make_user(db_app, SUBMITTER, role="la_submitter")
    with db_app.app_context():
        submitter = db.session.scalars(select(User).where(User.email == SUBMITTER)).one()
        principal = principal_for_user(db.session, submitter)
        set_domain_scope(db.session, principal, submitter.organisation_id, DOMAIN, "alliance")
    client = _signed_in_client(db_app, clock, VIEWER, "la_viewer")
    response = client.get("/sharing")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "You can see these settings but not change them" in html
    assert 'type="radio"' not in html
    assert "<select" not in html
    assert '<dd class="govuk-summary-list__value">Alliance</dd>' in html
    # The POST is refused by the guard (LA_SUBMIT), even with a valid CSRF token.
    token = csrf_token(client, "/account")
    response = client.post("/sharing", data=_form(token, scope="national"))
    assert response.status_code == 403
    assert _durham_scopes(db_app)[FIRST] is Scope.ALLIANCE


@pytest.mark.parametrize(
    ("role", "org"), [("alliance_viewer", "alliance-north-east"), ("analyst", "national")]
)
def test_sharing_page_forbidden_outside_las(
    db_app: Flask, clock: FakeClock, role: str, org: str
) -> None:
    client = _signed_in_client(db_app, clock, "someone@example.org", role, org)
    assert client.get("/sharing").status_code == 403
    token = csrf_token(client, "/account")
    assert client.post("/sharing", data=_form(token)).status_code == 403
    assert _sharing_events(db_app) == []


def test_sharing_page_anonymous_sent_to_sign_in(db_app: Flask) -> None:
    response = db_app.test_client().get("/sharing")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/sharing")
