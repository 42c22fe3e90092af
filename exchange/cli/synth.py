"""``exchange synth``: write synthetic upload files (one per LA per period) for demos and tests."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import click

from . import main

DEFAULT_PERIODS = (2022, 2023, 2024, 2025)
DEFAULT_SEED = 0

USAGE = """\
exchange synth --out DIR [--periods YEAR ... | --periods FIRST-LAST] [--seed N]
               [--format csv|xlsx] [--las CODE ...] [--broken]"""


def _periods(tokens: list[str]) -> list[int]:
    """'2022 2023' or '2022-2025' (or a mix) -> sorted distinct reporting years."""
    years: set[int] = set()
    for token in tokens:
        first, dash, last = token.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{token!r} is not a reporting year (2024) or a range (2022-2025)"
            ) from None
        if low > high:
            raise argparse.ArgumentTypeError(f"{token!r}: the range runs backwards")
        years.update(range(low, high + 1))
    return sorted(years)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exchange synth",
        usage=USAGE,
        description=(
            "Write synthetic children's social care returns: one upload file per LA per "
            "reporting year (named OLDCODE_la-name_YEAR.csv), every catalogue indicator with "
            "every breakdown. The data is made up but realistic (LA sizes, published referral "
            "and child protection rates, similar statistical neighbours, ~15 LAs on an "
            "improvement journey, a few x/z symbols) and the same for the same seed. Every file "
            "passes 'exchange validate FILE --authority OLDCODE'. The improvement journeys are "
            "written to DIR/meta/journeys.csv, and a context dataset for every LA and year "
            "(child population, deprivation, spend per child, UASC, inflow of families) to "
            "DIR/meta/context.csv, ready for 'exchange context load'."
        ),
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument(
        "--periods",
        nargs="+",
        metavar="YEAR",
        default=[f"{DEFAULT_PERIODS[0]}-{DEFAULT_PERIODS[-1]}"],
        help="reporting years (2025 = April 2024 to March 2025), listed or as a range "
        f"(default: {DEFAULT_PERIODS[0]}-{DEFAULT_PERIODS[-1]})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--format", dest="fmt", choices=("csv", "xlsx"), default="csv", help="default: csv"
    )
    parser.add_argument(
        "--las",
        nargs="+",
        metavar="CODE",
        help="only these LAs (old or new codes); default: every LA",
    )
    parser.add_argument(
        "--broken",
        action="store_true",
        help="also write files that break one validation rule each, in DIR/broken, with "
        "DIR/broken/cases.json saying what validation must report for each",
    )
    return parser


def _write_cases(out: Path, seed: int) -> int:
    from schemas.synth import write_broken_files

    cases = write_broken_files(out, seed)
    manifest = []
    for case in cases.values():
        record = asdict(case)
        record["path"] = case.path.name
        manifest.append(record)
    (out / "cases.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return len(cases)


@main.command(
    "synth",
    with_appcontext=False,
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def synth_command(args: tuple[str, ...]) -> None:
    """Write synthetic upload files (one per LA per period); see --help."""
    parser = _parser()
    options = parser.parse_args(list(args))
    try:
        periods = _periods(options.periods)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"argument --periods: {exc}")

    from schemas.synth import context, journeys, write_files

    start = time.perf_counter()
    try:
        paths = write_files(options.out, periods, options.seed, options.fmt, options.las)
    except ValueError as exc:
        parser.error(str(exc))
    if not paths:
        parser.error("none of the --las codes is an LA in the periods asked for")
    meta = options.out / "meta"
    meta.mkdir(exist_ok=True)
    journeys(options.seed).to_csv(meta / "journeys.csv", index=False, lineterminator="\n")
    context(options.seed, periods).to_csv(meta / "context.csv", index=False, lineterminator="\n")
    broken = _write_cases(options.out / "broken", options.seed) if options.broken else 0
    per_period = Counter(p.stem.rsplit("_", 1)[1] for p in paths)
    low, high = min(per_period.values()), max(per_period.values())
    las = f"{low}" if low == high else f"{low}-{high}"
    years = f"{periods[0]}-{periods[-1]}" if len(periods) > 1 else str(periods[0])
    extra = f"; {broken} broken cases in {options.out / 'broken'}" if broken else ""
    click.echo(
        f"synth: wrote {len(paths)} {options.fmt} file{'s' if len(paths) != 1 else ''} "
        f"({las} LA{'s' if high != 1 else ''} a year, {years}, "
        f"seed {options.seed}) to {options.out} in {time.perf_counter() - start:.1f}s{extra}"
    )
