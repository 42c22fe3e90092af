"""``exchange journeys`` and ``exchange ofsted``: improvement journeys and Ofsted judgement history.

Everything goes through :mod:`exchange.actions.journeys` as the system actor ``system:cli``
(audited as such, under the same validation as the portal). Nothing here is an indicator value:
journeys are dates and short texts, judgements are grades.

An LA is named by its 3-digit code or its GSS code (a superseded GSS code works too). Dates are
written YYYY-MM-DD.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from . import main
from .submissions import CLI_ACTOR, _fail

ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _principal():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR)


def _authority(session, code: str):  # type: ignore[no-untyped-def]
    from exchange.actions.journeys import JourneyError, authority

    try:
        return authority(session, code)
    except JourneyError as error:
        raise click.BadParameter(str(error), param_hint="LA") from None


def _day(value: datetime) -> date:
    return value.date()


# ------------------------------------------------------------------------------------ journeys


@main.group("journeys")
def journeys_group() -> None:
    """Local authorities' improvement journeys (start date, trigger, focus areas)."""


@journeys_group.command("list")
def list_journeys_command() -> None:
    """List every LA's open journey: codes, name, start date and trigger."""
    from exchange.actions.journeys import open_journeys
    from exchange.extensions import db

    found = open_journeys(db.session, _principal())
    if not found:
        click.echo("no improvement journeys recorded: add one with exchange journeys record")
        return
    for journey in found:
        org = journey.organisation
        click.echo(
            f"{org.code}\t{org.new_la_code or '-'}\t{org.name}\t"
            f"{journey.start_date.isoformat()}\t{journey.trigger}"
        )


@journeys_group.command("record")
@click.argument("la", metavar="LA")
@click.option("--start", type=ISO_DATE, required=True, help="Start date, YYYY-MM-DD.")
@click.option("--trigger", required=True, help='What triggered it, e.g. "Ofsted inadequate".')
@click.option("--focus", required=True, help="Its focus areas (free text).")
def record_journey_command(la: str, start: datetime, trigger: str, focus: str) -> None:
    """Record LA's improvement journey; its open journey ends on the new start date."""
    from exchange.actions.journeys import JourneyError, record_journey
    from exchange.extensions import db

    org = _authority(db.session, la)
    try:
        journey = record_journey(
            db.session,
            _principal(),
            org.id,
            start_date=_day(start),
            trigger=trigger,
            focus_areas=focus,
        )
    except JourneyError as error:
        _fail(str(error))
    click.echo(
        f"{org.name}: improvement journey from {journey.start_date.isoformat()} recorded "
        f"({journey.trigger})"
    )


@journeys_group.command("end")
@click.argument("la", metavar="LA")
@click.option("--on", "ended_on", type=ISO_DATE, required=True, help="End date, YYYY-MM-DD.")
def end_journey_command(la: str, ended_on: datetime) -> None:
    """End LA's open improvement journey."""
    from exchange.actions.journeys import JourneyError, end_journey
    from exchange.extensions import db

    org = _authority(db.session, la)
    try:
        journey = end_journey(db.session, _principal(), org.id, ended_on=_day(ended_on))
    except JourneyError as error:
        _fail(str(error))
    click.echo(
        f"{org.name}: improvement journey from {journey.start_date.isoformat()} ended on "
        f"{journey.ended_on.isoformat() if journey.ended_on else '-'}"
    )


# -------------------------------------------------------------------------------------- Ofsted


@main.group("ofsted")
def ofsted_group() -> None:
    """Ofsted judgement history of local authorities' children's services."""


@ofsted_group.command("list")
@click.argument("la", metavar="[LA]", required=False)
def list_ofsted_command(la: str | None) -> None:
    """List recorded judgements (every LA's, or LA's): codes, name, date, judgement."""
    from exchange.actions.journeys import ofsted_judgements
    from exchange.extensions import db

    org_id = _authority(db.session, la).id if la else None
    found = ofsted_judgements(db.session, _principal(), org_id)
    if not found:
        click.echo("no Ofsted judgements recorded: add them with exchange ofsted record or load")
        return
    for judgement in found:
        org = judgement.organisation
        click.echo(
            f"{org.code}\t{org.new_la_code or '-'}\t{org.name}\t"
            f"{judgement.inspection_date.isoformat()}\t{judgement.judgement}"
        )


@ofsted_group.command("record")
@click.argument("la", metavar="LA")
@click.option("--date", "when", type=ISO_DATE, required=True, help="Inspection date.")
@click.option(
    "--judgement",
    required=True,
    help='Outstanding, Good, "Requires improvement to be good" or Inadequate.',
)
def record_ofsted_command(la: str, when: datetime, judgement: str) -> None:
    """Record LA's Ofsted judgement of an inspection date (replacing that date's)."""
    from exchange.actions.journeys import JourneyError, record_ofsted_judgement
    from exchange.extensions import db

    org = _authority(db.session, la)
    try:
        recorded = record_ofsted_judgement(
            db.session, _principal(), org.id, inspection_date=_day(when), judgement=judgement
        )
    except JourneyError as error:
        _fail(str(error))
    click.echo(
        f"{org.name}: {recorded.judgement} on {recorded.inspection_date.isoformat()} recorded"
    )


@ofsted_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_ofsted_command(file: Path) -> None:
    """Load an Ofsted history CSV (new_la_code or old_la_code, inspection_date, judgement).

    Every row is checked first: on any problem nothing is loaded, every problem is listed
    (row, column, value, rule) and the command exits 1.
    """
    from exchange.actions.journeys import JourneyError, OfstedFileError, load_ofsted_judgements
    from exchange.extensions import db

    try:
        counts = load_ofsted_judgements(db.session, _principal(), file.read_bytes(), file.name)
    except OfstedFileError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(str(error))
    except JourneyError as error:
        _fail(str(error))
    click.echo(
        f"{file.name}: {counts['rows']} judgements for {counts['authorities']} local "
        f"authorities: {counts['added']} added, {counts['replaced']} replaced, "
        f"{counts['unchanged']} unchanged"
    )
