"""``exchange release``: build, list and export protected releases, and set release policy.

Everything goes through ``exchange.actions.releases`` as the system actor ``system:cli``, so a
release built here passes the same policy and audit gate as any other, and is audited.
Nothing here prints a cell value: builds print counts, exports write files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import main
from .submissions import CLI_ACTOR, _fail, _organisation


@main.group("release")
def release_group() -> None:
    """Protected releases of shared indicators (suppression, noise, audit)."""


def _principal():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR)


@release_group.command("build")
@click.option("--period", "time_period", required=True, help="Reporting year, e.g. 2025.")
@click.option(
    "--time-identifier", default="Reporting year", show_default=True, help="The period type."
)
@click.option("--policy", default=None, help="Release policy (default: the channel's setting).")
def build_command(time_period: str, time_identifier: str, policy: str | None) -> None:
    """Build the next national release of a period through the policy and the audit gate."""
    from flask import current_app

    from exchange.actions.releases import ReleaseError, build_national_release
    from exchange.extensions import db

    try:
        release = build_national_release(
            db.session,
            _principal(),
            time_period=time_period,
            time_identifier=time_identifier,
            policy=policy,
            dp_budget=current_app.config["EXCHANGE"].dp_budget,
            workers=current_app.config["EXCHANGE"].release_workers or None,
        )
    except ValueError as error:  # unknown policy name
        raise click.BadParameter(str(error), param_hint="--policy") from None
    except ReleaseError as error:
        _fail(f"release refused: {error}")
    summary = release.summary
    click.echo(
        f"built release {release.id}: {release.label} ({release.policy}); "
        f"{summary.get('las', 0)} LAs, {summary.get('rows', 0)} rows, "
        f"{summary.get('cell_count', 0)} count cells: "
        + ", ".join(
            f"{k.removeprefix('cells_')} {v}"
            for k, v in sorted(summary.items())
            if k.startswith("cells_")
        )
    )


@release_group.command("list")
def list_command() -> None:
    """List the releases, newest first (counts only)."""
    from exchange.actions.releases import releases
    from exchange.extensions import db

    found = releases(db.session)
    if not found:
        click.echo("no releases yet: run exchange release build --period YEAR")
        return
    for r in found:
        click.echo(
            f"{r.id}\t{r.label}\t{r.status.value}\t{r.policy}\t"
            f"{r.created_at:%Y-%m-%d %H:%M}\t{r.summary.get('las', 0)} LAs"
        )


@release_group.command("export")
@click.argument("release_id", type=int, metavar="RELEASE")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder."
)
def export_command(release_id: int, out: Path) -> None:
    """Write RELEASE (an id from `exchange release list`) as EES data and metadata files."""
    from exchange.actions.releases import ReleaseError, export_release
    from exchange.extensions import db

    try:
        paths = export_release(db.session, _principal(), release_id, out)
    except ReleaseError as error:
        _fail(str(error))
    except OSError as error:  # the folder cannot be made or written: say which
        _fail(f"cannot write the release files to {out}: {error.strerror or error}")
    for path in paths:
        click.echo(f"wrote {path}")


@release_group.command("policy")
@click.option("--set", "policy", default=None, help="Choose the national channel's policy.")
def policy_command(policy: str | None) -> None:
    """Show (or --set) the national release policy; lists the policies available."""
    from exchange.actions.releases import channel_policy, set_channel_policy
    from exchange.extensions import db
    from privacy.release import POLICIES

    if policy is not None:
        try:
            set_channel_policy(db.session, _principal(), policy)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--set") from None
    current = channel_policy(db.session)
    for name, p in POLICIES.items():
        mark = "*" if name == current else " "
        click.echo(f"{mark} {name}\t{p.mechanism}\t{p.label}")


@release_group.command("budget")
@click.option("--authority", "code", required=True, metavar="CODE", help="The LA's code.")
@click.option("--epsilon", type=float, default=None, help="Set the LA's budget (omit to show).")
@click.option("--period", "time_period", default=None, help="Show what a period has spent.")
def budget_command(code: str, epsilon: float | None, time_period: str | None) -> None:
    """Show or set an LA's privacy-loss budget (epsilon per indicator and period)."""
    from flask import current_app

    from exchange.actions.releases import ledger_spent, set_privacy_budget
    from exchange.extensions import db

    organisation = _organisation(db.session, code)
    if epsilon is not None:
        try:
            set_privacy_budget(db.session, _principal(), organisation.id, epsilon)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--epsilon") from None
    default = current_app.config["EXCHANGE"].dp_budget
    budget = organisation.privacy_budget
    click.echo(
        f"{organisation.name}: budget {budget if budget is not None else default} "
        f"epsilon per indicator and period{'' if budget is not None else ' (default)'}"
    )
    if time_period:
        spent = ledger_spent(db.session, time_period, "Reporting year")
        mine = spent[spent["area_code"] == organisation.new_la_code]
        top = mine["epsilon"].max() if not mine.empty else 0.0
        click.echo(f"{time_period}: {len(mine)} indicators charged, most spent {top:g}")
    sys.stdout.flush()
