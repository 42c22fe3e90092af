"""An alliance's view of its member LAs' comparisons (regional improvement alliances).

For the viewers of an alliance (``requires(ALLIANCE_VIEW)`` for the app-wide guard, and
:func:`exchange.actions.comparisons.alliance_comparisons_for` checks again that the principal
acts for this alliance). The figures are the alliance's file of the current comparison set:
each member's *protected* value from the current national releases (what any LA may see of
another, never a member's raw value) with the figures LAIT gives — national rank, quartile
band, statistical-neighbour mean and median, region, England, change, judgements against the
neighbours and England, and the outcome-level triangulation — plus the members' improvement
stages from the journeys every LA may see (:func:`shared_progress_for`).

* ``/alliance/``: for one indicator (``?indicator=``, by default the first of the catalogue
  with figures) and one period (``?period=``, the latest by default), a row per member; the
  outcome readings of each member; the members' improvement stages and their aligned values
  of the indicator since the start of their journeys; and which set and releases the figures
  rest on.

LA staff hold ``ALLIANCE_VIEW`` too (their LA's comparisons include its alliances' group
statistics); they act for their LA, not an alliance, so the page only points them to their
own comparisons. Values shared only at alliance scope are not in the national releases and so
not shown here: they need an alliance release, which does not exist yet (the page says so).

``no-store``, and nothing about the figures is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from exchange.actions.comparisons import (
    ComparisonView,
    SharedProgressView,
    alliance_comparisons_for,
    shared_progress_for,
)
from exchange.actions.journeys import long_date
from exchange.extensions import db
from exchange.models.organisation import AllianceMembership, Organisation, OrganisationKind
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, allowed, requires
from exchange.web.comparisons import (
    FEWER,
    JUDGEMENT_TAGS,
    TOTAL,
    Figure,
    OutcomeRow,
    Row,
    banner_of,
    indicator_row,
    is_missing,
    make_figure,
    outcome_rows,
    text_or_dash,
    value_text,
)
from schemas.catalogue import Catalogue, Indicator, load_catalogue

bp = Blueprint("alliance", __name__, url_prefix="/alliance")

NOT_PUBLISHED = "no published value: suppressed, or no return for the year"


@bp.after_request
def _no_store(response: Response) -> Response:
    # Figures about named LAs: keep them out of shared caches and the browser's disk.
    response.headers["Cache-Control"] = "no-store"
    return response


def is_alliance_viewer(principal: Principal | None) -> bool:
    """Whether ``principal`` views an alliance (not LA staff, who hold ALLIANCE_VIEW too)."""
    return (
        principal is not None
        and not principal.is_system
        and principal.organisation_kind is OrganisationKind.ALLIANCE
        and allowed(principal, Permission.ALLIANCE_VIEW)
    )


@bp.app_context_processor
def _navigation() -> dict[str, object]:
    # A function, so the principal is looked up only when a page's navigation asks.
    return {"alliance_viewer": lambda: is_alliance_viewer(current_principal())}


# ------------------------------------------------------------------------------ what is shown


@dataclass(frozen=True)
class Member:
    name: str
    code: str  # new GSS code (the files' la_code)


@dataclass(frozen=True)
class MemberRow:
    member: Member
    row: Row | None  # None: no figures for the indicator and period
    region: Figure


@dataclass(frozen=True)
class MemberOutcomes:
    member: Member
    outcomes: list[OutcomeRow]


@dataclass(frozen=True)
class StageRow:
    member: Member
    stage_label: str
    months: int
    start_date: str
    trigger: str
    judgement: str
    in_expected_order: bool


@dataclass(frozen=True)
class TrajectoryRow:
    member: Member
    points: list[tuple[int, str, str]]  # (years since the start, period, value)


def _members(alliance: Organisation) -> list[Member]:
    rows = db.session.execute(
        select(Organisation.name, Organisation.new_la_code, Organisation.code)
        .join(AllianceMembership, AllianceMembership.la_id == Organisation.id)
        .where(AllianceMembership.alliance_id == alliance.id)
        .order_by(Organisation.name)
    ).all()
    return [Member(name, new or code) for name, new, code in rows]


def _indicators(totals: pd.DataFrame, catalogue: Catalogue) -> list[Indicator]:
    """The catalogue's indicators (domain by domain, in catalogue order) with a figure in
    ``totals``."""
    with_data = set(totals.loc[totals["value"].notna(), "indicator_id"].astype(str))
    return [
        indicator
        for domain in sorted(catalogue.domains.values(), key=lambda d: d.table)
        for indicator in catalogue.by_domain(domain.id)
        if indicator.id in with_data
    ]


def _region(per_group: pd.DataFrame, indicator: Indicator) -> dict[str, Figure]:
    """Each member's region mean (Inner or Outer London for London LAs) of the cells in
    ``per_group`` (one indicator, period and Total cell)."""
    regions = per_group.loc[per_group["group_type"].astype(str) == "region"]
    out = {}
    for record in regions.to_dict("records"):
        if not bool(record["allowed"]):
            figure = Figure(None, f"not shown: {FEWER}", note=f"{int(record['n'])} with a value")
        else:
            figure = make_figure(indicator, record["mean"], "no region figure", statistic=True)
        out[str(record["la_code"])] = figure
    return out


def _member_rows(
    view: ComparisonView, members: list[Member], indicator: Indicator, period: str
) -> list[MemberRow]:
    def cells(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[
            (frame["indicator_id"].astype(str) == indicator.id)
            & (frame["period"].astype(str) == period)
            & (frame["breakdown_topic"].astype(str) == TOTAL)
            & (frame["breakdown"].astype(str) == TOTAL)
        ]

    records = {str(r["la_code"]): r for r in cells(view.per_la).to_dict("records")}
    regions = _region(cells(view.per_group), indicator)
    rows = []
    for member in members:
        record = records.get(member.code)
        row = None
        if record is not None:
            row = indicator_row(indicator, record)
            if row.value.text is None:
                row = replace(row, value=Figure(None, NOT_PUBLISHED))
        region = regions.get(member.code, Figure(None, "no region figure"))
        rows.append(MemberRow(member, row, region))
    return rows


def _member_outcomes(
    view: ComparisonView, members: list[Member], period: str, catalogue: Catalogue
) -> list[MemberOutcomes]:
    outcomes = view.outcomes.loc[view.outcomes["period"].astype(str) == period]
    codes = outcomes["la_code"].astype(str)
    return [
        MemberOutcomes(member, outcome_rows(outcomes.loc[codes == member.code], catalogue))
        for member in members
    ]


def _date(value: Any) -> str:
    return "" if is_missing(value) else long_date(pd.Timestamp(value).date())


def _stages(shared: SharedProgressView | None, members: list[Member]) -> list[StageRow]:
    if shared is None or shared.stages.empty:
        return []
    by_code = {m.code: m for m in members}
    rows = []
    for r in shared.stages.to_dict("records"):
        member = by_code.get(str(r["la_code"]))
        if member is None:
            continue
        rows.append(
            StageRow(
                member=member,
                stage_label=text_or_dash(r["stage_label"]),
                months=int(r["months_since_start"]),
                start_date=_date(r["start_date"]),
                trigger=text_or_dash(r["trigger"]),
                judgement=text_or_dash(r.get("latest_judgement")),
                in_expected_order=bool(r["in_expected_order"]),
            )
        )
    return sorted(rows, key=lambda s: (-s.months, s.member.name))


def _trajectories(
    shared: SharedProgressView | None, stages: list[StageRow], indicator: Indicator
) -> list[TrajectoryRow]:
    """Each member on a journey: its published values of ``indicator`` by years since the
    start of its journey."""
    if shared is None or shared.aligned.empty:
        return []
    aligned = shared.aligned
    mine = aligned.loc[
        (aligned["indicator_id"].astype(str) == indicator.id)
        & (aligned["breakdown_topic"].astype(str) == TOTAL)
        & (aligned["breakdown"].astype(str) == TOTAL)
        & aligned["value"].notna()
    ]
    rows = []
    for stage in stages:
        points = mine.loc[mine["la_code"].astype(str) == stage.member.code].sort_values("period")
        rows.append(
            TrajectoryRow(
                stage.member,
                [
                    (
                        int(p["years_since_start"]),
                        str(p["period"]),
                        value_text(indicator, float(p["value"])),
                    )
                    for p in points.to_dict("records")
                ],
            )
        )
    return rows


# -------------------------------------------------------------------------------------- pages


def _alliance() -> tuple[Principal, Organisation | None]:
    """The signed-in principal and its alliance (None for LA staff: they act for their LA)."""
    principal = current_principal()
    if principal is None:
        abort(403)
    if not is_alliance_viewer(principal) or principal.organisation_id is None:
        return principal, None
    organisation = db.session.get(Organisation, principal.organisation_id)
    if organisation is None or organisation.kind is not OrganisationKind.ALLIANCE:
        abort(403)
    return principal, organisation


def _chosen(name: str, options: list[str], default: str) -> str:
    chosen = request.args.get(name, "") or default
    if options and chosen not in options:
        abort(404)
    return chosen


@bp.get("/")
@requires(Permission.ALLIANCE_VIEW)
def index() -> ResponseReturnValue:
    principal, alliance = _alliance()
    if alliance is None:
        # LA staff: their own comparisons already include their alliances' statistics.
        return render_template("alliance/not_alliance.html")
    try:
        view = alliance_comparisons_for(db.session, principal, alliance.id)
    except PermissionError:
        abort(403)
    members = _members(alliance)
    context: dict[str, Any] = {"alliance": alliance, "members": members, "view": view}
    if view is None:
        return render_template("alliance/index.html", **context)
    catalogue = load_catalogue()
    per_la = view.per_la
    periods = sorted({str(p) for p in per_la["period"].unique()}, reverse=True)
    period = _chosen("period", periods, periods[0] if periods else "")
    totals = per_la.loc[
        (per_la["period"].astype(str) == period) & (per_la["breakdown_topic"] == TOTAL)
    ]
    indicators = _indicators(totals, catalogue)
    chosen_id = _chosen(
        "indicator", [i.id for i in indicators], indicators[0].id if indicators else ""
    )
    indicator = catalogue.indicators.get(chosen_id) if chosen_id else None
    try:
        shared = shared_progress_for(db.session, principal)
    except PermissionError:
        abort(403)
    stages = _stages(shared, members)
    context.update(
        banner=banner_of(view),
        periods=periods,
        period=period,
        indicators=indicators,
        indicator=indicator,
        domain_names={d.id: d.name for d in catalogue.domains.values()},
        rows=_member_rows(view, members, indicator, period) if indicator else [],
        outcomes=_member_outcomes(view, members, period, catalogue),
        stages=stages,
        trajectories=_trajectories(shared, stages, indicator) if indicator else [],
        judgement_tags=JUDGEMENT_TAGS,
    )
    return render_template("alliance/index.html", **context)
