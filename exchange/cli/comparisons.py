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
def recompute_command() -> None:
    """Recompute every LA's comparisons from current submissions and releases."""
    from exchange.actions.comparisons import recompute_comparisons
    from exchange.extensions import db

    new = recompute_comparisons(db.session, _principal())
    if new is None:
        click.echo("no submissions yet: nothing to compare")
        return
    summary = new.summary
    releases = ", ".join(f"{p}: {r}" for p, r in sorted(new.releases.items())) or "none"
    click.echo(
        f"comparison set {new.id}: {summary['las']} LAs, {summary['rows']} rows, "
        f"periods {', '.join(summary['periods'])}; releases {releases}; "
        f"{summary['seconds']} s"
    )
