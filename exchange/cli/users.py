"""User accounts from the command line, for administrators on the server (audited as the system
actor ``system:cli``)."""

from __future__ import annotations

import secrets
import sys

import click

from . import main

CLI_ACTOR_LABEL = "system:cli"


def generate_password() -> str:
    """A strong random password (24 URL-safe characters, 144 bits) for a new account."""
    return secrets.token_urlsafe(18)


def _actor():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR_LABEL)


def _fail(exc: Exception) -> click.ClickException:
    from exchange.actions.accounts import WeakPasswordError

    if isinstance(exc, WeakPasswordError):
        return click.ClickException("the password is not accepted: " + "; ".join(exc.problems))
    return click.ClickException(str(exc))


@main.group("users")
def users() -> None:
    """Create and manage user accounts."""


@users.command("create")
@click.option("--email", required=True, help="The user's email address (their sign-in name).")
@click.option("--name", required=True, help="The user's full name.")
@click.option("--org", "org", required=True, metavar="CODE", help="Organisation code.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["la_submitter", "la_viewer", "alliance_viewer", "analyst", "administrator"]),
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of generating one.",
)
def create_command(email: str, name: str, org: str, role: str, password_stdin: bool) -> None:
    """Create a user. They set up their authenticator app the first time they sign in.

    Without --password-stdin a strong password is generated and printed once: pass it to the
    user by a separate, secure channel.
    """
    from exchange.actions.accounts import AccountError, create_user
    from exchange.extensions import db

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else generate_password()
    try:
        user = create_user(
            db.session,
            _actor(),
            email=email,
            name=name,
            organisation_code=org,
            role=role,
            password=password,
        )
    except AccountError as exc:
        raise _fail(exc) from None
    click.echo(f"Created {user.email} ({role}) in {org}.")
    if not password_stdin:
        click.echo(f"Password (shown once): {password}")


@users.command("set-role")
@click.argument("email")
@click.argument(
    "role",
    type=click.Choice(["la_submitter", "la_viewer", "alliance_viewer", "analyst", "administrator"]),
)
def set_role_command(email: str, role: str) -> None:
    """Change the role of the user with EMAIL."""
    from exchange.actions.accounts import AccountError, set_role
    from exchange.extensions import db

    try:
        user = set_role(db.session, _actor(), email, role)
    except AccountError as exc:
        raise _fail(exc) from None
    click.echo(f"{user.email} is now {user.role.value}.")


@users.command("reset-mfa")
@click.argument("email")
def reset_mfa_command(email: str) -> None:
    """Remove the authenticator app and recovery codes of the user with EMAIL.

    They set up a new app at their next sign-in; their current sessions end now.
    """
    from exchange.actions.accounts import AccountError, reset_mfa
    from exchange.extensions import db

    try:
        user = reset_mfa(db.session, _actor(), email)
    except AccountError as exc:
        raise _fail(exc) from None
    click.echo(f"MFA reset for {user.email}: they will set it up again at their next sign-in.")


@users.command("list")
@click.option("--org", "org", metavar="CODE", help="Only users of this organisation.")
def list_command(org: str | None) -> None:
    """List users: email, organisation, role, MFA set up, and whether locked or inactive."""
    from exchange.actions.accounts import list_users
    from exchange.extensions import db
    from exchange.security import clock

    now = clock.now()
    rows = list_users(db.session, org)
    if not rows:
        click.echo("No users.")
        return
    for user in rows:
        status = []
        if user.mfa_enrolled_at is None:
            status.append("MFA not set up")
        if user.locked_until is not None and user.locked_until > now:
            status.append("locked")
        if not user.is_active:
            status.append("inactive")
        click.echo(
            "\t".join(
                [user.email, user.organisation.code, user.role.value, ", ".join(status) or "ok"]
            )
        )
