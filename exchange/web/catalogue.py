"""The landing page and the indicator catalogue (read-only, public)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from exchange.security.policy import Permission, requires
from schemas.catalogue import Indicator, Polarity, load_catalogue

bp = Blueprint("catalogue", __name__)

POLARITY_LABELS = {
    Polarity.HIGHER_IS_BETTER: "Higher is better",
    Polarity.LOWER_IS_BETTER: "Lower is better",
    Polarity.CONTEXT_DEPENDENT: "Depends on context",
}
SOURCE_TYPE_LABELS = {
    "organisation_workforce": "Organisation and workforce",
    "snapshot": "Snapshot",
    "users_views": "Users' views",
    "longitudinal": "Longitudinal",
}
REFERENCE_PERIOD_LABELS = {
    "past_year": "The past year",
    "previous_6_months": "The previous 6 months",
    "change_vs_previous_6_months": "Change against the previous 6 months",
    "point_in_time": "A point in time",
}


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {
        "polarity_label": lambda p: POLARITY_LABELS[Polarity(p)],
        "source_type_label": lambda s: SOURCE_TYPE_LABELS.get(str(s), str(s)),
        "reference_period_label": lambda r: REFERENCE_PERIOD_LABELS.get(str(r), str(r)),
    }


@bp.get("/")
@requires(Permission.PUBLIC)
def index() -> str:
    catalogue = load_catalogue()
    return render_template(
        "index.html",
        catalogue=catalogue,
        indicator_count=len(catalogue.indicators),
        new_count=sum(1 for i in catalogue.indicators.values() if i.is_new),
    )


def _outcome_groups(domain_id: str) -> list[tuple[object, list[Indicator]]]:
    """The domain's outcomes in order, each with its indicators in catalogue order."""
    catalogue = load_catalogue()
    indicators = catalogue.by_domain(domain_id)
    groups = []
    for outcome in catalogue.outcomes:
        if outcome.domain != domain_id:
            continue
        members = [i for i in indicators if i.outcome == outcome.number]
        if members:
            groups.append((outcome, members))
    return groups


@bp.get("/catalogue")
@requires(Permission.PUBLIC)
def catalogue_list() -> str:
    catalogue = load_catalogue()
    selected = request.args.get("domain", "")
    if selected and selected not in catalogue.domains:
        abort(404)
    domains = [d for d in catalogue.domains.values() if not selected or d.id == selected]
    sections = [(d, _outcome_groups(d.id)) for d in sorted(domains, key=lambda d: d.table)]
    shown = sum(len(members) for _, groups in sections for _, members in groups)
    return render_template(
        "catalogue/list.html",
        catalogue=catalogue,
        sections=sections,
        selected=selected,
        shown=shown,
    )


@bp.get("/catalogue/<indicator_id>")
@requires(Permission.PUBLIC)
def indicator_detail(indicator_id: str) -> str:
    catalogue = load_catalogue()
    indicator = catalogue.indicators.get(indicator_id)
    if indicator is None:
        abort(404)
    related = [catalogue.indicators[i] for i in catalogue.triangulation_group(indicator_id)]
    return render_template(
        "catalogue/detail.html",
        catalogue=catalogue,
        indicator=indicator,
        domain=catalogue.domains[indicator.domain],
        outcome=catalogue.outcome(indicator.domain, indicator.outcome),
        measure=catalogue.measure_types[indicator.measure_type],
        related=related,
    )
