"""The ``exchange`` command line: a Flask CLI group with one module per area."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():  # type: ignore[no-untyped-def]
    from exchange.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main() -> None:
    """The children's social care benchmarking exchange."""


from . import (  # noqa: E402  (commands register on ``main``)
    audit,
    comparisons,
    context,
    custom_sets,
    data,
    db,
    demo,
    jobs,
    journeys,
    keys,
    releases,
    serve,
    submissions,
    synth,
    templates,
    users,
)

__all__ = [
    "audit",
    "comparisons",
    "context",
    "custom_sets",
    "data",
    "db",
    "demo",
    "jobs",
    "journeys",
    "keys",
    "main",
    "releases",
    "serve",
    "submissions",
    "synth",
    "templates",
    "users",
]
