"""``exchange audit``: verify the tamper-evident audit log."""

from __future__ import annotations

import sys

import click

from . import main


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
def verify_command() -> None:
    """Walk the hash chain; report the first broken link and exit 1 if there is one."""
    from exchange.audit import verify
    from exchange.extensions import db

    count, broken = verify(db.session)
    if broken is None:
        click.echo(f"audit log intact: {count} entries verified")
        return
    click.echo(f"audit log BROKEN at entry {broken.seq}: {broken.reason}", err=True)
    sys.exit(1)
