"""Improvement journeys and Ofsted judgement history (exchange.actions.journeys): who may record
them, one open journey per LA, validation messages, audit events, the all-or-nothing CSV load,
the frames the analytics read, and the demo loader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from auth_support import FakeClock
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.actions import journeys
from exchange.actions.journeys import JourneyError, OfstedFileError
from exchange.actions.organisations import ensure_default_organisations
from exchange.extensions import db
from exchange.models import (
    AuditEvent,
    ImprovementJourney,
    OfstedJudgement,
    Organisation,
    OrganisationKind,
    Role,
)
from exchange.models.journey import JUDGEMENTS
from exchange.security.policy import Principal
from exchange.security.principals import system_principal
from schemas.synth import journeys as synthetic_journeys
from workers.analytics import trajectories

DURHAM, BRADFORD = "840", "380"
DURHAM_GSS, BRADFORD_GSS = "E06000047", "E08000032"
SEED = 7


@pytest.fixture
def session(db_app: Flask, clock: FakeClock) -> Iterator[Session]:
    """The database with the default organisations; the clock says 2 March 2026."""
    with db_app.app_context():
        ensure_default_organisations(db.session)
        yield db.session


def org_id(session: Session, code: str) -> int:
    return journeys.authority(session, code).id


def la_user(session: Session, code: str, role: Role = Role.LA_SUBMITTER) -> Principal:
    kind = OrganisationKind.LOCAL_AUTHORITY
    return Principal(f"user:{role.value}@{code}", role, org_id(session, code), kind, user_id=None)


def organisation(session: Session, code: str) -> Organisation:
    return session.scalars(select(Organisation).where(Organisation.code == code)).one()


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


def record(
    session: Session, actor: Principal, code: str = DURHAM, **kw: object
) -> ImprovementJourney:
    values: dict[str, object] = {
        "start_date": date(2021, 6, 15),
        "trigger": "Ofsted inadequate 2021",
        "focus_areas": "Workforce stability; front door",
    }
    values.update(kw)
    return journeys.record_journey(session, actor, org_id(session, code), **values)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------- constants


def test_judgements_model_copy_matches_the_analytics() -> None:
    assert JUDGEMENTS == trajectories.JUDGEMENTS
    assert journeys.JUDGEMENTS == trajectories.JUDGEMENTS


# ----------------------------------------------------------------------------------- journeys


def test_record_journey_own_submitter_records_and_audits(session: Session) -> None:
    actor = la_user(session, DURHAM)
    made = record(
        session, actor, trigger="  Ofsted   inadequate 2021 ", focus_areas="  Workforce\n"
    )
    assert made.is_open
    assert (made.start_date, made.trigger, made.focus_areas) == (
        date(2021, 6, 15),
        "Ofsted inadequate 2021",
        "Workforce",
    )
    assert made.recorded_by_label == actor.label
    (event,) = events(session, "journey_recorded")
    assert event.outcome == "success"
    assert event.organisation_id == made.organisation_id
    assert event.target_id == str(made.id)
    assert event.details == {
        "start_date": "2021-06-15",
        "trigger": "Ofsted inadequate 2021",
        "ended_journey": None,
    }


def test_record_journey_administrator_allowed_for_any_la(session: Session) -> None:
    made = record(session, administrator(session), BRADFORD)
    assert made.organisation_id == org_id(session, BRADFORD)


@pytest.mark.parametrize(
    ("who", "role"),
    [
        ("other LA's submitter", Role.LA_SUBMITTER),
        ("own LA's viewer", Role.LA_VIEWER),
    ],
)
def test_record_journey_refused_and_audited(session: Session, who: str, role: Role) -> None:
    code = BRADFORD if who.startswith("other") else DURHAM
    actor = la_user(session, code, role)
    with pytest.raises(PermissionError, match="submitters or an administrator"):
        record(session, actor, DURHAM)
    with pytest.raises(PermissionError):
        journeys.end_journey(session, actor, org_id(session, DURHAM), ended_on=date(2022, 1, 1))
    assert count(session, ImprovementJourney) == 0
    denied = events(session, "journey_recorded") + events(session, "journey_ended")
    assert [e.outcome for e in denied] == ["denied", "denied"]
    assert all(e.organisation_id == org_id(session, DURHAM) for e in denied)


def test_record_journey_analyst_refused(session: Session) -> None:
    national = organisation(session, "national")
    analyst = Principal("user:an", Role.ANALYST, national.id, OrganisationKind.NATIONAL)
    with pytest.raises(PermissionError):
        record(session, analyst)


def test_record_journey_new_journey_ends_the_open_one(session: Session) -> None:
    actor = la_user(session, DURHAM)
    first = record(session, actor)
    second = record(
        session, actor, start_date=date(2024, 1, 10), trigger="New DCS", focus_areas="Practice"
    )
    session.refresh(first)
    assert first.ended_on == date(2024, 1, 10)
    assert second.is_open
    open_count = session.scalar(
        select(func.count())
        .select_from(ImprovementJourney)
        .where(ImprovementJourney.ended_on.is_(None))
    )
    assert open_count == 1
    assert events(session, "journey_recorded")[-1].details["ended_journey"] == first.id


def test_record_journey_same_start_date_replaces_the_open_one(session: Session) -> None:
    actor = la_user(session, DURHAM)
    first = record(session, actor)
    second = record(session, actor, trigger="Ofsted inadequate (corrected)")
    session.refresh(first)
    assert first.ended_on == first.start_date  # kept for the record, zero length
    assert second.is_open
    assert second.trigger == "Ofsted inadequate (corrected)"


def test_one_open_journey_per_la_enforced_by_the_database(session: Session) -> None:
    durham = org_id(session, DURHAM)
    for start in (date(2020, 1, 1), date(2021, 1, 1)):
        session.add(
            ImprovementJourney(
                organisation_id=durham,
                start_date=start,
                trigger="t",
                focus_areas="f",
                recorded_by_label="test",
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"start_date": date(2026, 3, 3)}, "start_date", "Start date must be today or in the past"),
        ({"start_date": date(1999, 12, 31)}, "start_date", "on or after 1 January 2000"),
        ({"trigger": "   "}, "trigger", "Enter the trigger"),
        ({"trigger": "x" * 201}, "trigger", "The trigger must be 200 characters or fewer"),
        ({"trigger": "bad\x00byte"}, "trigger", "The trigger must be plain text"),
        ({"focus_areas": ""}, "focus_areas", "Enter the focus areas"),
        ({"focus_areas": "y" * 2001}, "focus_areas", "2,000 characters or fewer"),
    ],
)
def test_record_journey_validation_messages(
    session: Session, change: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(JourneyError, match=message) as raised:
        record(session, la_user(session, DURHAM), **change)
    assert raised.value.field == field
    assert count(session, ImprovementJourney) == 0
    assert events(session, "journey_recorded") == []


def test_record_journey_today_is_allowed(session: Session) -> None:
    made = record(session, la_user(session, DURHAM), start_date=date(2026, 3, 2))
    assert made.start_date == date(2026, 3, 2)


def test_record_journey_cannot_start_before_the_open_or_previous_one(session: Session) -> None:
    actor = la_user(session, DURHAM)
    record(session, actor, start_date=date(2022, 5, 1))
    with pytest.raises(JourneyError, match="on or after 1 May 2022, when the current journey"):
        record(session, actor, start_date=date(2022, 4, 30))
    journeys.end_journey(session, actor, org_id(session, DURHAM), ended_on=date(2024, 2, 1))
    with pytest.raises(JourneyError, match="on or after 1 February 2024, when the previous"):
        record(session, actor, start_date=date(2023, 1, 1))
    assert count(session, ImprovementJourney) == 1


def test_end_journey_ends_and_audits(session: Session) -> None:
    actor = la_user(session, DURHAM)
    made = record(session, actor)
    with pytest.raises(JourneyError, match="End date must be on or after 15 June 2021") as raised:
        journeys.end_journey(session, actor, made.organisation_id, ended_on=date(2021, 6, 14))
    assert raised.value.field == "ended_on"
    ended = journeys.end_journey(session, actor, made.organisation_id, ended_on=date(2025, 3, 31))
    assert ended.ended_on == date(2025, 3, 31)
    (event,) = events(session, "journey_ended")
    assert event.details == {"start_date": "2021-06-15", "ended_on": "2025-03-31"}
    with pytest.raises(JourneyError, match="has no open improvement journey"):
        journeys.end_journey(session, actor, made.organisation_id, ended_on=date(2025, 4, 1))


def test_journey_of_shows_own_la_to_its_staff_and_administrators(session: Session) -> None:
    submitter = la_user(session, DURHAM)
    first = record(session, submitter, start_date=date(2019, 1, 1))
    record(session, submitter, start_date=date(2021, 11, 15))
    journeys.record_ofsted_judgement(
        session,
        administrator(session),
        first.organisation_id,
        inspection_date=date(2021, 11, 15),
        judgement="Inadequate",
    )
    for actor in (la_user(session, DURHAM, Role.LA_VIEWER), administrator(session)):
        overview = journeys.journey_of(session, actor, first.organisation_id)
        assert overview.current is not None
        assert overview.current.start_date == date(2021, 11, 15)
        assert [j.start_date for j in overview.past] == [date(2019, 1, 1)]
        assert [(j.inspection_date, j.judgement) for j in overview.judgements] == [
            (date(2021, 11, 15), "Inadequate")
        ]
        # 15 Nov 2021 -> 2 Mar 2026: 51 complete months (15 Feb 2026 was the 51st).
        assert overview.months_since_start == 51
        assert overview.as_of == date(2026, 3, 2)
    with pytest.raises(PermissionError):
        journeys.journey_of(session, la_user(session, BRADFORD), first.organisation_id)


def test_months_since_agrees_with_the_analytics() -> None:
    pairs = [
        (date(2021, 11, 15), date(2022, 3, 31)),
        (date(2022, 4, 1), date(2022, 3, 31)),
        (date(2020, 1, 31), date(2020, 2, 29)),
        (date(2020, 10, 1), date(2025, 3, 31)),
    ]
    expected = trajectories.months_between(
        pd.Series([pd.Timestamp(s) for s, _ in pairs]),
        pd.Series([pd.Timestamp(e) for _, e in pairs]),
    ).tolist()
    assert [journeys.months_since(s, e) for s, e in pairs] == expected == [4, -1, 0, 53]


def test_open_journeys_administrators_only(session: Session) -> None:
    record(session, la_user(session, DURHAM))
    found = journeys.open_journeys(session, administrator(session))
    assert [j.organisation.code for j in found] == [DURHAM]
    with pytest.raises(PermissionError):
        journeys.open_journeys(session, la_user(session, DURHAM))


# ------------------------------------------------------------------------------ Ofsted history


def test_record_ofsted_judgement_administrators_only(session: Session) -> None:
    durham = org_id(session, DURHAM)
    with pytest.raises(PermissionError, match="only administrators"):
        journeys.record_ofsted_judgement(
            session,
            la_user(session, DURHAM),
            durham,
            inspection_date=date(2023, 5, 1),
            judgement="Good",
        )
    assert count(session, OfstedJudgement) == 0
    assert [e.outcome for e in events(session, "ofsted_judgement_recorded")] == ["denied"]


def test_record_ofsted_judgement_normalises_and_replaces_by_date(session: Session) -> None:
    admin = administrator(session)
    durham = org_id(session, DURHAM)
    made = journeys.record_ofsted_judgement(
        session,
        admin,
        durham,
        inspection_date=date(2023, 5, 1),
        judgement="  requires IMPROVEMENT to be good ",
    )
    assert made.judgement == "Requires improvement to be good"
    again = journeys.record_ofsted_judgement(
        session, admin, durham, inspection_date=date(2023, 5, 1), judgement="Good"
    )
    assert again.id == made.id
    assert count(session, OfstedJudgement) == 1
    assert [e.details for e in events(session, "ofsted_judgement_recorded")] == [
        {
            "inspection_date": "2023-05-01",
            "judgement": "Requires improvement to be good",
            "previous": None,
        },
        {
            "inspection_date": "2023-05-01",
            "judgement": "Good",
            "previous": "Requires improvement to be good",
        },
    ]


@pytest.mark.parametrize(
    ("when", "grade", "field", "message"),
    [
        (date(2023, 5, 1), "Excellent", "judgement", "Judgement must be one of: Outstanding"),
        (date(2027, 1, 1), "Good", "inspection_date", "Inspection date must be today or in"),
        (date(1998, 1, 1), "Good", "inspection_date", "on or after 1 January 2000"),
    ],
)
def test_record_ofsted_judgement_validation_messages(
    session: Session, when: date, grade: str, field: str, message: str
) -> None:
    with pytest.raises(JourneyError, match=message) as raised:
        journeys.record_ofsted_judgement(
            session,
            administrator(session),
            org_id(session, DURHAM),
            inspection_date=when,
            judgement=grade,
        )
    assert raised.value.field == field
    assert count(session, OfstedJudgement) == 0


def test_delete_ofsted_judgement_administrators_only_and_audited(session: Session) -> None:
    admin = administrator(session)
    made = journeys.record_ofsted_judgement(
        session, admin, org_id(session, DURHAM), inspection_date=date(2022, 2, 2), judgement="Good"
    )
    with pytest.raises(PermissionError):
        journeys.delete_ofsted_judgement(session, la_user(session, DURHAM), made.id)
    assert count(session, OfstedJudgement) == 1
    journeys.delete_ofsted_judgement(session, admin, made.id)
    assert count(session, OfstedJudgement) == 0
    (event,) = [e for e in events(session, "ofsted_judgement_deleted") if e.outcome == "success"]
    assert event.details == {"inspection_date": "2022-02-02", "judgement": "Good"}
    with pytest.raises(JourneyError, match="no such Ofsted judgement"):
        journeys.delete_ofsted_judgement(session, admin, made.id)


GOOD_FILE = (
    "new_la_code,inspection_date,judgement,notes\n"
    f"{DURHAM_GSS},2019-03-01,Good,anything\n"
    f"{BRADFORD_GSS},2018-09-20,Inadequate,\n"
    f"{BRADFORD_GSS},2022-07-01,requires improvement to be good,\n"
).encode()


def test_load_ofsted_judgements_lands_whole_and_upserts(session: Session) -> None:
    admin = administrator(session)
    counts = journeys.load_ofsted_judgements(session, admin, GOOD_FILE, "history.csv")
    assert counts == {"rows": 3, "added": 3, "replaced": 0, "unchanged": 0, "authorities": 2}
    again = (
        "old_la_code,inspection_date,judgement\n"
        f"{DURHAM},2019-03-01,Outstanding\n"
        f"{BRADFORD},2018-09-20,Inadequate\n"
        f"{BRADFORD},2024-01-05,Good\n"
    ).encode()
    counts = journeys.load_ofsted_judgements(session, admin, again, "again.csv")
    assert counts == {"rows": 3, "added": 1, "replaced": 1, "unchanged": 1, "authorities": 2}
    stored = session.execute(
        select(OfstedJudgement.inspection_date, OfstedJudgement.judgement).order_by(
            OfstedJudgement.inspection_date
        )
    ).all()
    assert [(d.isoformat(), j) for d, j in stored] == [
        ("2018-09-20", "Inadequate"),
        ("2019-03-01", "Outstanding"),
        ("2022-07-01", "Requires improvement to be good"),
        ("2024-01-05", "Good"),
    ]
    loaded = events(session, "ofsted_judgements_loaded")
    assert [e.details["added"] for e in loaded] == [3, 1]
    assert loaded[1].details == {
        "filename": "again.csv",
        "rows": 3,
        "added": 1,
        "replaced": 1,
        "unchanged": 1,
        "authorities": 2,
    }


def test_load_ofsted_judgements_any_bad_row_loads_nothing(session: Session) -> None:
    admin = administrator(session)
    bad = (
        "new_la_code,old_la_code,inspection_date,judgement\n"
        f"{DURHAM_GSS},,2019-03-01,Good\n"  # fine
        "E99999999,,2019-03-01,Good\n"  # row 3: unknown LA
        f"{DURHAM_GSS},,01/03/2019,Good\n"  # row 4: date format
        f"{DURHAM_GSS},,2019-02-30,Good\n"  # row 5: not a real date
        f"{DURHAM_GSS},,2026-03-03,Good\n"  # row 6: future (the clock says 2 March 2026)
        f"{DURHAM_GSS},,2020-01-01,Brilliant\n"  # row 7: unknown judgement
        f"{DURHAM_GSS},,2019-03-01,Inadequate\n"  # row 8: same LA and date as row 2
        ",,2019-03-01,Good\n"  # row 9: no code
        f"{DURHAM_GSS},{BRADFORD},2019-04-01,Good\n"  # row 10: codes disagree
        f"{DURHAM_GSS},,1999-12-31,Good\n"  # row 11: too early
        f"{DURHAM_GSS},2019-04-01,Good\n"  # row 12: a cell short
    ).encode()
    with pytest.raises(OfstedFileError) as raised:
        journeys.load_ofsted_judgements(session, admin, bad, "bad.csv")
    found = [(p.row, p.column, p.value, p.rule) for p in raised.value.problems]
    assert found == [
        (3, "new_la_code", "E99999999", "unknown_la"),
        (4, "inspection_date", "01/03/2019", "date_format"),
        (5, "inspection_date", "2019-02-30", "date_format"),
        (6, "inspection_date", "2026-03-03", "date_in_future"),
        (7, "judgement", "Brilliant", "unknown_judgement"),
        (8, "inspection_date", "2019-03-01", "duplicate"),
        (9, "new_la_code", "", "required"),
        (10, "old_la_code", BRADFORD, "codes_disagree"),
        (11, "inspection_date", "1999-12-31", "date_too_early"),
        (12, None, None, "row_length"),
    ]
    assert all(p.file == "bad.csv" for p in raised.value.problems)
    assert "Row 2 has a judgement" in raised.value.problems[5].message
    assert str(raised.value.problems[0]) == (
        "bad.csv, row 3, column new_la_code, value 'E99999999': "
        "This is not a local authority code [unknown_la]"
    )
    assert str(raised.value) == "bad.csv was not loaded: 10 problems found"
    assert count(session, OfstedJudgement) == 0
    assert events(session, "ofsted_judgements_loaded") == []
    (refused,) = events(session, "ofsted_judgements_refused")
    assert refused.outcome == "refused"
    assert refused.details["problems"] == 10


@pytest.mark.parametrize(
    ("data", "rules"),
    [
        (b"", ["empty_file"]),
        (b"new_la_code,inspection_date,judgement\n", ["no_rows"]),
        (b"\xff\xfe\x00b", ["encoding"]),
        (b"la,inspection_date\nE06000047,2020-01-01\n", ["missing_column", "missing_column"]),
        (
            b"new_la_code,inspection_date,judgement,judgement\nE06000047,2020-01-01,Good,Good\n",
            ["duplicate_column"],
        ),
    ],
)
def test_load_ofsted_judgements_file_problems(
    session: Session, data: bytes, rules: list[str]
) -> None:
    with pytest.raises(OfstedFileError) as raised:
        journeys.load_ofsted_judgements(session, administrator(session), data, "f.csv")
    assert [p.rule for p in raised.value.problems] == rules
    assert count(session, OfstedJudgement) == 0


def test_load_ofsted_judgements_missing_columns_named(session: Session) -> None:
    with pytest.raises(OfstedFileError) as raised:
        journeys.load_ofsted_judgements(
            session, administrator(session), b"la,when\nx,y\n", "cols.csv"
        )
    assert [(p.row, p.column) for p in raised.value.problems] == [
        (1, "new_la_code"),
        (1, "inspection_date"),
        (1, "judgement"),
    ]


def test_load_ofsted_judgements_rows_numbered_as_a_spreadsheet_shows(session: Session) -> None:
    data = (
        "\ufeffnew_la_code,inspection_date,judgement\n"
        f"{DURHAM_GSS},2019-03-01,Good\n"
        ",,\n"  # row 3: blank, skipped but counted
        f'{DURHAM_GSS},2020-01-01,"Inadequate\nreally"\n'  # row 4: a quoted line break
    ).encode()
    with pytest.raises(OfstedFileError) as raised:
        journeys.load_ofsted_judgements(session, administrator(session), data, "n.csv")
    assert [(p.row, p.column, p.rule) for p in raised.value.problems] == [
        (4, "judgement", "unknown_judgement")
    ]


def test_load_ofsted_judgements_administrators_only(session: Session) -> None:
    with pytest.raises(PermissionError):
        journeys.load_ofsted_judgements(session, la_user(session, DURHAM), GOOD_FILE, "h.csv")
    assert count(session, OfstedJudgement) == 0


# ------------------------------------------------------------------------ frames for analytics


def test_journeys_frame_conforms_and_holds_open_journeys_only(session: Session) -> None:
    actor = administrator(session)
    record(session, actor, DURHAM, start_date=date(2019, 1, 1))
    record(session, actor, DURHAM, start_date=date(2021, 6, 15))
    record(session, actor, BRADFORD, start_date=date(2022, 10, 1), trigger="New leadership")
    frame = journeys.journeys_frame(session)
    trajectories.Journeys.validate(frame)
    assert list(frame.columns) == ["la_code", "start_date", "trigger", "focus_areas"]
    assert frame["la_code"].tolist() == [DURHAM_GSS, BRADFORD_GSS]
    assert frame["start_date"].tolist() == [pd.Timestamp("2021-06-15"), pd.Timestamp("2022-10-01")]
    assert frame["trigger"].tolist() == ["Ofsted inadequate 2021", "New leadership"]


def test_journeys_frame_and_ofsted_frame_empty_conform(session: Session) -> None:
    journeys_frame = journeys.journeys_frame(session)
    ofsted_frame = journeys.ofsted_frame(session)
    assert journeys_frame.empty
    assert ofsted_frame.empty
    assert list(journeys_frame.columns) == ["la_code", "start_date", "trigger", "focus_areas"]
    assert list(ofsted_frame.columns) == ["la_code", "date", "judgement"]
    trajectories.Journeys.validate(journeys_frame)
    trajectories.OfstedJudgements.validate(ofsted_frame)


def test_ofsted_frame_conforms(session: Session) -> None:
    journeys.load_ofsted_judgements(session, administrator(session), GOOD_FILE, "history.csv")
    frame = journeys.ofsted_frame(session)
    trajectories.OfstedJudgements.validate(frame)
    assert list(frame.columns) == ["la_code", "date", "judgement"]
    # By GSS code, then date: Durham (E06...) before Bradford (E08...).
    assert list(frame.itertuples(index=False, name=None)) == [
        (DURHAM_GSS, pd.Timestamp("2019-03-01"), "Good"),
        (BRADFORD_GSS, pd.Timestamp("2018-09-20"), "Inadequate"),
        (BRADFORD_GSS, pd.Timestamp("2022-07-01"), "Requires improvement to be good"),
    ]


# ---------------------------------------------------------------------------------------- demo


def test_demo_journeys_loads_once_and_records_ofsted_triggers(session: Session) -> None:
    system = system_principal("system:demo")
    synthetic = synthetic_journeys(SEED)
    first_code = str(synthetic["old_la_code"].iloc[0])
    # An LA that already has a journey keeps it.
    kept = record(session, administrator(session), first_code, start_date=date(2018, 4, 1))
    loaded = journeys.demo_journeys(session, system, SEED)
    assert loaded == len(synthetic) - 1
    assert journeys.demo_journeys(session, system, SEED) == 0
    session.refresh(kept)
    assert kept.is_open
    assert kept.start_date == date(2018, 4, 1)

    frame = journeys.journeys_frame(session).set_index("la_code")
    trajectories.Journeys.validate(frame.reset_index())
    for row in synthetic.iloc[1:].itertuples(index=False):
        stored = frame.loc[row.new_la_code]
        assert stored["start_date"] == pd.Timestamp(row.start_year - 1, 10, 1)
        assert (stored["trigger"], stored["focus_areas"]) == (row.trigger, row.focus_areas)

    ofsted = journeys.ofsted_frame(session)
    trajectories.OfstedJudgements.validate(ofsted)
    wanted = {
        "Ofsted inadequate": "Inadequate",
        "Ofsted requires improvement to be good": "Requires improvement to be good",
    }
    expected = sorted(
        (row.new_la_code, pd.Timestamp(row.start_year - 1, 10, 1), wanted[row.trigger])
        for row in synthetic.iloc[1:].itertuples(index=False)
        if row.trigger.startswith("Ofsted")
    )
    assert expected, "the synthetic journeys include Ofsted triggers"
    assert sorted(ofsted.itertuples(index=False, name=None)) == expected
    (event,) = events(session, "demo_journeys_loaded")
    assert event.details == {"seed": SEED, "journeys": loaded, "judgements": len(expected)}


def test_demo_journeys_administrators_only(session: Session) -> None:
    with pytest.raises(PermissionError):
        journeys.demo_journeys(session, la_user(session, DURHAM), SEED)
    assert count(session, ImprovementJourney) == 0


# ----------------------------------------------------------------------------------------- CLI


def cli(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    from exchange.cli import main

    return app.test_cli_runner().invoke(main, list(args))


def test_cli_journeys_record_list_and_end(db_app: Flask, session: Session) -> None:
    empty = cli(db_app, "journeys", "list")
    assert empty.exit_code == 0
    assert "no improvement journeys recorded" in empty.output
    made = cli(
        db_app,
        "journeys",
        "record",
        DURHAM_GSS,
        "--start",
        "2021-06-15",
        "--trigger",
        "Ofsted inadequate",
        "--focus",
        "Workforce",
    )
    assert made.exit_code == 0, made.output
    assert "County Durham: improvement journey from 2021-06-15 recorded" in made.output
    listing = cli(db_app, "journeys", "list")
    assert listing.output == "840\tE06000047\tCounty Durham\t2021-06-15\tOfsted inadequate\n"
    future = cli(
        db_app,
        "journeys",
        "record",
        DURHAM,
        "--start",
        "2030-01-01",
        "--trigger",
        "t",
        "--focus",
        "f",
    )
    assert future.exit_code == 1
    assert "Start date must be today or in the past" in future.stderr
    ended = cli(db_app, "journeys", "end", DURHAM, "--on", "2025-03-31")
    assert ended.exit_code == 0, ended.output
    assert "ended on 2025-03-31" in ended.output
    assert "no improvement journeys recorded" in cli(db_app, "journeys", "list").output
    unknown = cli(db_app, "journeys", "end", "999", "--on", "2025-03-31")
    assert unknown.exit_code == 2
    assert "'999' is not a local authority code" in unknown.stderr
    (event,) = events(session, "journey_recorded")
    assert event.actor_label == "system:cli"


def test_cli_ofsted_record_load_and_list(db_app: Flask, session: Session, tmp_path: Path) -> None:
    recorded = cli(
        db_app, "ofsted", "record", DURHAM, "--date", "2023-05-01", "--judgement", "good"
    )
    assert recorded.exit_code == 0, recorded.output
    assert "County Durham: Good on 2023-05-01 recorded" in recorded.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        b"old_la_code,inspection_date,judgement\n380,2018-09-20,Inadequate\n380,x,Good\n"
    )
    refused = cli(db_app, "ofsted", "load", str(bad))
    assert refused.exit_code == 1
    assert "bad.csv, row 3, column inspection_date, value 'x': Write the date as YYYY-MM-DD" in (
        refused.stderr
    )
    assert "bad.csv was not loaded: 1 problem found" in refused.stderr
    good = tmp_path / "good.csv"
    good.write_bytes(b"old_la_code,inspection_date,judgement\n380,2018-09-20,Inadequate\n")
    loaded = cli(db_app, "ofsted", "load", str(good))
    assert loaded.exit_code == 0, loaded.output
    assert "1 judgements for 1 local authorities: 1 added" in loaded.output
    listing = cli(db_app, "ofsted", "list")
    assert listing.output.splitlines() == [
        "380\tE08000032\tBradford\t2018-09-20\tInadequate",
        "840\tE06000047\tCounty Durham\t2023-05-01\tGood",
    ]
    only = cli(db_app, "ofsted", "list", BRADFORD_GSS)
    assert only.output.splitlines() == ["380\tE08000032\tBradford\t2018-09-20\tInadequate"]
