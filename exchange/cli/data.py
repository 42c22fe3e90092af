"""Data-contract commands: validate an upload file, generate synthetic data."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import main


@main.command("validate", with_appcontext=False)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--authority", metavar="CODE", help="Old or new code of the uploading LA.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--limit", type=int, default=200, show_default=True, help="Problems shown as text.")
def validate_command(file: Path, authority: str | None, fmt: str, limit: int) -> None:
    """Validate FILE (CSV or XLSX) against the upload format.

    Exits 0 when the file is valid and 1 with the report when it is not.
    """
    from schemas.reference import UnknownCodeError, load_reference
    from schemas.upload import validate_path

    if authority is not None:
        try:
            load_reference().la(authority)
        except UnknownCodeError:
            raise click.BadParameter(
                f"{authority!r} is not a known LA code", param_hint="--authority"
            ) from None
    report = validate_path(file, authority=authority)
    if fmt == "json":
        click.echo(report.to_json())
    else:
        click.echo(report.to_text(limit=limit), nl=False)
    sys.exit(0 if report.ok else 1)
