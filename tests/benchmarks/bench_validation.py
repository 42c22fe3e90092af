"""Upload validation benchmarks (issue: the data contract).

Targets: validating a 1,000,000-row upload end to end (parse + schema + cross-row checks +
report) within 3x a bare ``pyarrow.csv.read_csv`` of the same file measured in the same run; a
file with 10 % bad rows within 5x; peak RSS within 4x the file size; a typical single-LA file
(all indicators, all breakdowns, one period) in under 1 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
from run import Benchmark, Figure  # type: ignore[import-not-found]

ROWS = 1_000_000
SEED = 20261126
REPEATS = 3


def _files(data: Path) -> tuple[Path, Path, Path]:
    from schemas.synth import generate, write_benchmark_file

    good = data / f"upload_{ROWS}.csv"
    bad = data / f"upload_{ROWS}_10pct_bad.csv"
    single = data / "upload_single_la.csv"
    if not good.exists():
        write_benchmark_file(good, ROWS, SEED)
    if not bad.exists():
        _corrupt(good, bad, fraction=0.10)
    if not single.exists():
        generate([2025], SEED, las=["840"]).to_csv(single, index=False)
    return good, bad, single


def _corrupt(source: Path, target: Path, fraction: float) -> None:
    """Break a fraction of rows, one of four ways each (type, catalogue, period, value)."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(SEED)
    rows = rng.choice(len(frame), int(len(frame) * fraction), replace=False)
    kinds = rng.integers(0, 4, len(rows))
    frame.loc[rows[kinds == 0], "numerator"] = "10.5"
    frame.loc[rows[kinds == 1], "indicator_id"] = "t9_not_in_catalogue"
    frame.loc[rows[kinds == 2], "time_period"] = "2024/25"
    frame.loc[rows[kinds == 3], "value"] = "n/a"
    frame.to_csv(target, index=False)


def _best(fn, repeats: int = REPEATS) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _versus_arrow(name: str, path: Path, target: float, expect_valid: bool) -> Figure:
    from schemas.upload import validate_path

    validate_path(path)  # warm caches (catalogue, reference data, imports) once
    arrow_s, _ = _best(lambda: pacsv.read_csv(path))
    validate_s, report = _best(lambda: validate_path(path))
    assert report.ok is expect_valid, report.summary()
    return Figure(name, validate_s, "s", "pyarrow.csv.read_csv", arrow_s, target)


# VmHWM (this process's own peak RSS), not ru_maxrss: Linux carries ru_maxrss across fork and
# exec, so a child would report the benchmark runner's own peak.
_RSS_SCRIPT = """
import json, sys
from schemas.upload import validate_path
report = validate_path(sys.argv[1])
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(json.dumps({"ok": report.ok, "peak_kib": int(status)}))
"""


def _peak_rss(path: Path) -> Figure:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(path)], capture_output=True, text=True, check=True
    )
    peak_mib = json.loads(out.stdout)["peak_kib"] / 1024
    size_mib = path.stat().st_size / 2**20
    return Figure(
        "peak RSS validating 1M rows (whole process)", peak_mib, "MiB", "file size", size_mib, 4.0
    )


def run(data: Path) -> list[Figure]:
    good, bad, single = _files(data)
    from schemas.upload import validate_path

    figures = [
        _versus_arrow("validate 1M-row upload", good, 3.0, expect_valid=True),
        _versus_arrow("validate 1M-row upload, 10% bad rows", bad, 5.0, expect_valid=False),
        _peak_rss(good),
    ]
    single_s, report = _best(lambda: validate_path(single, authority="840"), repeats=5)
    assert report.ok, report.summary()
    figures.append(
        Figure(
            f"validate single-LA file ({report.rows} rows)", single_s, "s", "1 s budget", 1.0, 1.0
        )
    )
    return figures


def benchmarks() -> list[Benchmark]:
    return [Benchmark("validation", run)]
