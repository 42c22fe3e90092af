"""Custom comparison sets (exchange.actions.custom_sets): who may define them, validation
messages, audit events, the recompute they queue, the groups frame the comparisons read, and the
statistics a recompute stores for them (blank below the disclosure rule's minimum)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.actions import custom_sets
from exchange.actions.custom_sets import CustomSetError
from exchange.actions.organisations import create_alliance, ensure_default_organisations
from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    CustomComparisonSet,
    CustomComparisonSetMember,
    Job,
    Organisation,
    OrganisationKind,
    Role,
)
from exchange.security.policy import Principal
from exchange.security.principals import owner_alliance_ids, system_principal
from workers.analytics.meta import Groups

DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON = (
    "840",
    "841",
    "805",
    "806",
    "807",
    "808",
)
BRADFORD, CUMBRIA = "380", "909"  # Cumbria was abolished in 2023
ALLIANCE = "Tees partnership"
FORBIDDEN_KEYS = {"value", "values", "numerator", "denominator", "cells", "row"}


@pytest.fixture
def session(db_app: Flask) -> Iterator[Session]:
    """The database with the default organisations (every LA, the regional alliances)."""
    with db_app.app_context():
        ensure_default_organisations(db.session)
        yield db.session


def organisation(session: Session, code: str) -> Organisation:
    return session.scalars(select(Organisation).where(Organisation.code == code)).one()


def ids(session: Session, *codes: str) -> list[int]:
    return [organisation(session, c).id for c in codes]


def la_user(session: Session, code: str, role: Role = Role.LA_SUBMITTER) -> Principal:
    org = organisation(session, code)
    return Principal(
        f"user:{role.value}@{code}",
        role,
        org.id,
        OrganisationKind.LOCAL_AUTHORITY,
        owner_alliance_ids(session, org.id),
    )


def administrator(session: Session) -> Principal:
    platform = organisation(session, "platform")
    return Principal(
        "user:ada@platform", Role.ADMINISTRATOR, platform.id, OrganisationKind.PLATFORM
    )


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def durham_set(session: Session, name: str = "Coastal", *codes: str) -> CustomComparisonSet:
    members = codes or (DARLINGTON, HARTLEPOOL, MIDDLESBROUGH)
    return custom_sets.create_set(
        session,
        la_user(session, DURHAM),
        organisation(session, DURHAM).id,
        name=name,
        description="Authorities on the coast",
        member_ids=ids(session, *members),
    )


def tees_alliance(session: Session) -> Organisation:
    members = [DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON]
    return create_alliance(session, system_principal("system:test"), ALLIANCE, members)


# ------------------------------------------------------------------------------- create / audit


def test_create_set_own_submitter_stores_members_and_audits(session: Session) -> None:
    made = durham_set(session, "  Coastal   authorities ")
    assert made.name == "Coastal authorities"  # trimmed, runs of spaces collapsed
    assert made.description == "Authorities on the coast"
    assert made.created_by_label == "user:la_submitter@840"
    assert made.owner_organisation_id == organisation(session, DURHAM).id
    stored = session.scalars(
        select(Organisation.code)
        .join(
            CustomComparisonSetMember, CustomComparisonSetMember.organisation_id == Organisation.id
        )
        .where(CustomComparisonSetMember.set_id == made.id)
    ).all()
    assert sorted(stored) == sorted([DARLINGTON, HARTLEPOOL, MIDDLESBROUGH])
    (event,) = events(session, "custom_set_created")
    assert event.outcome == "success"
    assert event.actor_label == "user:la_submitter@840"
    assert event.organisation_id == organisation(session, DURHAM).id
    assert (event.target_type, event.target_id) == ("custom_comparison_set", str(made.id))
    assert event.details == {"name": "Coastal authorities", "members": 3}


def test_create_set_refused_to_viewers_other_las_and_administrators(session: Session) -> None:
    durham = organisation(session, DURHAM)
    refused = [
        la_user(session, DURHAM, Role.LA_VIEWER),
        la_user(session, BRADFORD),
        administrator(session),  # an LA's sets are the LA's own
    ]
    for actor in refused:
        with pytest.raises(PermissionError, match="own submitters"):
            custom_sets.create_set(
                session,
                actor,
                durham.id,
                name="Mine",
                member_ids=ids(session, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
            )
    denied = events(session, "custom_set_created")
    assert [e.outcome for e in denied] == ["denied"] * 3
    assert {e.actor_label for e in denied} == {a.label for a in refused}
    assert count(session, CustomComparisonSet) == 0


def test_create_set_alliance_by_administrators_only(session: Session) -> None:
    alliance = tees_alliance(session)
    members = ids(session, DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH)
    with pytest.raises(PermissionError, match="only administrators"):
        custom_sets.create_set(
            session, la_user(session, DURHAM), alliance.id, name="Tees", member_ids=members
        )
    made = custom_sets.create_set(
        session, administrator(session), alliance.id, name="Tees", member_ids=members
    )
    assert made.owner_organisation_id == alliance.id
    assert [e.outcome for e in events(session, "custom_set_created")] == ["denied", "success"]


@pytest.mark.parametrize(
    ("name", "members", "field", "message"),
    [
        ("   ", (DARLINGTON, HARTLEPOOL, MIDDLESBROUGH), "name", "Enter a name for the set"),
        ("x" * 101, (DARLINGTON, HARTLEPOOL, MIDDLESBROUGH), "name", "100 characters or fewer"),
        ("Bell\x07", (DARLINGTON, HARTLEPOOL, MIDDLESBROUGH), "name", "plain text"),
        ("Small", (DARLINGTON, HARTLEPOOL), "members", "Choose at least 3 local authorities"),
        ("Empty", (), "members", "you chose none"),
        ("Twice", (DARLINGTON, DARLINGTON, HARTLEPOOL), "members", "(you chose 2)"),
        (
            "Self",
            (DURHAM, DARLINGTON, HARTLEPOOL),
            "members",
            "A set cannot include County Durham itself",
        ),
        ("Gone", (CUMBRIA, DARLINGTON, HARTLEPOOL), "members", "Cumbria has been abolished"),
        (
            "Not an LA",
            ("alliance-north-east", DARLINGTON, HARTLEPOOL),
            "members",
            "is not a local authority",
        ),
    ],
)
def test_create_set_validation_messages(
    session: Session, name: str, members: tuple[str, ...], field: str, message: str
) -> None:
    with pytest.raises(CustomSetError, match=message) as raised:
        custom_sets.create_set(
            session,
            la_user(session, DURHAM),
            organisation(session, DURHAM).id,
            name=name,
            member_ids=ids(session, *members),
        )
    assert raised.value.field == field
    assert count(session, CustomComparisonSet) == 0
    assert events(session, "custom_set_created") == []


def test_create_set_more_than_thirty_members_refused(session: Session) -> None:
    live = session.scalars(
        select(Organisation.id)
        .where(
            Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
            Organisation.is_active.is_(True),
            Organisation.code != DURHAM,
        )
        .limit(31)
    ).all()
    with pytest.raises(CustomSetError, match=r"at most 30 local authorities \(you chose 31\)"):
        custom_sets.create_set(
            session,
            la_user(session, DURHAM),
            organisation(session, DURHAM).id,
            name="Big",
            member_ids=live,
        )
    thirty = custom_sets.create_set(
        session,
        la_user(session, DURHAM),
        organisation(session, DURHAM).id,
        name="Big",
        member_ids=live[:30],
    )
    assert len(thirty.members) == 30


def test_create_set_names_unique_per_owner_whatever_the_case(session: Session) -> None:
    durham_set(session, "Coastal")
    with pytest.raises(CustomSetError, match="County Durham already has a set called Coastal"):
        durham_set(session, " COASTAL ")
    # Another owner may use the name.
    custom_sets.create_set(
        session,
        la_user(session, DARLINGTON),
        organisation(session, DARLINGTON).id,
        name="Coastal",
        member_ids=ids(session, DURHAM, HARTLEPOOL, MIDDLESBROUGH),
    )
    assert count(session, CustomComparisonSet) == 2


def test_create_set_alliance_members_only_and_one_more_member(session: Session) -> None:
    alliance = tees_alliance(session)
    admin = administrator(session)
    with pytest.raises(CustomSetError, match="Bradford is not a member of Tees partnership"):
        custom_sets.create_set(
            session,
            admin,
            alliance.id,
            name="Wide",
            member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL, BRADFORD),
        )
    # Each member views an alliance's set and does not count for itself: 4 at least.
    with pytest.raises(CustomSetError, match="Choose at least 4 local authorities"):
        custom_sets.create_set(
            session,
            admin,
            alliance.id,
            name="Three",
            member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL),
        )


def test_create_set_description_limits(session: Session) -> None:
    with pytest.raises(CustomSetError, match="1,000 characters or fewer") as raised:
        custom_sets.create_set(
            session,
            la_user(session, DURHAM),
            organisation(session, DURHAM).id,
            name="Long",
            description="x" * 1001,
            member_ids=ids(session, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
        )
    assert raised.value.field == "description"


# ----------------------------------------------------------------------------- update / delete


def test_update_set_renames_and_changes_members_audited(session: Session) -> None:
    made = durham_set(session, "Coastal")
    changed = custom_sets.update_set(
        session,
        la_user(session, DURHAM),
        made.id,
        name="Tees Valley",
        description="",
        member_ids=ids(session, DARLINGTON, REDCAR, STOCKTON, MIDDLESBROUGH),
    )
    assert changed.name == "Tees Valley"
    assert changed.description == ""
    codes = sorted(m.organisation.code for m in changed.members)
    assert codes == sorted([DARLINGTON, REDCAR, STOCKTON, MIDDLESBROUGH])
    (event,) = events(session, "custom_set_updated")
    assert event.details == {
        "name": "Tees Valley",
        "members": 4,
        "added": 2,
        "removed": 1,
        "previous_name": "Coastal",
    }
    assert not FORBIDDEN_KEYS & set(event.details)


def test_update_set_refused_to_another_la_and_checks_like_create(session: Session) -> None:
    made = durham_set(session, "Coastal")
    durham_set(session, "Inland", STOCKTON, REDCAR, DARLINGTON)
    with pytest.raises(PermissionError):
        custom_sets.update_set(
            session,
            la_user(session, BRADFORD),
            made.id,
            name="Taken",
            member_ids=ids(session, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
        )
    with pytest.raises(CustomSetError, match="already has a set called Inland"):
        custom_sets.update_set(
            session,
            la_user(session, DURHAM),
            made.id,
            name="inland",
            member_ids=ids(session, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
        )
    session.expire_all()
    assert session.get(CustomComparisonSet, made.id).name == "Coastal"  # type: ignore[union-attr]
    assert [e.outcome for e in events(session, "custom_set_updated")] == ["denied"]


def test_delete_set_removes_it_and_its_members_audited(session: Session) -> None:
    made = durham_set(session, "Coastal")
    with pytest.raises(PermissionError):
        custom_sets.delete_set(session, la_user(session, DURHAM, Role.LA_VIEWER), made.id)
    assert custom_sets.delete_set(session, la_user(session, DURHAM), made.id) == "Coastal"
    assert count(session, CustomComparisonSet) == 0
    assert count(session, CustomComparisonSetMember) == 0
    assert [(e.outcome, e.details) for e in events(session, "custom_set_deleted")] == [
        ("denied", {}),
        ("success", {"name": "Coastal", "members": 3}),
    ]
    with pytest.raises(CustomSetError, match="no such comparison set"):
        custom_sets.delete_set(session, la_user(session, DURHAM), made.id)


# ------------------------------------------------------------------------------------- reading


def test_sets_for_own_staff_and_alliance_members(session: Session) -> None:
    durham_set(session, "Coastal")
    durham = organisation(session, DURHAM)
    viewer = la_user(session, DURHAM, Role.LA_VIEWER)
    assert [s.name for s in custom_sets.sets_for(session, viewer, durham.id)] == ["Coastal"]
    for outsider in (la_user(session, BRADFORD), administrator(session)):
        with pytest.raises(PermissionError):
            custom_sets.sets_for(session, outsider, durham.id)

    alliance = tees_alliance(session)
    custom_sets.create_set(
        session,
        administrator(session),
        alliance.id,
        name="Tees",
        member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
    )
    member = la_user(session, REDCAR, Role.LA_VIEWER)  # its principal knows its alliances
    assert [s.name for s in custom_sets.sets_for(session, member, alliance.id)] == ["Tees"]
    assert [s.name for s in custom_sets.sets_for(session, administrator(session), alliance.id)]
    with pytest.raises(PermissionError):
        custom_sets.sets_for(session, la_user(session, BRADFORD), alliance.id)


def test_member_choices_by_region_without_the_owner(session: Session) -> None:
    durham = organisation(session, DURHAM)
    regions = custom_sets.member_choices(session, durham)
    names = [r.name for r in regions]
    assert names[0] == "North East"
    assert len(names) == 9
    codes = {la.code for r in regions for la in r.authorities}
    assert DURHAM not in codes
    assert CUMBRIA not in codes  # abolished
    assert {DARLINGTON, BRADFORD} <= codes
    north_east = [la.name for la in regions[0].authorities]
    assert north_east == sorted(north_east)

    alliance = tees_alliance(session)
    (only,) = custom_sets.member_choices(session, alliance)
    assert only.name == "North East"
    assert {la.code for la in only.authorities} == {
        DURHAM,
        DARLINGTON,
        HARTLEPOOL,
        MIDDLESBROUGH,
        REDCAR,
        STOCKTON,
    }


def test_custom_groups_frame_contract(session: Session) -> None:
    made = durham_set(session, "Coastal")
    alliance = tees_alliance(session)
    shared = custom_sets.create_set(
        session,
        administrator(session),
        alliance.id,
        name="Tees",
        member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
    )
    frame = custom_sets.custom_groups_frame(session)
    Groups.validate(frame)
    assert list(frame.columns) == ["group_id", "group_type", "owner", "la_code"]
    gss = {
        o.code: o.new_la_code
        for o in session.scalars(
            select(Organisation).where(Organisation.kind == OrganisationKind.LOCAL_AUTHORITY)
        )
    }
    mine = frame.loc[frame["group_id"] == f"custom:{made.id}"]
    assert set(mine["group_type"]) == {"custom"}
    assert set(mine["owner"]) == {gss[DURHAM]}
    assert sorted(mine["la_code"]) == sorted(
        gss[c] for c in (DARLINGTON, HARTLEPOOL, MIDDLESBROUGH)
    )
    theirs = frame.loc[frame["group_id"] == f"custom:{shared.id}"]
    assert set(theirs["owner"]) == {""}  # shared: every member is a viewer
    assert sorted(theirs["la_code"]) == sorted(
        gss[c] for c in (DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH)
    )
    # Labels for the comparison pages, a deleted set's too.
    labels = custom_sets.group_labels(session, [f"custom:{made.id}", "custom:999", "england"])
    assert labels == {
        f"custom:{made.id}": "Coastal",
        "custom:999": "Custom comparison set (since deleted)",
    }


def test_custom_groups_frame_drops_what_cannot_be_compared(session: Session) -> None:
    alliance = tees_alliance(session)
    shared = custom_sets.create_set(
        session,
        administrator(session),
        alliance.id,
        name="Tees",
        member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
    )
    # Darlington leaves the alliance: it no longer sees (or is in) the alliance's set.
    from exchange.actions.organisations import set_alliance_members

    set_alliance_members(
        session,
        system_principal("system:test"),
        alliance.code,
        [DURHAM, HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON],
    )
    frame = custom_sets.custom_groups_frame(session)
    darlington = organisation(session, DARLINGTON).new_la_code
    assert darlington not in set(frame.loc[frame["group_id"] == f"custom:{shared.id}", "la_code"])
    assert len(frame) == 3
    empty = pd.DataFrame(columns=["group_id", "group_type", "owner", "la_code"])
    custom_sets.delete_set(session, administrator(session), shared.id)
    assert list(custom_sets.custom_groups_frame(session).columns) == list(empty.columns)
    assert custom_sets.custom_groups_frame(session).empty


# ------------------------------------------------------------------- the recompute they queue


def test_writes_queue_a_comparisons_recompute_when_refreshes_are_on(db_app: Flask) -> None:
    with db_app.app_context():
        ensure_default_organisations(db.session)
        session = db.session
        durham_set(session, "Off")
        assert count(session, Job) == 0  # refreshes are off in the test app
    db_app.config["EXCHANGE"] = replace(db_app.config["EXCHANGE"], refresh_after_accept=True)
    with db_app.app_context():
        session = db.session
        durham = organisation(session, DURHAM)
        made = durham_set(session, "On")
        custom_sets.update_set(
            session,
            la_user(session, DURHAM),
            made.id,
            name="On again",
            member_ids=ids(session, DARLINGTON, HARTLEPOOL, REDCAR),
        )
        custom_sets.delete_set(session, la_user(session, DURHAM), made.id)
        jobs = session.scalars(select(Job).order_by(Job.created_at)).all()
        # One comparisons job per write (run at once here: Celery is eager in the tests).
        assert [j.kind for j in jobs] == ["comparisons"] * 3
        assert {j.organisation_id for j in jobs} == {durham.id}
        assert all(j.status.value == "done" for j in jobs), [j.reason for j in jobs]


def test_recompute_stores_custom_group_statistics_blank_below_the_minimum(
    db_app: Flask,
) -> None:
    """Two of Durham's sets after a recompute: one whose three members all have published
    values, one with a member that has none (two contributors: blank), and an alliance's set
    shared by its four members (each sees the three others)."""
    from exchange.actions.comparisons import comparisons_for, recompute_comparisons
    from exchange.cli import main

    runner = db_app.test_cli_runner()
    las = ",".join([DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH, REDCAR])
    result = runner.invoke(main, ["demo", "--periods", "2025", "--las", las])
    assert result.exit_code == 0, result.output
    db_app.config["EXCHANGE"] = replace(db_app.config["EXCHANGE"], release_workers=1)
    result = runner.invoke(main, ["release", "build", "--period", "2025", "--policy", "dp"])
    assert result.exit_code == 0, result.output
    with db_app.app_context():
        session = db.session
        full = durham_set(session, "Full", DARLINGTON, HARTLEPOOL, MIDDLESBROUGH)
        short = durham_set(session, "Short", DARLINGTON, HARTLEPOOL, STOCKTON)  # no data
        alliance = tees_alliance(session)
        shared = custom_sets.create_set(
            session,
            administrator(session),
            alliance.id,
            name="Tees",
            member_ids=ids(session, DURHAM, DARLINGTON, HARTLEPOOL, MIDDLESBROUGH),
        )
        chosen = recompute_comparisons(session, system_principal("system:test"))
        assert chosen is not None
        assert chosen.summary["mode"] == "full"  # the sets changed the basis

        durham = organisation(session, DURHAM)
        staff = la_user(session, DURHAM, Role.LA_VIEWER)
        view = comparisons_for(session, staff, durham.id)
        assert view is not None
        groups = view.per_group
        custom = groups.loc[groups["group_type"] == "custom"]
        assert set(custom["group_id"]) == {
            f"custom:{full.id}",
            f"custom:{short.id}",
            f"custom:{shared.id}",
        }
        for set_id in (full.id, short.id, shared.id):
            rows = custom.loc[custom["group_id"] == f"custom:{set_id}"]
            assert rows.loc[~rows["allowed"], "mean"].isna().all()
            assert rows.loc[~rows["allowed"], "median"].isna().all()
            assert rows.loc[rows["allowed"], "mean"].notna().all()
        # Durham's own sets (it is not a member): shown exactly when at least 3 contribute.
        for set_id in (full.id, short.id):
            rows = custom.loc[custom["group_id"] == f"custom:{set_id}"]
            assert (rows["allowed"] == (rows["n"] >= 3)).all()
        # The alliance's set counts Durham too when it has a published value: 3 others at least.
        rows = custom.loc[custom["group_id"] == f"custom:{shared.id}"]
        assert (rows.loc[rows["allowed"], "n"] >= 3).all()
        assert rows.loc[rows["n"] >= 4, "allowed"].all()
        assert not rows.loc[rows["n"] < 3, "allowed"].any()
        assert rows["allowed"].any()
        short_rows = custom.loc[custom["group_id"] == f"custom:{short.id}"]
        assert (short_rows["n"] <= 2).all()
        assert not short_rows["allowed"].any()
        assert short_rows["mean"].isna().all()
        full_rows = custom.loc[custom["group_id"] == f"custom:{full.id}"]
        assert full_rows["allowed"].any()

        # Redcar is in the alliance but not in its set: it does not see the set.
        redcar = organisation(session, REDCAR)
        redcar_view = comparisons_for(session, la_user(session, REDCAR, Role.LA_VIEWER), redcar.id)
        assert redcar_view is not None
        assert f"custom:{shared.id}" not in set(redcar_view.per_group["group_id"])
        # Darlington, a member, sees the alliance's set but not Durham's own sets.
        darlington = organisation(session, DARLINGTON)
        theirs = comparisons_for(
            session, la_user(session, DARLINGTON, Role.LA_VIEWER), darlington.id
        )
        assert theirs is not None
        seen = set(theirs.per_group.loc[theirs.per_group["group_type"] == "custom", "group_id"])
        assert seen == {f"custom:{shared.id}"}


def test_sets_list_cli_prints_names_and_counts_only(db_app: Flask) -> None:
    from exchange.cli import main

    runner = db_app.test_cli_runner()
    with db_app.app_context():
        ensure_default_organisations(db.session)
    result = runner.invoke(main, ["sets", "list"])
    assert result.exit_code == 0, result.output
    assert "no custom comparison sets yet" in result.output
    with db_app.app_context():
        durham_set(db.session, "Coastal")
    result = runner.invoke(main, ["sets", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["840\tCounty Durham\tCoastal\t3 members", "1 set"]
