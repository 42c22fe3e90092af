"""``exchange upload`` and ``exchange submissions``: an LA's submissions from the command line.

The same path as the portal (``exchange.actions.submissions``), audited as the system actor
``system:cli``. Nothing here prints a cell value except the validation report of a rejected
file, which is for the person who ran the command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from . import main

CLI_ACTOR = "system:cli"


def _organisation(session, code: str):  # type: ignore[no-untyped-def]
    """The LA organisation with this old (3-digit) code or GSS code."""
    from sqlalchemy import or_, select

    from exchange.models import Organisation, OrganisationKind

    organisation = session.scalars(
        select(Organisation).where(
            Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
            or_(Organisation.code == code, Organisation.new_la_code == code),
        )
    ).first()
    if organisation is None:
        raise click.BadParameter(
            f"{code!r} is not a local authority in the exchange (run exchange init first?)",
            param_hint="--authority",
        )
    return organisation


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@main.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", "code", required=True, metavar="CODE", help="The LA's code.")
@click.option(
    "--accept/--no-accept",
    default=True,
    show_default=True,
    help="Accept a valid file as the period's next version, or leave it pending.",
)
def upload_command(file: Path, code: str, accept: bool) -> None:
    """Check FILE as the LA's submission and (by default) accept it.

    Exits 1 with the validation report when the file is rejected.
    """
    from exchange.actions.submissions import SubmissionError, accept_upload, check_upload
    from exchange.extensions import db
    from exchange.security.principals import system_principal

    actor = system_principal(CLI_ACTOR)
    data = file.read_bytes()
    with db.transaction() as session:
        organisation = _organisation(session, code)
        report, pending = check_upload(session, data, file.name, organisation, actor)
    if pending is None:
        click.echo(report.to_text(limit=200), nl=False)
        sys.exit(1)
    click.echo(
        f"{file.name}: VALID - {pending.row_count} rows for {organisation.name} "
        f"({pending.period_label})"
    )
    if not accept:
        click.echo(f"pending upload {pending.id}: accept it with exchange submissions accept")
        return
    try:
        with db.transaction() as session:
            version = accept_upload(session, pending.id, actor)
    except SubmissionError as exc:
        _fail(str(exc))
    click.echo(f"accepted as version {version.number} (version id {version.id})")
    _refresh(pending.time_period)


def _refresh(time_period: str) -> None:
    """Queue the refresh of the period's release and comparisons (a background job)."""
    from exchange.actions.refresh import request_refresh
    from exchange.extensions import db

    job = request_refresh(db.session, time_period)
    if job is not None:
        click.echo(f"refresh of {time_period} queued as job {job.id} ({job.status})")


@main.group("submissions")
def submissions_group() -> None:
    """LAs' submissions: list, accept, withdraw."""


@submissions_group.command("list")
@click.option("--authority", "code", required=True, metavar="CODE", help="The LA's code.")
def list_command(code: str) -> None:
    """Every submission of the LA with its versions, and uploads awaiting a decision."""
    from exchange.actions.submissions import history, pending_uploads
    from exchange.extensions import db

    session = db.session
    organisation = _organisation(session, code)
    submissions = history(session, organisation.id)
    click.echo(f"{organisation.name} ({organisation.code})")
    if not submissions:
        click.echo("  no submissions")
    for submission in submissions:
        click.echo(f"  {submission.period_label}")
        for v in submission.versions:
            line = (
                f"    v{v.number} [{v.status}] id {v.id}: {v.filename}, {v.row_count} rows, "
                f"accepted {v.accepted_at:%Y-%m-%d %H:%M} by {v.accepted_by_label}"
            )
            if v.withdrawn_at is not None:
                line += f"; withdrawn {v.withdrawn_at:%Y-%m-%d %H:%M} by {v.withdrawn_by_label}"
            click.echo(line)
    for pending in pending_uploads(session, organisation.id):
        click.echo(
            f"  pending upload {pending.id}: {pending.filename} ({pending.period_label}, "
            f"{pending.row_count} rows) by {pending.uploaded_by_label}"
        )


@submissions_group.command("accept")
@click.argument("pending_id")
def accept_command(pending_id: str) -> None:
    """Accept the pending upload PENDING_ID as its period's next version."""
    from exchange.actions.submissions import SubmissionError, accept_upload
    from exchange.extensions import db
    from exchange.security.principals import system_principal

    try:
        with db.transaction() as session:
            version = accept_upload(session, pending_id, system_principal(CLI_ACTOR))
    except SubmissionError as exc:
        _fail(str(exc))
    click.echo(f"accepted as version {version.number} (version id {version.id})")
    _refresh(version.submission.time_period)


@submissions_group.command("withdraw")
@click.argument("version_id", type=int)
@click.option("--reason", required=True, help="Why the version is withdrawn (kept on record).")
def withdraw_command(version_id: int, reason: str) -> None:
    """Withdraw submission version VERSION_ID (it stays on record as withdrawn)."""
    from exchange.actions.submissions import SubmissionError, withdraw_version
    from exchange.extensions import db
    from exchange.security.principals import system_principal

    try:
        with db.transaction() as session:
            version = withdraw_version(session, version_id, system_principal(CLI_ACTOR), reason)
    except SubmissionError as exc:
        _fail(str(exc))
    click.echo(f"version {version.number} (id {version.id}) withdrawn")
