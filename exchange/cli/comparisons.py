"""``exchange comparisons``: recompute every LA's comparisons.

It goes through ``exchange.actions.comparisons`` as the system actor and prints counts only:
what an LA sees of its comparisons is shown to that LA's own staff in the portal, never by the
CLI (the system actor sees no LA's values).
"""

from __future__ import annotations

import click

from . import main
from .submissions import CLI_ACTOR


@main.group("comparisons")
def comparisons_group() -> None:
    """Neighbour, region and England comparisons of every LA."""


def _principal():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR)


@comparisons_group.command("recompute")
@click.option(
    "--full",
    is_flag=True,
    help="Recompute every LA and year, not only what changed since the current set.",
)
def recompute_command(full: bool) -> None:
    """Bring every LA's comparisons up to date with current submissions and releases."""
    from exchange.actions.comparisons import current_set, recompute_comparisons
    from exchange.extensions import db

    before = current_set(db.session)
    new = recompute_comparisons(db.session, _principal(), full=full)
    if new is None:
        click.echo("no submissions yet: nothing to compare")
        return
    if before is not None and new.id == before.id:
        click.echo(f"comparison set {new.id} is up to date: nothing changed since it was made")
        return
    summary = new.summary
    releases = ", ".join(f"{p}: {r}" for p, r in sorted(new.releases.items())) or "none"
    click.echo(
        f"comparison set {new.id} ({summary.get('mode', 'full')}): {summary['las']} LAs, "
        f"{summary.get('recomputed_las', summary['las'])} recomputed, "
        f"periods {', '.join(summary['periods'])}; releases {releases}; "
        f"{summary['seconds']} s"
    )
