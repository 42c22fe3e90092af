"""An LA's comparisons: its indicators against its statistical neighbours, region and England.

Every page is for the signed-in user's own LA (``requires(LA_VIEW)`` for the app-wide guard,
and :func:`exchange.actions.comparisons.comparisons_for` checks again). The figures are the
LA's rows of the current comparison set (:mod:`exchange.actions.comparisons`): its own raw
values, and statistics computed from the other LAs' released (protected) values only; a page
says which set and which release of each period they rest on.

* ``/comparisons/``: for one period (``?period=``, the latest by default) and optionally one
  domain (``?domain=``), a table per domain of the LA's Total rows (value, national rank,
  quartile band, statistical-neighbour mean and median, England, judgements, change) and the
  outcome-level triangulation (seed 4.5.1).
* ``/comparisons/<indicator_id>``: one indicator over every period, its breakdowns (seed 4.5.5)
  and the statistics of each comparison group.
* ``/comparisons/similar``: the LA's "similar challenges" sets (seed 4.5.6): for each set, its
  context variables with their weights, the LA's values and z-scores against the members', and
  the members that have figures in the exchange.

The overview also shows the LA's latest context figures (published statistics, seed
4.5.3-4.5.4) beside the comparisons.

The pages hold the LA's own figures: ``no-store``, and nothing about them is logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from exchange.actions.comparisons import ComparisonView, comparisons_for
from exchange.actions.context import context_for
from exchange.actions.releases import releases_by_id
from exchange.extensions import db
from exchange.models.organisation import Organisation
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, requires
from privacy.groups import MIN_CONTRIBUTORS
from schemas.catalogue import Catalogue, Indicator, Polarity, load_catalogue
from schemas.context import CONTEXT_VARIABLES
from schemas.reference import UnknownCodeError, load_reference
from workers.analytics.similar import DEFAULT_K, DEFAULT_SETS

bp = Blueprint("comparisons", __name__, url_prefix="/comparisons")

TOTAL = "Total"
MISSING = "–"
JUDGEMENT_TAGS = {
    "better": ("Better", "govuk-tag--green"),
    "worse": ("Worse", "govuk-tag--red"),
    "similar": ("Similar", "govuk-tag--grey"),
}
DIRECTION_LABELS = {
    "improved": "Improved",
    "declined": "Declined",
    "no change": "No change",
    "up": "Up (not judged)",
    "down": "Down (not judged)",
}
GROUP_ORDER = ("neighbours", "region", "alliance", "england")
FEWER = f"fewer than {MIN_CONTRIBUTORS} other local authorities have a published value"


@bp.after_request
def _no_store(response: Response) -> Response:
    # The LA's own raw figures: keep them out of shared caches and the browser's disk.
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------ what is shown


@dataclass(frozen=True)
class Figure:
    """One cell: its text, or (``text`` None) a dash with the reason for screen readers."""

    text: str | None
    why: str = ""
    note: str = ""  # a second, smaller line (e.g. the median beside a mean)


@dataclass(frozen=True)
class Row:
    """One row of the LA's comparisons, ready to show."""

    indicator: Indicator
    period: str
    breakdown_topic: str
    breakdown: str
    value: Figure
    rank: Figure
    band: Figure
    neighbours: Figure
    england: Figure
    vs_neighbours: str
    vs_england: str
    change: Figure
    direction: str


@dataclass(frozen=True)
class GroupRow:
    label: str
    n: int
    allowed: bool
    mean: Figure
    median: Figure
    minimum: Figure
    maximum: Figure


@dataclass(frozen=True)
class OutcomeRow:
    domain: str
    number: int
    name: str
    n_indicators: int
    n_better: int
    n_similar: int
    n_worse: int
    n_not_judged: int
    n_no_data: int
    reading: str


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA: a scalar the frame does not have."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def text_or_dash(value: Any) -> str:
    """A label column's value ("" where it is missing: None, or NaN in a string column)."""
    return "" if is_missing(value) else str(value)


def number_text(value: float, decimals: int, *, signed: bool = False) -> str:
    text = f"{value:{'+' if signed else ''},.{decimals}f}"
    return text.replace("-", "\u2212")  # a true minus sign


def value_text(indicator: Indicator, value: float, *, statistic: bool = False) -> str:
    """A value as the catalogue says it is written: its unit and decimal places. A yes/no
    indicator's value is Yes or No; a group's mean of one is the share answering yes."""
    if indicator.unit == "yes/no":
        if statistic and value not in (0.0, 1.0):
            return f"{number_text(100 * value, 0)}% yes"
        return "Yes" if value >= 0.5 else "No"
    number = number_text(value, indicator.decimals)
    if indicator.unit == "%":
        return f"{number}%"
    return f"{number} {indicator.unit}"


def make_figure(indicator: Indicator, value: Any, why: str, **kw: Any) -> Figure:
    if is_missing(value):
        return Figure(None, why)
    return Figure(value_text(indicator, float(value), **kw))


def indicator_row(indicator: Indicator, record: Mapping[str, Any]) -> Row:
    context = indicator.polarity is Polarity.CONTEXT_DEPENDENT
    if context:
        rank = Figure(None, "not ranked: which way is better depends on context")
        band = Figure(None, "no quartile band: which way is better depends on context")
    else:
        ranked = not is_missing(record["rank"])
        rank = (
            Figure(f"{int(record['rank'])} of {int(record['n_ranked'])}")
            if ranked
            else Figure(None, "not ranked: no value")
        )
        band = (
            Figure(text_or_dash(record["band"]))
            if text_or_dash(record["band"])
            else Figure(None, f"no quartile band: {FEWER}" if ranked else "no value to band")
        )
    n = int(record["neighbours_n"])
    contributors = f"{n} local authorit{'y' if n == 1 else 'ies'}"
    if is_missing(record["neighbours_mean"]):
        why = "no statistical neighbour has a published value" if n == 0 else FEWER
        neighbours = Figure(None, f"not shown: {why}", note=contributors if n else "")
    else:
        median = make_figure(indicator, record["neighbours_median"], "", statistic=True)
        neighbours = Figure(
            value_text(indicator, float(record["neighbours_mean"]), statistic=True),
            note=f"Median {median.text or MISSING}, {contributors}",
        )
    if is_missing(record["change"]):
        change = Figure(None, "no change: no value for the previous year")
    elif indicator.unit == "yes/no":
        before = value_text(indicator, float(record["previous_value"]))
        after = value_text(indicator, float(record["value"]))
        change = Figure(f"{before} to {after}" if before != after else "Unchanged")
    else:
        change = Figure(number_text(float(record["change"]), indicator.decimals, signed=True))
    return Row(
        indicator=indicator,
        period=str(record["period"]),
        breakdown_topic=str(record["breakdown_topic"]),
        breakdown=str(record["breakdown"]),
        value=make_figure(indicator, record["value"], "no value in your return"),
        rank=rank,
        band=band,
        neighbours=neighbours,
        england=make_figure(indicator, record["england"], "not published for England"),
        vs_neighbours=text_or_dash(record["vs_neighbours"]),
        vs_england=text_or_dash(record["vs_england"]),
        change=change,
        direction=""
        if change.text == "Unchanged"
        else DIRECTION_LABELS.get(text_or_dash(record["direction"]), ""),
    )


def _rows(frame: pd.DataFrame, catalogue: Catalogue) -> list[Row]:
    """Rows of indicators the catalogue knows, in the frame's order."""
    return [
        indicator_row(catalogue.indicators[str(record["indicator_id"])], record)
        for record in frame.to_dict("records")
        if str(record["indicator_id"]) in catalogue.indicators
    ]


def _periods(view: ComparisonView) -> list[str]:
    """The periods of the LA's comparisons, newest first."""
    return sorted({str(p) for p in view.per_la["period"].unique()}, reverse=True)


def _chosen_period(periods: list[str]) -> str:
    period = request.args.get("period", "") or (periods[0] if periods else "")
    if periods and period not in periods:
        abort(404)
    return period


def _group_labels(organisation: Organisation, group_ids: Iterable[str]) -> dict[str, str]:
    """Names of the comparison groups: the neighbour list's edition, the region (or London
    sub-region), the alliances' names and the custom sets' names."""
    from exchange.actions.custom_sets import group_labels as custom_labels

    ids = sorted(set(group_ids))
    custom = custom_labels(db.session, ids)
    alliance_codes = [g.split(":", 1)[1] for g in ids if g.startswith("alliance:")]
    names: dict[str, str] = {}
    if alliance_codes:
        names = dict(
            db.session.execute(
                select(Organisation.code, Organisation.name).where(
                    Organisation.code.in_(alliance_codes)
                )
            ).all()
        )
    try:
        reference = load_reference()
        region = (
            reference.london_subregion(organisation.code)
            or (reference.region_of(organisation.code)[1])
        )
    except UnknownCodeError:
        region = "Region"
    labels = {}
    for group_id in ids:
        kind, _, rest = group_id.partition(":")
        if kind == "neighbours":
            edition = rest.split(":", 1)[0]
            labels[group_id] = f"Statistical neighbours ({edition} list)"
        elif kind == "region":
            labels[group_id] = region
        elif kind == "alliance":
            labels[group_id] = names.get(rest, rest)
        elif kind == "england":
            labels[group_id] = "England"
        elif group_id in custom:
            labels[group_id] = custom[group_id]
        else:
            labels[group_id] = f"{kind.replace('_', ' ').capitalize()}: {rest}"
    return labels


def _group_rows(
    frame: pd.DataFrame, indicator: Indicator, labels: Mapping[str, str]
) -> list[GroupRow]:
    def order(record: Mapping[str, Any]) -> tuple[int, str]:
        kind = str(record["group_type"])
        rank = GROUP_ORDER.index(kind) if kind in GROUP_ORDER else len(GROUP_ORDER)
        return rank, labels[str(record["group_id"])]

    rows = []
    for record in sorted(frame.to_dict("records"), key=order):
        allowed = bool(record["allowed"])
        why = f"not shown: {FEWER}"
        rows.append(
            GroupRow(
                label=labels[str(record["group_id"])],
                n=int(record["n"]),
                allowed=allowed,
                **{
                    name: make_figure(indicator, record[column], why, statistic=True)
                    for name, column in (
                        ("mean", "mean"),
                        ("median", "median"),
                        ("minimum", "min"),
                        ("maximum", "max"),
                    )
                },
            )
        )
    return rows


def outcome_rows(frame: pd.DataFrame, catalogue: Catalogue) -> list[OutcomeRow]:
    rows = []
    for record in frame.to_dict("records"):
        domain, number = str(record["domain"]), int(record["outcome"])
        try:
            name = catalogue.outcome(domain, number).name
        except KeyError:
            name = ""
        rows.append(
            OutcomeRow(
                domain=domain,
                number=number,
                name=name,
                **{
                    c: int(record[c])
                    for c in (
                        "n_indicators",
                        "n_better",
                        "n_similar",
                        "n_worse",
                        "n_not_judged",
                        "n_no_data",
                    )
                },
                reading=text_or_dash(record["reading"]),
            )
        )
    table = {d.id: d.table for d in catalogue.domains.values()}
    return sorted(rows, key=lambda r: (table.get(r.domain, 99), r.number))


# ------------------------------------------------------------------------------------ helpers


def own_view() -> tuple[Principal, Organisation, ComparisonView | None]:
    """The signed-in user's LA and its current comparisons (None when none are computed yet).
    Anyone but the LA's own staff is refused (403), as the action decides."""
    principal = current_principal()
    if principal is None or principal.organisation_id is None:
        abort(403)
    organisation = db.session.get(Organisation, principal.organisation_id)
    if organisation is None or not organisation.is_la:
        abort(403)
    try:
        view = comparisons_for(db.session, principal, organisation.id)
    except PermissionError:
        abort(403)
    return principal, organisation, view


def banner_of(view: ComparisonView) -> dict[str, Any]:
    """What the figures rest on: the set, each period's release (by its channel and number, as
    the releases are known: "national release 2") and when it was computed."""
    chosen = view.comparison_set
    ids = {str(p): int(r) for p, r in dict(chosen.releases or {}).items()}
    found = releases_by_id(db.session, ids.values())

    def label(release_id: int) -> str:
        release = found.get(release_id)
        if release is None:
            return f"a release no longer recorded (id {release_id})"
        return f"{release.channel} release {release.number}"

    return {
        "set_id": chosen.id,
        "created_at": chosen.created_at,
        "releases": sorted(((p, label(r)) for p, r in ids.items()), reverse=True),
    }


def context_value(name: str, value: float) -> tuple[str, str]:
    """(value, unit) of a context figure as its variable is written: "£1,299", "per child aged
    0 to 17"; "7.4", "per 10,000 children"."""
    spec = CONTEXT_VARIABLES.get(name)
    if spec is None:
        return number_text(value, 2), ""
    text = number_text(value, spec.decimals)
    if spec.unit.startswith("£"):
        return f"£{text}", spec.unit.removeprefix("£").strip()
    return text, spec.unit


@dataclass(frozen=True)
class ContextFigure:
    label: str
    value: str
    unit: str
    period: str


def _context_summary(organisation: Organisation) -> tuple[str | None, list[ContextFigure]]:
    """(the LA's code for the context page, its latest figure of each context variable)."""
    code = organisation.new_la_code or organisation.code
    try:
        frame = context_for(db.session, code)
    except UnknownCodeError:
        return None, []
    figures = []
    for name, spec in CONTEXT_VARIABLES.items():
        known = frame.loc[(frame["variable"] == name) & frame["value"].notna()]
        if known.empty:
            continue
        latest = known.loc[known["period"].astype(str).map(int).idxmax()]
        value, unit = context_value(name, float(latest["value"]))
        figures.append(ContextFigure(spec.label, value, unit, str(latest["period"])))
    return code, figures


# -------------------------------------------------------------------------------------- pages


@bp.get("/")
@requires(Permission.LA_VIEW)
def index() -> ResponseReturnValue:
    _, organisation, view = own_view()
    catalogue = load_catalogue()
    domains = sorted(catalogue.domains.values(), key=lambda d: d.table)
    selected = request.args.get("domain", "")
    if selected and selected not in catalogue.domains:
        abort(404)
    context_code, context_figures = _context_summary(organisation)
    if view is None:
        return render_template(
            "comparisons/index.html",
            organisation=organisation,
            view=None,
            domains=domains,
            context_code=context_code,
            context_figures=context_figures,
        )
    periods = _periods(view)
    period = _chosen_period(periods)
    per_la = view.per_la
    totals = per_la.loc[
        (per_la["period"].astype(str) == period) & (per_la["breakdown_topic"] == TOTAL)
    ]
    by_indicator = {str(r["indicator_id"]): r for r in totals.to_dict("records")}
    sections = []
    for domain in domains:
        if selected and domain.id != selected:
            continue
        members = catalogue.by_domain(domain.id)
        rows = [indicator_row(i, by_indicator[i.id]) for i in members if i.id in by_indicator]
        sections.append((domain, rows, len(members)))
    outcomes = view.outcomes.loc[view.outcomes["period"].astype(str) == period]
    if selected:
        outcomes = outcomes.loc[outcomes["domain"] == selected]
    return render_template(
        "comparisons/index.html",
        organisation=organisation,
        view=view,
        domains=domains,
        selected=selected,
        periods=periods,
        period=period,
        sections=sections,
        shown=sum(len(rows) for _, rows, _ in sections),
        domain_names={d.id: d.name for d in domains},
        outcomes=outcome_rows(outcomes, catalogue),
        banner=banner_of(view),
        judgement_tags=JUDGEMENT_TAGS,
        context_code=context_code,
        context_figures=context_figures,
    )


@bp.get("/<indicator_id>")
@requires(Permission.LA_VIEW)
def indicator(indicator_id: str) -> ResponseReturnValue:
    catalogue = load_catalogue()
    chosen = catalogue.indicators.get(indicator_id)
    if chosen is None:
        abort(404)
    _, organisation, view = own_view()
    context = {
        "organisation": organisation,
        "indicator": chosen,
        "domain": catalogue.domains[chosen.domain],
        "outcome": catalogue.outcome(chosen.domain, chosen.outcome),
        "view": view,
        "judgement_tags": JUDGEMENT_TAGS,
        "period": None,
    }
    if view is None:
        return render_template("comparisons/indicator.html", **context)
    per_la = view.per_la.loc[view.per_la["indicator_id"] == indicator_id]
    periods = sorted({str(p) for p in per_la["period"].unique()}, reverse=True)
    period = _chosen_period(periods)
    totals = per_la.loc[per_la["breakdown_topic"] == TOTAL].sort_values("period")
    breakdowns = per_la.loc[
        (per_la["period"].astype(str) == period) & (per_la["breakdown_topic"] != TOTAL)
    ]
    by_topic: dict[str, list[Row]] = {}
    for row in _rows(breakdowns, catalogue):
        by_topic.setdefault(row.breakdown_topic, []).append(row)
    topics = [
        (catalogue.breakdowns[t].label if t in catalogue.breakdowns else t, by_topic[t])
        for t in [*chosen.breakdowns, *sorted(set(by_topic) - set(chosen.breakdowns))]
        if t in by_topic
    ]
    per_group = view.per_group
    groups = per_group.loc[
        (per_group["indicator_id"] == indicator_id) & (per_group["period"].astype(str) == period)
    ]
    labels = _group_labels(organisation, (str(g) for g in groups["group_id"]))
    total_groups = _group_rows(groups.loc[groups["breakdown_topic"] == TOTAL], chosen, labels)
    # Per breakdown topic: (category, group row) pairs, categories in the LA's row order.
    breakdown_groups: list[tuple[str, list[tuple[str, GroupRow]]]] = []
    for topic_label, rows in topics:
        topic = groups.loc[groups["breakdown_topic"] == rows[0].breakdown_topic]
        pairs = [
            (row.breakdown, group)
            for row in rows
            for group in _group_rows(topic.loc[topic["breakdown"] == row.breakdown], chosen, labels)
        ]
        if pairs:
            breakdown_groups.append((topic_label, pairs))
    context.update(
        periods=periods,
        period=period,
        trajectory=_rows(totals, catalogue),
        topics=topics,
        total_groups=total_groups,
        breakdown_groups=breakdown_groups,
        banner=banner_of(view),
    )
    return render_template("comparisons/indicator.html", **context)


# ------------------------------------------------------------------------- similar challenges


@dataclass(frozen=True)
class SimilarVariable:
    label: str
    unit: str
    scale: str  # "linear" or "log"
    weight: str
    share: str
    used: bool
    value: Figure
    z: Figure
    members_z: Figure


@dataclass(frozen=True)
class SimilarMember:
    name: str
    rank: int
    distance: str


@dataclass(frozen=True)
class SimilarSet:
    name: str
    label: str
    rationale: str
    period: str  # the year of the context figures ("" when the set was not built)
    wanted: list[str]  # labels of the set's variables
    variables: list[SimilarVariable]
    members: list[SimilarMember]


def _z(value: Any, why: str) -> Figure:
    return (
        Figure(None, why)
        if is_missing(value)
        else Figure(number_text(float(value), 2, signed=True))
    )


def _similar_sets(view: ComparisonView) -> list[SimilarSet]:
    """Each default "similar challenges" set of the LA, explained (empty lists where the set
    could not be built from the context loaded)."""
    explanation = view.table("similar_explanation")
    members = view.table("similar_members")
    reference = load_reference()

    def name_of(code: str) -> str:
        try:
            return reference.la_name(code)
        except UnknownCodeError:
            return code

    sets = []
    for weights in DEFAULT_SETS:
        rows = (
            explanation.loc[explanation["set_name"] == weights.name].to_dict("records")
            if not explanation.empty
            else []
        )
        variables = []
        for r in rows:
            variable = str(r["variable"])
            spec = CONTEXT_VARIABLES.get(variable)
            unit = spec.unit if spec else ""
            value = Figure(None, "no figure for your local authority")
            if not is_missing(r["owner_value"]):
                text, unit = context_value(variable, float(r["owner_value"]))
                value = Figure(text)
            variables.append(
                SimilarVariable(
                    label=spec.label if spec else variable,
                    unit=unit,
                    scale=str(r["scale"]),
                    weight=f"{float(r['weight']):g}",
                    share=f"{float(r['weight_share']):.0%}",
                    used=bool(r["used"]),
                    value=value,
                    z=_z(r["owner_z"], "no z-score: no usable figure"),
                    members_z=_z(r["members_mean_z"], "no member has a figure"),
                )
            )
        chosen = (
            members.loc[members["set_name"] == weights.name].sort_values("rank")
            if not members.empty
            else members
        )
        sets.append(
            SimilarSet(
                name=weights.name,
                label=weights.label,
                rationale=weights.rationale,
                period=str(rows[0]["period"]) if rows else "",
                wanted=[
                    CONTEXT_VARIABLES[v].label if v in CONTEXT_VARIABLES else v
                    for v in weights.weights
                ],
                variables=variables,
                members=[
                    SimilarMember(
                        name_of(str(r["la_code"])), int(r["rank"]), f"{r['distance']:.2f}"
                    )
                    for r in chosen.to_dict("records")
                ],
            )
        )
    return sets


@bp.get("/similar")
@requires(Permission.LA_VIEW)
def similar() -> ResponseReturnValue:
    _, organisation, view = own_view()
    if view is None:
        return render_template("comparisons/similar.html", organisation=organisation, view=None)
    sets = _similar_sets(view)
    return render_template(
        "comparisons/similar.html",
        organisation=organisation,
        view=view,
        banner=banner_of(view),
        sets=sets,
        any_built=any(s.variables for s in sets),
        k=DEFAULT_K,
        context_code=organisation.new_la_code or organisation.code,
    )
