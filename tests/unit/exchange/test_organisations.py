"""Organisations: the defaults made from reference data, the reference tables, and
administrators' custom alliances (each change one transaction with its audit event)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.organisations import (
    OrganisationError,
    alliance_code,
    create_alliance,
    deactivate_alliance,
    ensure_default_organisations,
    set_alliance_members,
)
from exchange.actions.reference import load_reference_data
from exchange.extensions import db
from exchange.models import (
    AllianceMembership,
    AuditEvent,
    ChildPopulation,
    Organisation,
    OrganisationKind,
    ReferenceLocalAuthority,
    ReferenceRegion,
    Role,
    StatisticalNeighbour,
    User,
)
from exchange.security.policy import Principal
from exchange.security.principals import principal_for_user, system_principal
from schemas.reference import load_reference

REFERENCE = load_reference()
HISTORY = REFERENCE.to_frames()["la_history"]
OLD_CODES = set(HISTORY["old_la_code"].dropna())
LIVE = HISTORY[HISTORY["date_of_termination"].isna()]
NORTH_EAST = {
    "805",  # Hartlepool
    "806",  # Middlesbrough
    "807",  # Redcar and Cleveland
    "808",  # Stockton-on-Tees
    "840",  # County Durham
    "841",  # Darlington
    "390",  # Gateshead
    "391",  # Newcastle upon Tyne
    "392",  # North Tyneside
    "393",  # South Tyneside
    "394",  # Sunderland
    "929",  # Northumberland
}


@pytest.fixture
def session(db_app: Flask) -> Iterator[Session]:
    with db_app.app_context():
        yield db.session
        db.session.close()


@pytest.fixture
def defaults(session: Session) -> dict[str, int]:
    return ensure_default_organisations(session)


def _org(session: Session, code: str) -> Organisation:
    return session.scalars(select(Organisation).where(Organisation.code == code)).one()


def _members(session: Session, code: str) -> set[str]:
    session.expire_all()
    return {m.la.code for m in _org(session, code).memberships}


def _events(session: Session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def _user_principal(session: Session, org_code: str, role: Role) -> Principal:
    user = User(
        email=f"{role.value}@example.org",
        name=role.value,
        organisation_id=_org(session, org_code).id,
        role=role,
        password_hash="x",
    )
    session.add(user)
    session.commit()
    return principal_for_user(session, user)


@pytest.fixture
def admin(session: Session, defaults: dict[str, int]) -> Principal:
    return _user_principal(session, "platform", Role.ADMINISTRATOR)


# ------------------------------------------------------------------------- default organisations


def test_defaults_one_la_organisation_per_old_code(
    session: Session, defaults: dict[str, int]
) -> None:
    las = session.scalars(
        select(Organisation).where(Organisation.kind == OrganisationKind.LOCAL_AUTHORITY)
    ).all()
    assert {la.code for la in las} == OLD_CODES
    assert len(las) == defaults["local_authorities"] == 160
    assert {la.code for la in las if la.is_active} == set(LIVE["old_la_code"])
    assert defaults["active_local_authorities"] == 153


def test_defaults_la_carries_latest_gss_code(session: Session, defaults: dict[str, int]) -> None:
    barnsley = _org(session, "370")
    assert (barnsley.name, barnsley.new_la_code, barnsley.is_active) == (
        "Barnsley",
        "E08000038",
        True,
    )
    assert barnsley.region_code == "E12000003"
    assert _org(session, "815").new_la_code == "E06000065"  # North Yorkshire, now unitary


def test_defaults_abolished_las_are_inactive(session: Session, defaults: dict[str, int]) -> None:
    cumbria, northants = _org(session, "909"), _org(session, "928")
    assert (cumbria.name, cumbria.new_la_code, cumbria.is_active) == (
        "Cumbria",
        "E10000006",
        False,
    )
    assert (northants.name, northants.is_active) == ("Northamptonshire", False)
    inactive = session.scalars(
        select(Organisation.code).where(
            Organisation.kind == OrganisationKind.LOCAL_AUTHORITY, Organisation.is_active.is_(False)
        )
    ).all()
    assert set(inactive) == {"820", "835", "836", "837", "875", "909", "928"}


def test_defaults_nine_regional_alliances_of_live_las(
    session: Session, defaults: dict[str, int]
) -> None:
    alliances = session.scalars(
        select(Organisation).where(Organisation.kind == OrganisationKind.ALLIANCE)
    ).all()
    assert len(alliances) == defaults["regional_alliances"] == 9
    assert all(a.is_regional and a.is_active for a in alliances)
    for alliance in alliances:
        expected = set(LIVE[LIVE["region_code"] == alliance.region_code]["old_la_code"])
        assert _members(session, alliance.code) == expected
    assert _members(session, "alliance-north-east") == NORTH_EAST
    assert _org(session, "alliance-north-east").name == "North East regional alliance"
    assert len(_members(session, "alliance-london")) == 33
    assert "909" not in _members(session, "alliance-north-west")  # Cumbria is abolished
    assert session.scalar(select(func.count()).select_from(AllianceMembership)) == 153


def test_defaults_national_and_platform(session: Session, defaults: dict[str, int]) -> None:
    assert _org(session, "national").kind is OrganisationKind.NATIONAL
    assert _org(session, "platform").kind is OrganisationKind.PLATFORM
    assert session.scalar(select(func.count()).select_from(Organisation)) == 160 + 9 + 2


def test_defaults_audited(session: Session, defaults: dict[str, int]) -> None:
    (event,) = _events(session)
    assert event.action == "default_organisations_ensured"
    assert event.details["created"] == 171
    assert event.details["memberships_added"] == 153
    assert audit.verify(session) == (1, None)


def test_defaults_second_run_changes_nothing(session: Session, defaults: dict[str, int]) -> None:
    before = session.execute(select(Organisation.id, Organisation.code)).all()
    again = ensure_default_organisations(session)
    assert (again["created"], again["updated"]) == (0, 0)
    assert (again["memberships_added"], again["memberships_removed"]) == (0, 0)
    assert session.execute(select(Organisation.id, Organisation.code)).all() == before
    assert len(_events(session, "default_organisations_ensured")) == 2


def test_defaults_repairs_drift(session: Session, defaults: dict[str, int]) -> None:
    hartlepool = _org(session, "805")
    hartlepool.name = "Renamed"
    session.execute(delete(AllianceMembership).where(AllianceMembership.la_id == hartlepool.id))
    session.commit()
    again = ensure_default_organisations(session)
    assert (again["updated"], again["memberships_added"]) == (1, 1)
    assert _org(session, "805").name == "Hartlepool"
    assert "805" in _members(session, "alliance-north-east")


def test_defaults_refuse_a_custom_organisation_holding_a_default_code(session: Session) -> None:
    session.add(Organisation(kind=OrganisationKind.ALLIANCE, code="national", name="Squatter"))
    session.commit()
    with pytest.raises(OrganisationError, match="not the default"):
        ensure_default_organisations(session)
    assert session.scalar(select(func.count()).select_from(Organisation)) == 1
    assert _events(session) == []


# ------------------------------------------------------------------------------ reference tables


def test_reference_data_loaded(session: Session) -> None:
    counts = load_reference_data(session)
    assert counts == {
        "regions": 11,
        "local_authorities": 172,
        "statistical_neighbours": 3050,
        "child_population": 2132,
    }
    old_barnsley = session.get(ReferenceLocalAuthority, "E08000016")
    assert old_barnsley is not None
    assert (old_barnsley.old_la_code, str(old_barnsley.date_of_termination)) == (
        "370",
        "2025-04-30",
    )
    assert session.get(ReferenceLocalAuthority, "E10000010").old_la_code is None  # Durham county
    assert session.get(ReferenceRegion, "E13000001").parent_region_code == "E12000007"
    assert session.get(StatisticalNeighbour, (2025, "370", 1)).neighbour_code == (
        REFERENCE.statistical_neighbours("370", 2025)[0].old_la_code
    )
    assert session.get(ChildPopulation, (2024, "E06000047")).population == (
        REFERENCE.child_population("840", 2024)
    )
    (event,) = _events(session)
    assert (event.action, event.details) == ("reference_data_loaded", {"rows": counts})


def test_reference_data_reload_replaces_rows(session: Session) -> None:
    load_reference_data(session)
    session.get(ReferenceRegion, "E12000001").region_name = "Edited"
    session.commit()
    assert load_reference_data(session)["regions"] == 11
    session.expire_all()
    assert session.get(ReferenceRegion, "E12000001").region_name == "North East"
    assert session.scalar(select(func.count()).select_from(ReferenceLocalAuthority)) == 172
    assert len(_events(session, "reference_data_loaded")) == 2


# ------------------------------------------------------------------------------ custom alliances


def test_create_alliance_with_old_and_gss_codes(session: Session, admin: Principal) -> None:
    # E08000016 is Barnsley's superseded GSS code: it still names LA 370.
    alliance = create_alliance(
        session, admin, "  Pennine   Partnership ", ["370", "E08000016", "E08000035", "352"]
    )
    assert (alliance.code, alliance.name) == ("alliance-pennine-partnership", "Pennine Partnership")
    assert (alliance.kind, alliance.is_regional, alliance.is_active) == (
        OrganisationKind.ALLIANCE,
        False,
        True,
    )
    assert _members(session, alliance.code) == {"370", "383", "352"}
    (event,) = _events(session, "alliance_created")
    assert (event.actor_label, event.actor_user_id) == (admin.label, admin.user_id)
    assert (event.organisation_id, event.target_id) == (alliance.id, str(alliance.id))
    assert event.details == {"code": alliance.code, "members": ["352", "370", "383"]}


def test_create_alliance_by_the_system_principal(session: Session, defaults: dict) -> None:
    alliance = create_alliance(session, system_principal(), "Tees Valley", ["805", "806"])
    assert _members(session, alliance.code) == {"805", "806"}


@pytest.mark.parametrize(
    "role",
    [Role.LA_SUBMITTER, Role.ALLIANCE_VIEWER, Role.ANALYST],
)
def test_create_alliance_denied_to_non_administrators(
    session: Session, defaults: dict, role: Role
) -> None:
    org = {
        Role.LA_SUBMITTER: "805",
        Role.ALLIANCE_VIEWER: "alliance-north-east",
        Role.ANALYST: "national",
    }[role]
    actor = _user_principal(session, org, role)
    with pytest.raises(PermissionError):
        create_alliance(session, actor, "Takeover", ["805"])
    assert (
        session.scalars(select(Organisation).where(Organisation.code == "alliance-takeover")).all()
        == []
    )
    (event,) = _events(session, "alliance_created")
    assert (event.outcome, event.actor_user_id) == ("denied", actor.user_id)


@pytest.mark.parametrize(
    ("name", "codes", "message"),
    [
        ("London", ["805"], "reserved for a regional alliance"),
        ("north  EAST", ["805"], "reserved for a regional alliance"),
        ("   ", ["805"], "needs a name"),
        ("Fine", [], "at least one LA"),
        ("Fine", ["999"], "not a known LA code"),
        ("Fine", ["909"], "abolished"),
        ("Fine", ["E10000010"], "abolished in 2009"),
    ],
)
def test_create_alliance_refused(
    session: Session, admin: Principal, name: str, codes: list[str], message: str
) -> None:
    count = session.scalar(select(func.count()).select_from(Organisation))
    with pytest.raises(OrganisationError, match=message):
        create_alliance(session, admin, name, codes)
    assert session.scalar(select(func.count()).select_from(Organisation)) == count
    assert _events(session, "alliance_created") == []


def test_create_alliance_refuses_a_taken_name(session: Session, admin: Principal) -> None:
    create_alliance(session, admin, "Tees Valley", ["805"])
    with pytest.raises(OrganisationError, match="already exists"):
        create_alliance(session, admin, "tees-valley", ["806"])
    assert _members(session, "alliance-tees-valley") == {"805"}


def test_set_alliance_members_adds_and_removes(session: Session, admin: Principal) -> None:
    code = create_alliance(session, admin, "Tees Valley", ["805", "806", "807"]).code
    changes = set_alliance_members(session, admin, code, ["806", "807", "808", "E06000005"])
    assert changes == {"added": ["808", "841"], "removed": ["805"]}
    assert _members(session, code) == {"806", "807", "808", "841"}
    (event,) = _events(session, "alliance_members_changed")
    assert event.details == {"code": code, "added": ["808", "841"], "removed": ["805"]}


def test_set_alliance_members_failure_changes_nothing(session: Session, admin: Principal) -> None:
    code = create_alliance(session, admin, "Tees Valley", ["805"]).code
    with pytest.raises(OrganisationError, match="not a known LA code"):
        set_alliance_members(session, admin, code, ["806", "nope"])
    assert _members(session, code) == {"805"}
    assert _events(session, "alliance_members_changed") == []


def test_set_alliance_members_refuses_regional_alliances(
    session: Session, admin: Principal
) -> None:
    with pytest.raises(OrganisationError, match="regional alliance"):
        set_alliance_members(session, admin, "alliance-north-east", ["805"])
    assert _members(session, "alliance-north-east") == NORTH_EAST


def test_set_alliance_members_denied_to_la_users(session: Session, admin: Principal) -> None:
    code = create_alliance(session, admin, "Tees Valley", ["805"]).code
    actor = _user_principal(session, "806", Role.LA_SUBMITTER)
    with pytest.raises(PermissionError):
        set_alliance_members(session, actor, code, ["805", "806"])
    assert _members(session, code) == {"805"}
    (event,) = _events(session, "alliance_members_changed")
    assert event.outcome == "denied"


def test_deactivate_alliance(session: Session, admin: Principal) -> None:
    code = create_alliance(session, admin, "Tees Valley", ["805", "806"]).code
    alliance = deactivate_alliance(session, admin, code)
    assert alliance.is_active is False
    assert _members(session, code) == set()
    (event,) = _events(session, "alliance_deactivated")
    assert event.details == {"code": code, "removed": ["805", "806"]}
    with pytest.raises(OrganisationError, match="deactivated"):
        set_alliance_members(session, admin, code, ["805"])
    with pytest.raises(OrganisationError, match="deactivated"):
        deactivate_alliance(session, admin, code)
    assert audit.verify(session)[1] is None


def test_deactivate_alliance_refuses_regional_and_unknown(
    session: Session, admin: Principal
) -> None:
    with pytest.raises(OrganisationError, match="regional alliance"):
        deactivate_alliance(session, admin, "alliance-london")
    with pytest.raises(OrganisationError, match="no alliance"):
        deactivate_alliance(session, admin, "805")
    assert _org(session, "alliance-london").is_active


def test_alliance_code_slugs_the_name() -> None:
    assert alliance_code("Yorkshire and The Humber") == "alliance-yorkshire-and-the-humber"
    assert alliance_code("South-West & Friends!") == "alliance-south-west-friends"
