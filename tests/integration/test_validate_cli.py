"""``exchange validate`` as a user runs it, on synthetic files.

The real console script runs in a subprocess on: good files written by the generator (CSV, XLSX,
CSV with a byte order mark) for a few LAs and periods, which must exit 0; and every broken case of
``schemas.synth.write_broken_files``, whose JSON report must name the expected rule at the
expected row and column (exit 1; exit 0 for the awkward-but-valid cases). The subprocesses run
in parallel once per module. Every LA's return for one period is also validated in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from schemas.reference import load_reference
from schemas.synth import BrokenCase, generate, rows_per_return, write_broken_files, write_files
from schemas.synth.broken import CASE_NAMES
from schemas.synth.files import frame_to_csv, split_by_upload
from schemas.upload import validate_upload

SEED = 20261126
TIMEOUT = 300

# Good files: (format, old LA code, reporting year). Small LAs (tiny counts, many z cells),
# Cumbria before its split and Cumberland after it, Barnsley under its pre-2025 GSS code.
GOOD_FILES = (
    ("csv", "201", 2023),
    ("csv", "909", 2023),
    ("csv", "370", 2025),
    ("bom", "857", 2025),
    ("xlsx", "420", 2024),
    ("xlsx", "942", 2024),
)

# Cases where the validation engine's answer differs from what a user should be told (see the
# reason); strict, so the test fails as soon as the engine is fixed and this can be removed.


def _exchange() -> list[str]:
    """The installed console script beside this interpreter (the venv's bin)."""
    script = Path(sys.executable).with_name("exchange")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from exchange.cli import main; main()"]


@dataclass(frozen=True)
class Run:
    returncode: int
    report: dict[str, object] | None
    stderr: str

    @property
    def problems(self) -> list[dict[str, object]]:
        return list(self.report["problems"]) if self.report else []  # type: ignore[arg-type]

    @property
    def summary(self) -> dict[str, object]:
        return dict(self.report["summary"]) if self.report else {}  # type: ignore[arg-type]


def _validate(path: Path, authority: str | None) -> Run:
    command = [*_exchange(), "validate", str(path), "--format", "json"]
    if authority is not None:
        command += ["--authority", authority]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT, env=dict(os.environ), check=False
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = None
    return Run(done.returncode, report, done.stderr)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BrokenCase]:
    return write_broken_files(tmp_path_factory.mktemp("broken"), SEED)


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, int], Path]:
    folder = tmp_path_factory.mktemp("good")
    files = {}
    for fmt, code, year in GOOD_FILES:
        written = write_files(
            folder / fmt, [year], SEED, fmt="xlsx" if fmt == "xlsx" else "csv", las=[code]
        )
        (path,) = written
        if fmt == "bom":
            path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        files[(fmt, code, year)] = path
    return files


@pytest.fixture(scope="module")
def runs(
    broken: dict[str, BrokenCase], good: dict[tuple[str, str, int], Path]
) -> Iterator[dict[object, Run]]:
    """Every CLI run of this module, in parallel (each is a fresh interpreter)."""
    jobs: dict[object, tuple[Path, str | None]] = {
        name: (case.path, case.authority) for name, case in broken.items()
    }
    jobs.update({key: (path, key[1]) for key, path in good.items()})
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(_validate, *job) for key, job in jobs.items()}
        yield {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(
    "key", GOOD_FILES, ids=[f"{fmt}-{code}-{year}" for fmt, code, year in GOOD_FILES]
)
def test_validate_cli_good_file_passes(
    key: tuple[str, str, int], runs: dict[object, Run], good: dict[tuple[str, str, int], Path]
) -> None:
    run = runs[key]
    assert run.report is not None, run.stderr
    assert run.returncode == 0, [p for p in run.problems if p["severity"] == "error"][:5]
    assert run.summary["valid"] is True
    assert run.summary["warnings"] == 0
    assert run.summary["rows"] == rows_per_return()
    if key[0] == "xlsx":
        assert run.summary["sheet"] == "Data"


@pytest.mark.parametrize(
    "name",
    CASE_NAMES,
)
def test_validate_cli_broken_case(
    name: str, runs: dict[object, Run], broken: dict[str, BrokenCase]
) -> None:
    case, run = broken[name], runs[name]
    assert run.report is not None, run.stderr
    assert run.returncode == (0 if case.valid else 1), run.problems[:5]
    assert run.summary["valid"] is case.valid
    found = {(p["rule"], p["row"], p["column"], p["severity"]) for p in run.problems}
    for expected in case.expected:
        where = (expected.rule, expected.row, expected.column, expected.severity)
        assert where in found, f"{case.description}: expected {where}; got {sorted(found)[:8]}"
    if case.sheet is not None:
        assert run.summary["sheet"] == case.sheet


def test_validate_every_la_return_for_one_period_in_process() -> None:
    """Every LA's return for 2025, validated as that LA uploading it: all valid."""
    frame = generate([2025], SEED)
    returns = split_by_upload(frame)
    assert len(returns) == len(load_reference().las) == 153
    invalid = {}
    for period, code, _name, rows in returns:
        report = validate_upload(frame_to_csv(rows), f"{code}_{period}.csv", authority=code)
        if not report.ok:
            invalid[code] = [(p.rule, p.row, p.column) for p in report.errors[:3]]
    assert not invalid
