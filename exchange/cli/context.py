"""``exchange context``: load context datasets (published figures per LA and period), list
them, and write the file template.

Loading goes through ``exchange.actions.context`` as the system actor ``system:cli``, so a file
loaded here is validated and audited exactly as one uploaded by an administrator in the portal.
A rejected file prints every problem (file, row, column, value, rule) and exits 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from .submissions import CLI_ACTOR, _fail


@main.group("context")
def context_group() -> None:
    """Context datasets: child population, deprivation, spend per child, UASC, family inflow."""


def _principal():  # type: ignore[no-untyped-def]
    from exchange.security.principals import system_principal

    return system_principal(CLI_ACTOR)


@context_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_command(file: Path) -> None:
    """Validate FILE (an EES-format context file, CSV or XLSX) and load its values.

    The values replace earlier ones of the same LA, period and variable. Exits 1, printing
    each problem, when the file is not valid (then nothing is loaded).
    """
    from exchange.actions.context import ContextFileError, load_context
    from exchange.extensions import db

    try:
        dataset = load_context(db.session, _principal(), file.read_bytes(), file.name)
    except ContextFileError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(f"{error}; nothing was loaded")
    periods = ", ".join(dataset.periods)
    variables = ", ".join(dataset.variables)
    click.echo(
        f"loaded context dataset {dataset.id} from {dataset.filename}: {dataset.row_count} "
        f"local authority rows; periods {periods}; variables {variables}"
    )


@context_group.command("list")
def list_command() -> None:
    """List the context datasets loaded, newest first (no values)."""
    from exchange.actions.context import current_counts, datasets
    from exchange.extensions import db

    found = datasets(db.session)
    if not found:
        click.echo("no context datasets yet: run exchange context load FILE")
        return
    current = current_counts(db.session)
    for d in found:
        click.echo(
            f"{d.id}\t{d.filename}\t{d.created_at:%Y-%m-%d %H:%M}\t"
            f"periods {','.join(d.periods)}\t{','.join(d.variables)}\t{d.row_count} rows\t"
            f"{current.get(d.id, 0)} current\t{d.loaded_by_label}"
        )


@context_group.command("template", with_appcontext=False)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the template to this file (default: print it).",
)
def template_command(out: Path | None) -> None:
    """The context file's header and one example row (made-up figures), as CSV."""
    from schemas.context import context_template

    text = context_template()
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {out}: {error.strerror or error}")
    click.echo(f"wrote {out}")
