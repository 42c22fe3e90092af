"""Improvement journeys and Ofsted judgement history (seed 4.5.7): recording them and reading them.

An LA records its improvement journey: when it started, what triggered it (e.g. an Ofsted
judgement) and what it focuses on (:func:`record_journey`, :func:`end_journey`). Its own
submitters may do so, and administrators for any LA; its viewers see it (:func:`journey_of`).
An LA has at most one open journey: starting a new one ends the open one on the new start date,
in the same transaction. Administrators record the Ofsted judgement history, one judgement at a
time (:func:`record_ofsted_judgement`, :func:`delete_ofsted_judgement`) or from a CSV file
(:func:`load_ofsted_judgements`, which checks every row first and lands whole or not at all).

Every write is one transaction with its audit event; a refusal is audited on its own (outcome
``denied``). Nothing here is an indicator value: dates, short texts and judgement grades only,
so audit details may name them.

The analytics read what is recorded through :func:`journeys_frame` and :func:`ofsted_frame`,
which conform to :class:`workers.analytics.trajectories.Journeys` and
:class:`~workers.analytics.trajectories.OfstedJudgements`; those are read by the system (no
actor), because journeys are shown to LAs at a similar stage of theirs. The stage itself is read
by :func:`workers.analytics.trajectories.improvement_stage` (see that module's docstring).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from exchange import audit
from exchange.actions.organisations import lock_organisation
from exchange.db import one_transaction
from exchange.models import ImprovementJourney, OfstedJudgement, Organisation, OrganisationKind
from exchange.models.journey import JUDGEMENTS
from exchange.security import clock
from exchange.security.policy import Permission, Principal, allowed, may_act_for
from schemas.reference import UnknownCodeError, load_reference

__all__ = [
    "EARLIEST_DATE",
    "JUDGEMENTS",
    "MAX_FOCUS_AREAS_LENGTH",
    "MAX_TRIGGER_LENGTH",
    "JourneyError",
    "JourneyOverview",
    "OfstedFileError",
    "RowProblem",
    "authority",
    "delete_ofsted_judgement",
    "demo_journeys",
    "end_journey",
    "journey_of",
    "journeys_frame",
    "load_ofsted_judgements",
    "local_authorities",
    "long_date",
    "may_record_journey",
    "may_view_journey",
    "months_since",
    "ofsted_frame",
    "ofsted_judgements",
    "open_journeys",
    "record_journey",
    "record_ofsted_judgement",
    "today",
]

EARLIEST_DATE = date(2000, 1, 1)
MAX_TRIGGER_LENGTH = 200  # the column's length
MAX_FOCUS_AREAS_LENGTH = 2000
MAX_FILE_ROWS = 50_000  # an Ofsted history is a few hundred rows: anything near this is wrong

JOURNEY_RECORDED = "journey_recorded"
JOURNEY_ENDED = "journey_ended"
JUDGEMENT_RECORDED = "ofsted_judgement_recorded"
JUDGEMENT_DELETED = "ofsted_judgement_deleted"
JUDGEMENTS_LOADED = "ofsted_judgements_loaded"
JUDGEMENTS_REFUSED = "ofsted_judgements_refused"
DEMO_LOADED = "demo_journeys_loaded"

CODE_COLUMNS = ("new_la_code", "old_la_code")
DATE_COLUMN = "inspection_date"
JUDGEMENT_COLUMN = "judgement"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Control characters (tabs and line breaks allowed only in focus areas): PostgreSQL refuses NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class JourneyError(ValueError):
    """A journey or judgement that cannot be recorded. The message is a sentence to show as it
    is; ``field`` names the input it is about (``start_date``, ``trigger``, ``focus_areas``,
    ``ended_on``, ``inspection_date``, ``judgement``, ``organisation``) or is None."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RowProblem:
    """One broken rule in an Ofsted history file. ``row`` is the row a spreadsheet user sees
    (the header is row 1); None for a problem with the whole file."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        return f"{', '.join(where)}: {self.message} [{self.rule}]"


class OfstedFileError(JourneyError):
    """An Ofsted history file with problems; nothing was loaded. ``problems`` lists them all."""

    def __init__(self, filename: str, problems: list[RowProblem]) -> None:
        count = len(problems)
        super().__init__(
            f"{filename} was not loaded: {count} problem{'' if count == 1 else 's'} found"
        )
        self.filename = filename
        self.problems = problems


# ------------------------------------------------------------------------------ who may do what


def may_record_journey(actor: Principal | None, organisation_id: int) -> bool:
    """The LA's own submitters (``LA_SUBMIT``), administrators and system actors."""
    return may_act_for(actor, organisation_id, Permission.LA_SUBMIT) or allowed(
        actor, Permission.ADMINISTER
    )


def may_view_journey(actor: Principal | None, organisation_id: int) -> bool:
    """The LA's own staff (``LA_VIEW``), administrators and system actors."""
    return may_act_for(actor, organisation_id, Permission.LA_VIEW) or allowed(
        actor, Permission.ADMINISTER
    )


def _deny(
    session: Session, actor: Principal, action: str, organisation_id: int | None, why: str
) -> PermissionError:
    """Audit a refusal (outcome ``denied``) in its own transaction; the error to raise."""
    session.rollback()
    with one_transaction(session):
        audit.record_by(
            session,
            action,
            actor,
            organisation_id=organisation_id,
            target_type="organisation" if organisation_id is not None else None,
            target_id=organisation_id,
            outcome="denied",
        )
    return PermissionError(why)


def _require_journey_writer(
    session: Session, actor: Principal, action: str, organisation_id: int
) -> None:
    if not may_record_journey(actor, organisation_id):
        raise _deny(
            session,
            actor,
            action,
            organisation_id,
            "only the local authority's own submitters or an administrator may change its "
            "improvement journey",
        )


def _require_admin(
    session: Session, actor: Principal, action: str, organisation_id: int | None
) -> None:
    if not allowed(actor, Permission.ADMINISTER):
        raise _deny(
            session,
            actor,
            action,
            organisation_id,
            "only administrators record Ofsted judgements",
        )


# -------------------------------------------------------------------------------- validation


def _london() -> tzinfo:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # no time zone database on this machine
        return UTC


def today() -> date:
    """Today's date in England (``exchange.security.clock``, so tests can move it)."""
    return clock.now().astimezone(_london()).date()


def long_date(value: date) -> str:
    """A date as GOV.UK writes it: 1 October 2021."""
    return f"{value.day} {value:%B %Y}"


def _check_date(value: object, what: str, field: str) -> date:
    """``value`` as a date that is not in the future and not before :data:`EARLIEST_DATE`;
    ``what`` names it in messages ("Start date")."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise JourneyError(f"{what} must be a date", field)
    if value > today():
        raise JourneyError(f"{what} must be today or in the past", field)
    if value < EARLIEST_DATE:
        raise JourneyError(f"{what} must be on or after {long_date(EARLIEST_DATE)}", field)
    return value


def _clean_text(value: object, what: str, field: str, limit: int, *, multiline: bool) -> str:
    """Trimmed text, not empty and at most ``limit`` characters; a one-line text has its runs
    of white space collapsed to one space."""
    if not isinstance(value, str):
        raise JourneyError(f"Enter the {what}", field)
    text = value.strip() if multiline else " ".join(value.split())
    text = text.replace("\r\n", "\n")
    if not text:
        raise JourneyError(f"Enter the {what}", field)
    if _CONTROL.search(text):
        raise JourneyError(f"The {what} must be plain text", field)
    if len(text) > limit:
        raise JourneyError(f"The {what} must be {limit:,} characters or fewer", field)
    return text


def _judgement(value: str) -> str | None:
    """The canonical spelling of an Ofsted grade written in any case and spacing, or None."""
    wanted = " ".join(value.split()).casefold()
    return next((j for j in JUDGEMENTS if j.casefold() == wanted), None)


def _check_judgement(value: object) -> str:
    found = _judgement(value) if isinstance(value, str) else None
    if found is None:
        raise JourneyError(
            "Judgement must be one of: " + ", ".join(JUDGEMENTS), field=JUDGEMENT_COLUMN
        )
    return found


def _local_authority(session: Session, organisation_id: int, *, live: bool) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None or org.kind is not OrganisationKind.LOCAL_AUTHORITY:
        raise JourneyError(
            f"Organisation {organisation_id} is not a local authority", "organisation"
        )
    if live and not org.is_active:
        raise JourneyError(
            f"{org.name} has been abolished: it cannot start a journey", "organisation"
        )
    return org


def authority(session: Session, code: str) -> Organisation:
    """The LA organisation for an old (3-digit) or GSS code, superseded GSS codes included."""
    code = code.strip()
    try:
        old_code = load_reference().la(code).old_la_code
    except UnknownCodeError:
        raise JourneyError(f"{code!r} is not a local authority code", "organisation") from None
    org = None
    if old_code is not None:
        org = session.scalars(
            select(Organisation).where(
                Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
                Organisation.code == old_code,
            )
        ).first()
    if org is None:
        raise JourneyError(
            f"{code!r} has no local authority in the exchange (run exchange init first?)",
            "organisation",
        )
    return org


# ------------------------------------------------------------------------------------ journeys


def _open_journey(session: Session, organisation_id: int) -> ImprovementJourney | None:
    return session.scalars(
        select(ImprovementJourney)
        .where(
            ImprovementJourney.organisation_id == organisation_id,
            ImprovementJourney.ended_on.is_(None),
        )
        .execution_options(populate_existing=True)
    ).first()


def _last_end(session: Session, organisation_id: int) -> date | None:
    ends = session.scalars(
        select(ImprovementJourney.ended_on).where(
            ImprovementJourney.organisation_id == organisation_id,
            ImprovementJourney.ended_on.is_not(None),
        )
    ).all()
    return max(ends, default=None)


def _comparisons_changed(session: Session, actor: Principal, organisation_id: int | None) -> None:
    """Journeys and judgements feed every LA's progress pages: queue their recompute (after the
    change is committed; nothing when automatic refreshes are off)."""
    from exchange.actions.refresh import request_comparisons

    request_comparisons(session, organisation_id=organisation_id, requested_by=actor.user_id)


def record_journey(
    session: Session,
    actor: Principal,
    organisation_id: int,
    *,
    start_date: date,
    trigger: str,
    focus_areas: str,
) -> ImprovementJourney:
    """Record LA ``organisation_id``'s improvement journey, starting on ``start_date``.

    The LA's open journey, if any, ends on the new start date in the same transaction. The
    start date is not in the future, not before 2000, and not before the open journey started
    or an earlier one ended (journeys do not overlap). ``trigger`` (up to 200 characters, e.g.
    "Ofsted inadequate 2021") and ``focus_areas`` (free text) are trimmed and must not be
    empty. Raises :class:`JourneyError` for bad input, PermissionError (audited) for anyone
    but the LA's submitters and administrators. Audited as ``journey_recorded``.
    """
    _require_journey_writer(session, actor, JOURNEY_RECORDED, organisation_id)
    start = _check_date(start_date, "Start date", "start_date")
    trigger = _clean_text(trigger, "trigger", "trigger", MAX_TRIGGER_LENGTH, multiline=False)
    focus = _clean_text(
        focus_areas, "focus areas", "focus_areas", MAX_FOCUS_AREAS_LENGTH, multiline=True
    )
    with one_transaction(session):
        org = _local_authority(session, organisation_id, live=True)
        lock_organisation(session, org.id)
        current = _open_journey(session, org.id)
        if current is not None and start < current.start_date:
            raise JourneyError(
                f"Start date must be on or after {long_date(current.start_date)}, when the "
                "current journey started",
                "start_date",
            )
        last_end = _last_end(session, org.id)
        if last_end is not None and start < last_end:
            raise JourneyError(
                f"Start date must be on or after {long_date(last_end)}, when the previous "
                "journey ended",
                "start_date",
            )
        if current is not None:
            current.ended_on = start
            current.recorded_by_label = actor.label
            session.flush()  # the open journey ends before the new one is the open one
        journey = ImprovementJourney(
            organisation_id=org.id,
            start_date=start,
            trigger=trigger,
            focus_areas=focus,
            recorded_by_label=actor.label,
        )
        session.add(journey)
        session.flush()
        audit.record_by(
            session,
            JOURNEY_RECORDED,
            actor,
            organisation_id=org.id,
            target_type="improvement_journey",
            target_id=journey.id,
            details={
                "start_date": start.isoformat(),
                "trigger": trigger,
                "ended_journey": current.id if current is not None else None,
            },
        )
    _comparisons_changed(session, actor, organisation_id)
    return journey


def end_journey(
    session: Session, actor: Principal, organisation_id: int, *, ended_on: date
) -> ImprovementJourney:
    """End LA ``organisation_id``'s open journey on ``ended_on`` (not in the future, not before
    it started). Same permissions as :func:`record_journey`; audited as ``journey_ended``."""
    _require_journey_writer(session, actor, JOURNEY_ENDED, organisation_id)
    end = _check_date(ended_on, "End date", "ended_on")
    with one_transaction(session):
        org = _local_authority(session, organisation_id, live=False)
        lock_organisation(session, org.id)
        journey = _open_journey(session, org.id)
        if journey is None:
            raise JourneyError(f"{org.name} has no open improvement journey to end", "ended_on")
        if end < journey.start_date:
            raise JourneyError(
                f"End date must be on or after {long_date(journey.start_date)}, when the "
                "journey started",
                "ended_on",
            )
        journey.ended_on = end
        journey.recorded_by_label = actor.label
        session.flush()
        audit.record_by(
            session,
            JOURNEY_ENDED,
            actor,
            organisation_id=org.id,
            target_type="improvement_journey",
            target_id=journey.id,
            details={"start_date": journey.start_date.isoformat(), "ended_on": end.isoformat()},
        )
    _comparisons_changed(session, actor, organisation_id)
    return journey


@dataclass(frozen=True)
class JourneyOverview:
    """What an LA's journey page shows: its open journey (if any) and how long it has run,
    its ended journeys (newest first) and its Ofsted judgements (newest first)."""

    organisation: Organisation
    current: ImprovementJourney | None
    past: list[ImprovementJourney]
    judgements: list[OfstedJudgement]
    months_since_start: int | None
    as_of: date


def months_since(start: date, end: date) -> int:
    """Complete calendar months from ``start`` to ``end``, by the analytics' own rule
    (:func:`workers.analytics.trajectories.months_between`)."""
    from workers.analytics.trajectories import months_between

    months = months_between(pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)]))
    return int(months.iloc[0])


def journey_of(session: Session, actor: Principal, organisation_id: int) -> JourneyOverview:
    """LA ``organisation_id``'s journeys and Ofsted history, for its own staff (``LA_VIEW``)
    and administrators; PermissionError for anyone else."""
    if not may_view_journey(actor, organisation_id):
        raise PermissionError("only the local authority's own staff may see its journey")
    org = _local_authority(session, organisation_id, live=False)
    journeys = session.scalars(
        select(ImprovementJourney)
        .where(ImprovementJourney.organisation_id == org.id)
        .order_by(ImprovementJourney.start_date.desc(), ImprovementJourney.id.desc())
        .execution_options(populate_existing=True)
    ).all()
    current = next((j for j in journeys if j.ended_on is None), None)
    judgements = session.scalars(
        select(OfstedJudgement)
        .where(OfstedJudgement.organisation_id == org.id)
        .order_by(OfstedJudgement.inspection_date.desc())
    ).all()
    as_of = today()
    return JourneyOverview(
        organisation=org,
        current=current,
        past=[j for j in journeys if j.ended_on is not None],
        judgements=list(judgements),
        months_since_start=months_since(current.start_date, as_of) if current else None,
        as_of=as_of,
    )


def open_journeys(session: Session, actor: Principal) -> list[ImprovementJourney]:
    """Every LA's open journey (organisation loaded), by LA name: administrators only."""
    if not allowed(actor, Permission.ADMINISTER):
        raise PermissionError("only administrators list every local authority's journey")
    return list(
        session.scalars(
            select(ImprovementJourney)
            .join(Organisation, ImprovementJourney.organisation_id == Organisation.id)
            .where(ImprovementJourney.ended_on.is_(None))
            .options(selectinload(ImprovementJourney.organisation))
            .order_by(Organisation.name)
        )
    )


# ------------------------------------------------------------------------------ Ofsted history


def _judgement_event(
    session: Session, action: str, actor: Principal, judgement: OfstedJudgement, **more: Any
) -> None:
    audit.record_by(
        session,
        action,
        actor,
        organisation_id=judgement.organisation_id,
        target_type="ofsted_judgement",
        target_id=judgement.id,
        details={
            "inspection_date": judgement.inspection_date.isoformat(),
            "judgement": judgement.judgement,
            **more,
        },
    )


def record_ofsted_judgement(
    session: Session,
    actor: Principal,
    organisation_id: int,
    *,
    inspection_date: date,
    judgement: str,
) -> OfstedJudgement:
    """Record LA ``organisation_id``'s Ofsted judgement of ``inspection_date`` (replacing the
    one already recorded for that date). ``judgement`` is one of :data:`JUDGEMENTS`, in any
    case. Administrators only (PermissionError, audited); :class:`JourneyError` for bad
    input. Audited as ``ofsted_judgement_recorded`` (with the judgement it replaced)."""
    _require_admin(session, actor, JUDGEMENT_RECORDED, organisation_id)
    when = _check_date(inspection_date, "Inspection date", DATE_COLUMN)
    grade = _check_judgement(judgement)
    with one_transaction(session):
        org = _local_authority(session, organisation_id, live=False)
        found = session.scalars(
            select(OfstedJudgement).where(
                OfstedJudgement.organisation_id == org.id,
                OfstedJudgement.inspection_date == when,
            )
        ).first()
        previous = found.judgement if found is not None else None
        if found is None:
            found = OfstedJudgement(
                organisation_id=org.id,
                inspection_date=when,
                judgement=grade,
                recorded_by_label=actor.label,
            )
            session.add(found)
        else:
            found.judgement = grade
            found.recorded_by_label = actor.label
        session.flush()
        _judgement_event(session, JUDGEMENT_RECORDED, actor, found, previous=previous)
    _comparisons_changed(session, actor, organisation_id)
    return found


def delete_ofsted_judgement(session: Session, actor: Principal, judgement_id: int) -> None:
    """Delete a recorded Ofsted judgement (a mistake). Administrators only; audited as
    ``ofsted_judgement_deleted`` with the date and judgement it held."""
    _require_admin(session, actor, JUDGEMENT_DELETED, None)
    with one_transaction(session):
        found = session.get(OfstedJudgement, judgement_id)
        if found is None:
            raise JourneyError("There is no such Ofsted judgement: it may have been deleted")
        _judgement_event(session, JUDGEMENT_DELETED, actor, found)
        session.delete(found)
    _comparisons_changed(session, actor, None)


def ofsted_judgements(
    session: Session, actor: Principal, organisation_id: int | None = None
) -> list[OfstedJudgement]:
    """Recorded judgements (organisation loaded), by LA name then newest first: every LA's for
    administrators, or one LA's for its own staff too."""
    if organisation_id is None:
        if not allowed(actor, Permission.ADMINISTER):
            raise PermissionError("only administrators list every local authority's judgements")
    elif not may_view_journey(actor, organisation_id):
        raise PermissionError("only the local authority's own staff may see its judgements")
    query = (
        select(OfstedJudgement)
        .join(Organisation, OfstedJudgement.organisation_id == Organisation.id)
        .options(selectinload(OfstedJudgement.organisation))
        .order_by(Organisation.name, OfstedJudgement.inspection_date.desc())
    )
    if organisation_id is not None:
        query = query.where(OfstedJudgement.organisation_id == organisation_id)
    return list(session.scalars(query))


def local_authorities(session: Session, actor: Principal) -> list[Organisation]:
    """Active LAs by name, for an administrator choosing whose judgement to record."""
    if not allowed(actor, Permission.ADMINISTER):
        raise PermissionError("only administrators record Ofsted judgements")
    return list(
        session.scalars(
            select(Organisation)
            .where(
                Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
                Organisation.is_active.is_(True),
            )
            .order_by(Organisation.name)
        )
    )


@dataclass(frozen=True)
class _Row:
    number: int
    organisation_id: int
    inspection_date: date
    judgement: str


def _read_file(session: Session, data: bytes, filename: str) -> tuple[list[_Row], list[RowProblem]]:
    """Every row of an Ofsted history CSV checked; (rows, problems), rows only if no problem."""
    problems: list[RowProblem] = []

    def problem(
        row: int | None, column: str | None, value: str | None, rule: str, message: str
    ) -> None:
        problems.append(RowProblem(filename, row, column, value, rule, message))

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problem(None, None, None, "encoding", "The file is not UTF-8 text: save it as CSV UTF-8")
        return [], problems
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        problem(None, None, None, "csv", f"The file is not a readable CSV file ({error})")
        return [], problems
    # (row number as a spreadsheet shows it, cells) of every line that is not blank.
    numbered = [(i + 1, r) for i, r in enumerate(records) if any(cell.strip() for cell in r)]
    if not numbered:
        problem(None, None, None, "empty_file", "The file is empty: it needs a header row")
        return [], problems
    header_row, header_cells = numbered[0]
    header = [cell.strip().lower() for cell in header_cells]
    for name in sorted({h for h in header if header.count(h) > 1 and h}):
        problem(header_row, name, None, "duplicate_column", f"Column {name} appears more than once")
    if not any(c in header for c in CODE_COLUMNS):
        problem(
            header_row,
            CODE_COLUMNS[0],
            None,
            "missing_column",
            "Add a new_la_code or old_la_code column",
        )
    for name in (DATE_COLUMN, JUDGEMENT_COLUMN):
        if name not in header:
            problem(header_row, name, None, "missing_column", f"Add a {name} column")
    if problems:
        return [], problems
    body = numbered[1:]
    if not body:
        problem(None, None, None, "no_rows", "The file has a header but no judgements")
        return [], problems
    if len(body) > MAX_FILE_ROWS:
        problem(None, None, None, "too_many_rows", f"The file has more than {MAX_FILE_ROWS:,} rows")
        return [], problems

    position = {name: header.index(name) for name in (*CODE_COLUMNS, DATE_COLUMN) if name in header}
    position[JUDGEMENT_COLUMN] = header.index(JUDGEMENT_COLUMN)
    reference = load_reference()
    la_ids = dict(
        session.execute(
            select(Organisation.code, Organisation.id).where(
                Organisation.kind == OrganisationKind.LOCAL_AUTHORITY
            )
        ).all()
    )
    latest = today()
    rows: list[_Row] = []
    seen: dict[tuple[int, date], int] = {}
    for number, record in body:
        if len(record) != len(header):
            problem(
                number,
                None,
                None,
                "row_length",
                f"The row has {len(record)} cells but the header has {len(header)}",
            )
            continue
        cells = {name: record[i].strip() for name, i in position.items()}

        # The LA: its new code, else its old one; both given must name the same LA.
        found: dict[str, int] = {}
        for column in CODE_COLUMNS:
            code = cells.get(column, "")
            if not code:
                continue
            try:
                old_code = reference.la(code).old_la_code
            except UnknownCodeError:
                problem(number, column, code, "unknown_la", "This is not a local authority code")
                continue
            la_id = la_ids.get(old_code) if old_code is not None else None
            if la_id is None:
                problem(
                    number,
                    column,
                    code,
                    "no_organisation",
                    "This local authority is not in the exchange",
                )
                continue
            found[column] = la_id
        if not any(cells.get(c) for c in CODE_COLUMNS):
            column = next(c for c in CODE_COLUMNS if c in position)
            problem(number, column, "", "required", "Enter the local authority's code")
        if len(set(found.values())) > 1:
            problem(
                number,
                CODE_COLUMNS[1],
                cells[CODE_COLUMNS[1]],
                "codes_disagree",
                f"This is not the local authority of {cells[CODE_COLUMNS[0]]}",
            )

        raw_date = cells[DATE_COLUMN]
        when: date | None = None
        if not _ISO_DATE.fullmatch(raw_date):
            problem(number, DATE_COLUMN, raw_date, "date_format", "Write the date as YYYY-MM-DD")
        else:
            try:
                when = date.fromisoformat(raw_date)
            except ValueError:
                problem(number, DATE_COLUMN, raw_date, "date_format", "This is not a real date")
        if when is not None and when > latest:
            problem(number, DATE_COLUMN, raw_date, "date_in_future", "The date is in the future")
            when = None
        elif when is not None and when < EARLIEST_DATE:
            problem(
                number,
                DATE_COLUMN,
                raw_date,
                "date_too_early",
                f"The date must be on or after {EARLIEST_DATE.isoformat()}",
            )
            when = None

        raw_grade = cells[JUDGEMENT_COLUMN]
        grade = _judgement(raw_grade)
        if grade is None:
            problem(
                number,
                JUDGEMENT_COLUMN,
                raw_grade,
                "unknown_judgement",
                "The judgement must be one of: " + ", ".join(JUDGEMENTS),
            )

        la_ids_found = set(found.values())
        if len(la_ids_found) == 1 and when is not None and grade is not None:
            (la_id,) = la_ids_found
            key = (la_id, when)
            if key in seen:
                problem(
                    number,
                    DATE_COLUMN,
                    raw_date,
                    "duplicate",
                    f"Row {seen[key]} has a judgement for the same local authority and date",
                )
                continue
            seen[key] = number
            rows.append(_Row(number, la_id, when, grade))
    return (rows if not problems else []), problems


def load_ofsted_judgements(
    session: Session, actor: Principal, data: bytes, filename: str
) -> dict[str, int]:
    """Load an Ofsted judgement history CSV (docs/journeys.md): columns ``new_la_code`` (or
    ``old_la_code``, or both), ``inspection_date`` (YYYY-MM-DD) and ``judgement``; other
    columns are ignored.

    Every row is checked first; any problem raises :class:`OfstedFileError` listing every
    problem (file, row, column, value, rule) and nothing is loaded (the refusal is audited).
    Otherwise every row is upserted by (LA, inspection date) in one transaction with one
    ``ofsted_judgements_loaded`` event. Returns counts: rows, added, replaced, unchanged,
    authorities. Administrators only.
    """
    _require_admin(session, actor, JUDGEMENTS_LOADED, None)
    rows, problems = _read_file(session, data, filename)
    if problems:
        session.rollback()
        with one_transaction(session):
            audit.record_by(
                session,
                JUDGEMENTS_REFUSED,
                actor,
                target_type="file",
                target_id=filename[:255],
                outcome="refused",
                details={
                    "filename": filename,
                    "problems": len(problems),
                    "rules": sorted({p.rule for p in problems}),
                },
            )
        raise OfstedFileError(filename, problems)
    counts = {"rows": len(rows), "added": 0, "replaced": 0, "unchanged": 0, "authorities": 0}
    with one_transaction(session):
        org_ids = sorted({r.organisation_id for r in rows})
        existing = {
            (j.organisation_id, j.inspection_date): j
            for j in session.scalars(
                select(OfstedJudgement).where(OfstedJudgement.organisation_id.in_(org_ids))
            )
        }
        for row in rows:
            found = existing.get((row.organisation_id, row.inspection_date))
            if found is None:
                session.add(
                    OfstedJudgement(
                        organisation_id=row.organisation_id,
                        inspection_date=row.inspection_date,
                        judgement=row.judgement,
                        recorded_by_label=actor.label,
                    )
                )
                counts["added"] += 1
            elif found.judgement != row.judgement:
                found.judgement = row.judgement
                found.recorded_by_label = actor.label
                counts["replaced"] += 1
            else:
                counts["unchanged"] += 1
        counts["authorities"] = len(org_ids)
        session.flush()
        audit.record_by(
            session,
            JUDGEMENTS_LOADED,
            actor,
            target_type="file",
            target_id=filename[:255],
            details={"filename": filename, **counts},
        )
    _comparisons_changed(session, actor, None)
    return counts


# ------------------------------------------------------------------------ read by the analytics


def journeys_frame(session: Session) -> pd.DataFrame:
    """Every LA's open journey as :class:`workers.analytics.trajectories.Journeys`: ``la_code``
    (the LA's GSS code, ``Organisation.new_la_code``), ``start_date``, ``trigger``,
    ``focus_areas``; one row per LA, by code."""
    from workers.analytics.trajectories import Journeys

    result = session.execute(
        select(
            Organisation.new_la_code.label("la_code"),
            ImprovementJourney.start_date,
            ImprovementJourney.trigger,
            ImprovementJourney.focus_areas,
        )
        .join(Organisation, ImprovementJourney.organisation_id == Organisation.id)
        .where(ImprovementJourney.ended_on.is_(None), Organisation.new_la_code.is_not(None))
        .order_by(Organisation.new_la_code)
    )
    frame = pd.DataFrame(result.all(), columns=["la_code", "start_date", "trigger", "focus_areas"])
    frame["start_date"] = pd.to_datetime(frame["start_date"])
    return Journeys.validate(frame)


def ofsted_frame(session: Session) -> pd.DataFrame:
    """Every recorded judgement as :class:`workers.analytics.trajectories.OfstedJudgements`:
    ``la_code`` (GSS), ``date`` (of the inspection), ``judgement``; by code and date."""
    from workers.analytics.trajectories import OfstedJudgements

    result = session.execute(
        select(
            Organisation.new_la_code.label("la_code"),
            OfstedJudgement.inspection_date,
            OfstedJudgement.judgement,
        )
        .join(Organisation, OfstedJudgement.organisation_id == Organisation.id)
        .where(Organisation.new_la_code.is_not(None))
        .order_by(Organisation.new_la_code, OfstedJudgement.inspection_date)
    )
    frame = pd.DataFrame(result.all(), columns=["la_code", "date", "judgement"])
    frame["date"] = pd.to_datetime(frame["date"])
    return OfstedJudgements.validate(frame)


# ----------------------------------------------------------------------------------------- demo


def _judgement_of_trigger(trigger: str) -> str | None:
    """The Ofsted grade a trigger such as "Ofsted inadequate" names, else None."""
    words = trigger.split(maxsplit=1)
    if len(words) != 2 or words[0].casefold() != "ofsted":
        return None
    return _judgement(words[1])


def demo_journeys(session: Session, actor: Principal, seed: int) -> int:
    """Record the synthetic journeys of :func:`schemas.synth.journeys` (``seed``) for the LAs
    that have no journey yet; returns how many were recorded (0 the second time).

    A journey starts on 1 October of the year before its ``start_year`` (the first reporting
    year that improves), i.e. mid-way through the reporting year before it; an "Ofsted ..."
    trigger also records that judgement on the start date (unless one is recorded for that
    date). One transaction, audited as ``demo_journeys_loaded`` when anything was recorded.
    Administrators and system actors only.
    """
    from schemas.synth import journeys as synthetic_journeys

    _require_admin(session, actor, DEMO_LOADED, None)
    frame = synthetic_journeys(seed)
    loaded = judgements = 0
    with one_transaction(session):
        las = {
            org.code: org
            for org in session.scalars(
                select(Organisation).where(Organisation.kind == OrganisationKind.LOCAL_AUTHORITY)
            )
        }
        have = set(session.scalars(select(ImprovementJourney.organisation_id).distinct()))
        judged = {
            (la_id, when)
            for la_id, when in session.execute(
                select(OfstedJudgement.organisation_id, OfstedJudgement.inspection_date)
            )
        }
        for row in frame.itertuples(index=False):
            org = las.get(str(row.old_la_code))
            if org is None or org.id in have:
                continue
            start = date(int(row.start_year) - 1, 10, 1)
            session.add(
                ImprovementJourney(
                    organisation_id=org.id,
                    start_date=start,
                    trigger=str(row.trigger),
                    focus_areas=str(row.focus_areas),
                    recorded_by_label=actor.label,
                )
            )
            have.add(org.id)
            loaded += 1
            grade = _judgement_of_trigger(str(row.trigger))
            if grade is not None and (org.id, start) not in judged:
                session.add(
                    OfstedJudgement(
                        organisation_id=org.id,
                        inspection_date=start,
                        judgement=grade,
                        recorded_by_label=actor.label,
                    )
                )
                judged.add((org.id, start))
                judgements += 1
        if loaded or judgements:
            session.flush()
            audit.record_by(
                session,
                DEMO_LOADED,
                actor,
                details={"seed": seed, "journeys": loaded, "judgements": judgements},
            )
    return loaded
