"""``exchange template``: write upload templates (CSV or XLSX) for one domain or all of them."""

from __future__ import annotations

from pathlib import Path

import click

from . import main


@main.command("template", with_appcontext=False)
@click.option(
    "--domain",
    "domain",
    required=True,
    metavar="DOMAIN|all",
    help="Catalogue domain id (e.g. reaching_families), or 'all' for one file per domain.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the template(s) to (created if missing).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    default="csv",
    show_default=True,
    help="csv: UTF-8 with BOM. xlsx: a Data sheet and a Guidance sheet.",
)
def template_command(domain: str, out: Path, fmt: str) -> None:
    """Write the upload template for DOMAIN (or every domain) into the directory OUT.

    Each template has, for every indicator of the domain, its Total row and one row per
    breakdown category, with the measure cells to fill left blank.
    """
    from schemas.catalogue import load_catalogue
    from schemas.upload.templates import template_filename, template_frame, write_template

    catalogue = load_catalogue()
    if domain == "all":
        domains = list(catalogue.domains)
    elif domain in catalogue.domains:
        domains = [domain]
    else:
        known = ", ".join([*catalogue.domains, "all"])
        raise click.BadParameter(
            f"{domain!r} is not a domain; use one of: {known}", param_hint="--domain"
        )
    out.mkdir(parents=True, exist_ok=True)
    for domain_id in domains:
        path = out / template_filename(domain_id, fmt)  # type: ignore[arg-type]
        write_template(domain_id, path, fmt, catalogue)  # type: ignore[arg-type]
        indicators = len(catalogue.by_domain(domain_id))
        rows = len(template_frame(domain_id, catalogue))
        click.echo(f"{path}: {indicators} indicators, {rows} rows")
