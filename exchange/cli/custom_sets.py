"""``exchange sets``: custom comparison sets of LAs and alliances (issue 5).

``exchange sets list`` prints every set's owner, name and number of members as the system actor
``system:cli``, through :mod:`exchange.actions.custom_sets`: names and counts only, no member
lists and never an indicator value. Sets are made and changed in the portal (an LA's
submitters at /comparisons/sets, administrators for alliances at /admin/comparison-sets).
"""

from __future__ import annotations

import click

from . import main
from .submissions import CLI_ACTOR


@main.group("sets")
def sets_group() -> None:
    """Custom comparison sets defined by local authorities and alliances."""


@sets_group.command("list")
def list_command() -> None:
    """List every custom comparison set: owner code and name, set name, number of members."""
    from exchange.actions.custom_sets import all_sets
    from exchange.extensions import db
    from exchange.security.principals import system_principal

    found = all_sets(db.session, system_principal(CLI_ACTOR))
    if not found:
        click.echo("no custom comparison sets yet: LAs and administrators make them in the portal")
        return
    for chosen in found:
        count = len(chosen.members)
        click.echo(
            f"{chosen.owner.code}\t{chosen.owner.name}\t{chosen.name}\t"
            f"{count} member{'' if count == 1 else 's'}"
        )
    click.echo(f"{len(found)} set{'' if len(found) == 1 else 's'}")
