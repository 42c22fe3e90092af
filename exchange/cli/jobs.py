"""``exchange jobs``: the background jobs, for the administrator on the machine.

Read through ``exchange.actions.jobs`` as the system actor ``system:cli``, which sees every
job. Jobs hold ids, periods, counts and reasons only, so nothing printed here is a cell value.
"""

from __future__ import annotations

import json

import click

from . import main
from .submissions import CLI_ACTOR, _fail

STATUSES = ("queued", "running", "done", "failed")


@main.group("jobs")
def jobs_group() -> None:
    """Background jobs run by the Celery workers: their status, attempts and reasons."""


def _principal():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR)


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


@jobs_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--kind", default=None, help="Only jobs of this kind (e.g. ping).")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="How many."
)
def list_command(status: str | None, kind: str | None, limit: int) -> None:
    """List the newest jobs: id, kind, status, organisation, attempts, created, reason."""
    from exchange.actions.jobs import jobs
    from exchange.extensions import db

    found = jobs(db.session, _principal(), status=status, kind=kind, limit=limit)
    if not found:
        click.echo("no jobs")
        return
    for job in found:
        organisation = job.organisation.code if job.organisation is not None else "system"
        click.echo(
            f"{job.id}\t{job.kind}\t{job.status.value}\t{organisation}\t"
            f"attempts {job.attempts}\t{_when(job.created_at)}\t{job.reason or ''}".rstrip()
        )


@jobs_group.command("show")
@click.argument("job_id", metavar="ID")
def show_command(job_id: str) -> None:
    """Show job ID (from `exchange jobs list`): status, times, attempts, params and result."""
    from exchange.actions.jobs import job
    from exchange.extensions import db

    found = job(db.session, _principal(), job_id)
    if found is None:
        _fail(f"no job has id {job_id!r}")
    organisation = found.organisation
    lines = {
        "id": found.id,
        "kind": found.kind,
        "status": found.status.value,
        "reason": found.reason or "-",
        "organisation": f"{organisation.code} ({organisation.name})" if organisation else "system",
        "requested by": "-" if found.requested_by is None else f"user {found.requested_by}",
        "attempts": str(found.attempts),
        "created": _when(found.created_at),
        "started": _when(found.started_at),
        "finished": _when(found.finished_at),
        "dedupe key": found.dedupe_key or "-",
        "params": json.dumps(found.params, sort_keys=True),
        "result": "-" if found.result is None else json.dumps(found.result, sort_keys=True),
    }
    width = max(map(len, lines))
    for key, value in lines.items():
        click.echo(f"{key + ':':<{width + 1}} {value}")
