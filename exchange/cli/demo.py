"""``exchange demo``: load the demonstration data set, and give demo accounts' sign-in codes.

``exchange demo`` sets the database up if it is empty (the steps of ``exchange init``), then
checks and accepts every LA's synthetic return for each period, gives the LAs the demo's sharing
settings and creates one demo account of each role (see :mod:`exchange.actions.demo`). Running
it again only adds what is missing, so it is quick once done. ``exchange demo code EMAIL``
prints the current sign-in code of a demo account. Everything is audited as ``system:demo``.
"""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from . import main

_PERIODS_HELP = "Reporting years: 2024, 2022-2025 or 2023,2025 (default 2022-2025)."
_LAS_HELP = "Only these LAs: old or GSS codes separated by commas (default every LA)."


def _periods(text: str) -> list[int]:
    """'2024', '2022-2025' or '2023,2025' -> sorted distinct reporting years."""
    years: set[int] = set()
    for token in text.replace(" ", ",").split(","):
        if not token:
            continue
        first, dash, last = token.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise click.BadParameter(f"{token!r} is not a year or a range of years") from None
        if low > high:
            raise click.BadParameter(f"{token!r}: the range runs backwards")
        years.update(range(low, high + 1))
    if not years:
        raise click.BadParameter("give at least one reporting year")
    return sorted(years)


def _ensure_initialised(actor_label: str) -> bool:
    """Run ``exchange init``'s steps if the database has no organisations yet; True if it did.

    A database whose tables were made without the migrations (the tests' ``create_all``) is
    not migrated, only filled."""
    from sqlalchemy import inspect, select

    from exchange import migrate
    from exchange.actions.organisations import ensure_default_organisations
    from exchange.actions.reference import load_reference_data
    from exchange.extensions import db
    from exchange.models import Organisation

    if inspect(db.engine).has_table(Organisation.__tablename__):
        if db.session.scalars(select(Organisation.id).limit(1)).first() is not None:
            return False
        db.session.rollback()
        if migrate.current(current_app) is not None:
            migrate.upgrade(current_app)
    else:
        migrate.upgrade(current_app)
    load_reference_data(db.session, actor_label=actor_label)
    ensure_default_organisations(db.session, actor_label=actor_label)
    return True


def _print_logins(logins) -> None:  # type: ignore[no-untyped-def]
    from exchange.actions.demo import DEMO_PASSWORD
    from exchange.security import mfa
    from exchange.web.auth import ROLE_LABELS

    rows = [("email", "role", "organisation", "authenticator secret")] + [
        (
            login.email,
            ROLE_LABELS[login.role],
            login.organisation,
            mfa.format_secret(login.totp_secret),
        )
        for login in logins
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    click.echo("")
    click.echo(f"Demo accounts (password for every one: {DEMO_PASSWORD})")
    for row in rows:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[3]]))
    click.echo("")
    click.echo("To add an account to an authenticator app, type its secret or open its URI:")
    for login in logins:
        click.echo(f"  {login.otpauth_uri}")
    click.echo("")
    click.echo("No app? Print an account's current 6-digit code: exchange demo code EMAIL")


def _journeys_context_and_comparisons(actor, periods: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Improvement journeys, context, every LA's comparisons now, and the national releases
    (built by the worker in the background; each one recomputes the comparisons it changes)."""
    from sqlalchemy import select

    from exchange.actions.comparisons import recompute_comparisons
    from exchange.actions.context import demo_context
    from exchange.actions.demo import DEMO_SEED
    from exchange.actions.journeys import demo_journeys
    from exchange.actions.refresh import request_refresh
    from exchange.extensions import db
    from exchange.models import Release, ReleaseStatus

    click.echo(f"improvement journeys: {demo_journeys(db.session, actor, DEMO_SEED)} recorded")
    click.echo(f"context: {demo_context(db.session, actor, DEMO_SEED, periods)} values loaded")
    new = recompute_comparisons(db.session, actor)
    if new is not None:
        summary = new.summary
        click.echo(
            f"comparisons: set {new.id} ({summary.get('mode')}, {summary.get('recomputed_las')}"
            f" LAs recomputed, {summary.get('seconds')} s)"
        )
    released = set(
        db.session.scalars(
            select(Release.time_period).where(Release.status == ReleaseStatus.CURRENT)
        )
    )
    queued = [p for p in periods if str(p) not in released and request_refresh(db.session, str(p))]
    if queued:
        click.echo(
            "national releases of "
            + ", ".join(map(str, queued))
            + " queued: the worker builds them in the background, one year after another (see"
            " /admin/jobs; with the default DfE policy each takes under a minute). Until a year's"
            " release is built, LAs see their own figures without others' values"
        )


@main.group("demo", invoke_without_command=True)
@click.option("--periods", "periods_text", default="2022-2025", metavar="YEARS", help=_PERIODS_HELP)
@click.option("--las", "las_text", default=None, metavar="CODES", help=_LAS_HELP)
@click.option(
    "--release-policy",
    default=None,
    metavar="NAME",
    help=(
        "Set the national release policy first (e.g. dp, differentially private noise instead "
        "of the default DfE suppression). Default: leave it as it is."
    ),
)
@with_appcontext  # a group's own callback gets no app context from Flask's CLI
@click.pass_context
def demo_group(
    ctx: click.Context, periods_text: str, las_text: str | None, release_policy: str | None
) -> None:
    """Load synthetic returns for every LA, sharing settings and demo users of each role.

    Sets the database up first if it is empty. Safe to run again: it adds only what is missing.
    Prints the demo accounts' logins (a published password and each account's authenticator
    secret): demo accounts are for trying the exchange, under the reserved domain
    demo.exchange.invalid.
    """
    if ctx.invoked_subcommand is not None:
        return
    from exchange.actions.demo import (
        DEMO_ACTOR,
        DEMO_SEED,
        apply_sharing,
        demo_actor,
        ensure_demo_users,
        load_returns,
    )
    from exchange.extensions import db

    periods = _periods(periods_text)
    las = [code.strip() for code in las_text.split(",") if code.strip()] if las_text else None
    started = time.perf_counter()
    if _ensure_initialised(DEMO_ACTOR):
        click.echo("database set up: reference data and organisations loaded")
    actor = demo_actor()

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            click.echo(f"  returns accepted: {done}/{total}")

    years = ", ".join(str(p) for p in periods)
    click.echo(f"synthetic returns for {years} (seed {DEMO_SEED})…")
    loaded = load_returns(db.session, actor, periods=periods, las=las, progress=progress)
    click.echo(
        f"returns: {loaded.accepted} accepted, {loaded.existing} already there "
        f"({loaded.seconds:.1f} s)"
    )
    if loaded.rejected:
        click.echo(f"returns refused by the checks: {', '.join(loaded.rejected)}", err=True)
    changed = apply_sharing(db.session, actor, las)
    click.echo(f"sharing: {changed} settings made")
    logins = ensure_demo_users(db.session, actor)
    if release_policy is not None:
        from exchange.actions.releases import set_channel_policy

        try:
            set_channel_policy(db.session, actor, release_policy)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--release-policy") from None
        click.echo(f"national release policy: {release_policy}")
    _journeys_context_and_comparisons(actor, periods)
    click.echo(f"demo ready in {time.perf_counter() - started:.1f} s")
    _print_logins(logins)
    if loaded.rejected:
        ctx.exit(1)


@demo_group.command("code")
@click.argument("email")
def code_command(email: str) -> None:
    """Print the current 6-digit sign-in code of the demo account EMAIL (demo accounts only)."""
    from exchange.actions.demo import DemoError, demo_actor, demo_code
    from exchange.extensions import db

    try:
        click.echo(demo_code(db.session, demo_actor(), email))
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
