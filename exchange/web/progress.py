"""An LA's improvement progress (seed 4.5.7): its trends, the stage of its improvement journey
with the evidence behind it, LAs at a similar stage, and what to expect next.

Every page is for the signed-in user's own LA (``requires(LA_VIEW)`` for the app-wide guard;
:func:`exchange.actions.comparisons.comparisons_for` checks again). The LA's own trends, stage
and evidence are read from its own (raw) figures in its file of the current comparison set;
other LAs' stages and trajectories from :func:`exchange.actions.comparisons.shared_progress_for`,
which holds only what every LA may see (read from protected, published values). "What to
expect next" is a median over other LAs, shown only when at least
:data:`privacy.groups.MIN_CONTRIBUTORS` contribute.

* ``/progress/``: on a journey, the stage (months since the start, trigger, focus areas, the
  latest Ofsted judgement, whether the domains improved in the expected order), a reading per
  domain, the evidence (each indicator's trend since the start, with its annotation: a
  context-dependent movement "expected for the stage" is not a decline) and LAs at a similar
  stage; not on a journey, every indicator's trend by domain.
* ``/progress/<indicator_id>``: one indicator's trend, its values, and (on a journey) what the
  LAs further ahead saw in the years after the point the LA has reached.

The pages hold the LA's own figures: ``no-store``, and nothing about them is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Blueprint, Response, abort, render_template
from flask.typing import ResponseReturnValue

from exchange.actions.comparisons import ComparisonView, SharedProgressView, shared_progress_for
from exchange.actions.journeys import long_date
from exchange.extensions import db
from exchange.models.organisation import Organisation
from exchange.security.policy import Permission, Principal, requires
from exchange.web.comparisons import (
    TOTAL,
    Figure,
    banner_of,
    is_missing,
    number_text,
    own_view,
    text_or_dash,
    value_text,
)
from privacy.groups import MIN_CONTRIBUTORS
from schemas.catalogue import Catalogue, Domain, Indicator, load_catalogue
from schemas.reference import UnknownCodeError, load_reference
from workers.analytics.trajectories import (
    CONFIDENCE,
    DECLINE,
    EXPECTED,
    IN_CONTEXT,
    MIN_TREND_POINTS,
    peers_at_stage,
    what_next,
)

bp = Blueprint("progress", __name__, url_prefix="/progress")

PEER_WINDOW_MONTHS = 12
"""LAs "at a similar stage": within this many months since the start of the viewer's."""
BIN_MONTHS = 12
""""What to expect next" is summarised per year since the start (annual returns)."""

DIRECTION_TAGS = {
    "improving": ("Improving", "govuk-tag--green"),
    "declining": ("Declining", "govuk-tag--red"),
    "rising": ("Rising (not judged)", "govuk-tag--grey"),
    "falling": ("Falling (not judged)", "govuk-tag--grey"),
    "no clear change": ("No clear change", ""),
    "too few points": (f"Too few years (fewer than {MIN_TREND_POINTS})", ""),
}
"""A trend's direction: a tag where it moved (green/red judged by polarity, grey where which way
is better depends on context), plain text where it did not or cannot be read."""
MOVEMENT_TAGS = {
    "rising": ("Rising", "govuk-tag--grey"),
    "falling": ("Falling", "govuk-tag--grey"),
}
"""The movement of a trend annotated "expected for the stage": described, never judged."""
ANNOTATION_TAGS = {
    EXPECTED: ("Expected for the stage", "govuk-tag--blue"),
    IN_CONTEXT: ("Read in context", "govuk-tag--grey"),
    DECLINE: ("Decline", "govuk-tag--red"),
}
WITHHELD = f"not shown: fewer than {MIN_CONTRIBUTORS} other local authorities contribute"


@bp.after_request
def _no_store(response: Response) -> Response:
    # The LA's own raw figures: keep them out of shared caches and the browser's disk.
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------ what is shown


@dataclass(frozen=True)
class TrendRow:
    """One indicator's trend, ready to show."""

    indicator: Indicator
    tag: tuple[str, str]  # (text, tag class; "" for plain text)
    slope: Figure  # Theil–Sen slope per year; note: its interval
    ols: Figure  # least squares slope per year; note: its interval
    points: str  # "4 years (2022 to 2025)"
    annotation: tuple[str, str] | None  # evidence only: (text, tag class)


@dataclass(frozen=True)
class DomainRow:
    domain: Domain
    n_indicators: int
    n_with_data: int
    n_improving: int
    n_declining: int
    share: str
    improved: bool


@dataclass(frozen=True)
class Stage:
    """The LA's own stage, read from its own figures."""

    stage: int
    label: str
    as_of_period: str
    months: int
    start_date: str
    trigger: str
    focus_areas: str
    in_expected_order: bool
    improved_domains: list[str]
    judgement: str
    judgement_date: str


@dataclass(frozen=True)
class PeerRow:
    name: str
    months: int
    difference: int | None  # theirs minus yours (None when yours is not known)
    stage_label: str
    n_read: int  # indicators with a trend since the start, in the published figures
    start_date: str


@dataclass(frozen=True)
class NextRow:
    """One year-bin of "what to expect next"."""

    months_from: int
    months_to: int
    n_las: int
    median: Figure
    n_change: int
    change: Figure


def _slope_unit(indicator: Indicator) -> str:
    if indicator.unit == "%":
        return " percentage points"
    if indicator.unit == "yes/no":
        return ""
    return f" {indicator.unit}"


def _slope_decimals(indicator: Indicator) -> int:
    # A slope is usually smaller than the values it runs through: one more decimal place.
    return 2 if indicator.unit == "yes/no" else min(indicator.decimals + 1, 3)


def slope_text(indicator: Indicator, slope: float) -> str:
    """A slope per year with its sign and unit: "+1.25 percentage points a year"."""
    number = number_text(slope, _slope_decimals(indicator), signed=True)
    return f"{number}{_slope_unit(indicator)} a year"


def _slope(indicator: Indicator, record: Mapping[str, Any], prefix: str) -> Figure:
    slope = record[f"{prefix}_slope"]
    if is_missing(slope):
        return Figure(None, "no slope: fewer than 2 years of figures")
    low, high = record[f"{prefix}_low"], record[f"{prefix}_high"]
    note = f"no interval: fewer than {MIN_TREND_POINTS} years"
    if int(record["n_points"]) >= MIN_TREND_POINTS and not is_missing(low) and not is_missing(high):
        decimals = _slope_decimals(indicator)
        note = (
            f"{CONFIDENCE:.0%} interval {number_text(float(low), decimals, signed=True)} to "
            f"{number_text(float(high), decimals, signed=True)}"
        )
    return Figure(slope_text(indicator, float(slope)), note=note)


def _points(record: Mapping[str, Any]) -> str:
    n = int(record["n_points"])
    first, last = text_or_dash(record["first_period"]), text_or_dash(record["last_period"])
    years = f"{n} year{'' if n == 1 else 's'}"
    return f"{years} ({first} to {last})" if n > 1 and first != last else f"{years} ({first})"


def trend_row(
    indicator: Indicator, record: Mapping[str, Any], annotation: str | None = None
) -> TrendRow:
    """A Trends (or Evidence) record as shown; ``annotation`` from the Anomalies table. A trend
    annotated "expected for the stage" shows its movement (rising/falling), never a decline."""
    direction = text_or_dash(record["direction"])
    tag = DIRECTION_TAGS.get(direction, (direction.capitalize(), ""))
    if annotation == EXPECTED:
        movement = text_or_dash(record["movement"])
        tag = MOVEMENT_TAGS.get(movement, tag)
    return TrendRow(
        indicator=indicator,
        tag=tag,
        slope=_slope(indicator, record, "ts"),
        ols=_slope(indicator, record, "ols"),
        points=_points(record),
        annotation=ANNOTATION_TAGS.get(annotation or ""),
    )


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "breakdown_topic" not in frame.columns:
        return frame
    return frame.loc[(frame["breakdown_topic"] == TOTAL) & (frame["breakdown"] == TOTAL)]


def _by_domain(
    rows: list[TrendRow], catalogue: Catalogue
) -> list[tuple[Domain, list[TrendRow], int]]:
    """(domain, its rows in catalogue order, indicators in the domain), Table 2 to Table 5."""
    by_id = {r.indicator.id: r for r in rows}
    sections = []
    for domain in sorted(catalogue.domains.values(), key=lambda d: d.table):
        members = catalogue.by_domain(domain.id)
        sections.append((domain, [by_id[i.id] for i in members if i.id in by_id], len(members)))
    return sections


def _trend_rows(trends: pd.DataFrame, catalogue: Catalogue) -> list[TrendRow]:
    return [
        trend_row(catalogue.indicators[str(r["indicator_id"])], r)
        for r in _totals(trends).to_dict("records")
        if str(r["indicator_id"]) in catalogue.indicators
    ]


def _annotations(view: ComparisonView) -> dict[str, str]:
    anomalies = _totals(view.table("anomalies"))
    if anomalies.empty:
        return {}
    return {
        str(r["indicator_id"]): text_or_dash(r["annotation"]) for r in anomalies.to_dict("records")
    }


def evidence_rows(view: ComparisonView, catalogue: Catalogue) -> list[TrendRow]:
    """Each indicator's trend since the start of the journey, with its annotation."""
    notes = _annotations(view)
    return [
        trend_row(catalogue.indicators[i], r, notes.get(i))
        for r in _totals(view.table("evidence")).to_dict("records")
        if (i := str(r["indicator_id"])) in catalogue.indicators
    ]


def _date(value: Any) -> str:
    return "" if is_missing(value) else long_date(pd.Timestamp(value).date())


def own_stage(view: ComparisonView, catalogue: Catalogue) -> Stage | None:
    """The LA's stage, or None when it is not on an improvement journey (or the journey
    started after the latest reporting year of its figures)."""
    stage = view.table("stage")
    if stage.empty:
        return None
    record = stage.iloc[0].to_dict()
    names = {d.id: d.name for d in catalogue.domains.values()}
    improved = [
        names.get(d.strip(), d.strip()) for d in text_or_dash(record["improved_domains"]).split(",")
    ]
    return Stage(
        stage=int(record["stage"]),
        label=text_or_dash(record["stage_label"]),
        as_of_period=text_or_dash(record["as_of_period"]),
        months=int(record["months_since_start"]),
        start_date=_date(record["start_date"]),
        trigger=text_or_dash(record["trigger"]),
        focus_areas=text_or_dash(record["focus_areas"]),
        in_expected_order=bool(record["in_expected_order"]),
        improved_domains=[d for d in improved if d],
        judgement=text_or_dash(record.get("latest_judgement")),
        judgement_date=_date(record.get("latest_judgement_date")),
    )


def domain_rows(view: ComparisonView, catalogue: Catalogue) -> list[DomainRow]:
    rows = []
    for r in view.table("domains").to_dict("records"):
        domain = catalogue.domains.get(str(r["domain"]))
        if domain is None:
            continue
        share = r["share_improving"]
        rows.append(
            DomainRow(
                domain=domain,
                n_indicators=int(r["n_indicators"]),
                n_with_data=int(r["n_with_data"]),
                n_improving=int(r["n_improving"]),
                n_declining=int(r["n_declining"]),
                share="" if is_missing(share) else f"{float(share):.0%}",
                improved=bool(r["improved"]),
            )
        )
    return sorted(rows, key=lambda row: row.domain.table)


def _la_name(code: str) -> str:
    try:
        return load_reference().la_name(code)
    except UnknownCodeError:
        return code


def peer_rows(shared: SharedProgressView, la_code: str) -> tuple[list[PeerRow], bool]:
    """(LAs at a similar stage, nearest first; True) or, when the LA's own stage is not among
    the shared stages, (every other journey LA by months since the start; False)."""
    stages = shared.stages
    if stages.empty:
        return [], False
    try:
        peers = peers_at_stage(stages, la_code, window_months=PEER_WINDOW_MONTHS)
        near = True
    except ValueError:
        peers = stages.loc[stages["la_code"] != la_code].sort_values(
            ["months_since_start", "la_code"], kind="stable"
        )
        near = False
    domains = shared.domains
    read = (
        domains.groupby(domains["la_code"].astype(str))["n_with_data"].sum().to_dict()
        if not domains.empty
        else {}
    )
    rows = [
        PeerRow(
            name=_la_name(str(r["la_code"])),
            months=int(r["months_since_start"]),
            difference=int(r["months_difference"]) if near else None,
            stage_label=text_or_dash(r["stage_label"]),
            start_date=_date(r["start_date"]),
            n_read=int(read.get(str(r["la_code"]), 0)),
        )
        for r in peers.to_dict("records")
    ]
    return rows, near


def next_rows(
    shared: SharedProgressView, la_code: str, indicator: Indicator, months: int
) -> list[NextRow]:
    """What the LAs further ahead saw on ``indicator`` after ``months`` since their start."""
    if shared.aligned.empty:
        return []
    frame = what_next(
        shared.aligned, la_code, indicator.id, bin_months=BIN_MONTHS, current_months=months
    )
    rows = []
    for r in frame.to_dict("records"):
        median, change = r["median_value"], r["median_change"]
        rows.append(
            NextRow(
                months_from=int(r["offset_from_months"]),
                months_to=int(r["offset_to_months"]),
                n_las=int(r["n_las"]),
                median=Figure(None, WITHHELD)
                if is_missing(median)
                else Figure(value_text(indicator, float(median), statistic=True)),
                n_change=int(r["n_change"]),
                change=Figure(None, WITHHELD)
                if is_missing(change)
                else Figure(
                    number_text(float(change), _slope_decimals(indicator), signed=True)
                    + _slope_unit(indicator)
                ),
            )
        )
    return rows


# ------------------------------------------------------------------------------------ helpers


def _shared(principal: Principal) -> SharedProgressView | None:
    try:
        return shared_progress_for(db.session, principal)
    except PermissionError:
        abort(403)


def _code(organisation: Organisation) -> str:
    return organisation.new_la_code or organisation.code


# -------------------------------------------------------------------------------------- pages


@bp.get("/")
@requires(Permission.LA_VIEW)
def index() -> ResponseReturnValue:
    principal, organisation, view = own_view()
    catalogue = load_catalogue()
    if view is None:
        return render_template("progress/index.html", organisation=organisation, view=None)
    stage = own_stage(view, catalogue)
    context: dict[str, Any] = {
        "organisation": organisation,
        "view": view,
        "banner": banner_of(view),
        "stage": stage,
        "min_points": MIN_TREND_POINTS,
    }
    if stage is None:
        context["sections"] = _by_domain(_trend_rows(view.table("trends"), catalogue), catalogue)
        return render_template("progress/index.html", **context)
    shared = _shared(principal)
    peers, near = peer_rows(shared, _code(organisation)) if shared is not None else ([], False)
    context.update(
        domains=domain_rows(view, catalogue),
        sections=_by_domain(evidence_rows(view, catalogue), catalogue),
        peers=peers,
        peers_near=near,
        window=PEER_WINDOW_MONTHS,
        shared=shared,
    )
    return render_template("progress/index.html", **context)


@bp.get("/<indicator_id>")
@requires(Permission.LA_VIEW)
def indicator(indicator_id: str) -> ResponseReturnValue:
    catalogue = load_catalogue()
    chosen = catalogue.indicators.get(indicator_id)
    if chosen is None:
        abort(404)
    principal, organisation, view = own_view()
    context: dict[str, Any] = {
        "organisation": organisation,
        "indicator": chosen,
        "domain": catalogue.domains[chosen.domain],
        "view": view,
        "min_contributors": MIN_CONTRIBUTORS,
        "min_points": MIN_TREND_POINTS,
    }
    if view is None:
        return render_template("progress/indicator.html", **context)
    trends = _totals(view.table("trends"))
    mine = trends.loc[trends["indicator_id"] == indicator_id] if not trends.empty else trends
    per_la = view.per_la
    values = per_la.loc[
        (per_la["indicator_id"] == indicator_id) & (per_la["breakdown_topic"] == TOTAL)
    ].sort_values("period")
    stage = own_stage(view, catalogue)
    since_start = next(
        (r for r in evidence_rows(view, catalogue) if r.indicator.id == indicator_id), None
    )
    shared = _shared(principal) if stage is not None else None
    context.update(
        banner=banner_of(view),
        trend=trend_row(chosen, mine.iloc[0].to_dict()) if not mine.empty else None,
        values=[
            (str(r["period"]), Figure(None, "no value in your return"))
            if is_missing(r["value"])
            else (str(r["period"]), Figure(value_text(chosen, float(r["value"]))))
            for r in values.to_dict("records")
        ],
        stage=stage,
        since_start=since_start,
        shared=shared,
    )
    rows = (
        next_rows(shared, _code(organisation), chosen, stage.months)
        if stage is not None and shared is not None
        else []
    )
    context.update(
        next_rows=rows,
        withheld=any(r.median.text is None or r.change.text is None for r in rows),
    )
    return render_template("progress/indicator.html", **context)
