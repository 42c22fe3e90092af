"""Run the benchmarks and print each figure with its ratio to its baseline.

    bash scripts/bench            # everything (writes data under bench-data/, reused next time)
    bash scripts/bench validation # only benchmarks whose name contains "validation"

Each benchmark module ``bench_*.py`` beside this file defines ``benchmarks() -> list[Benchmark]``;
a benchmark returns :class:`Figure` s. Targets are ratios (figure / baseline) a figure must stay
under; a miss is printed, not hidden, and makes the exit status 1. Results are recorded by hand
in docs/benchmarks.md with the machine and date (the header this prints says which).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target_ratio: float

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio <= self.target_ratio


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: Callable[[Path], list[Figure]]


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def _load(path: Path) -> list[Benchmark]:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.benchmarks()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("filter", nargs="?", default="", help="run benchmarks whose name has this")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)

    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_machine()}")
    figures: list[Figure] = []
    for path in sorted(HERE.glob("bench_*.py")):
        for bench in _load(path):
            if args.filter not in bench.name:
                continue
            print(f"## {bench.name}", flush=True)
            for fig in bench.run(args.data):
                figures.append(fig)
                verdict = "ok" if fig.met else "MISSED"
                print(
                    f"{fig.name}: {fig.value:.3f} {fig.unit} | baseline {fig.baseline_name} "
                    f"{fig.baseline:.3f} | ratio {fig.ratio:.2f} (target <= {fig.target_ratio:g}) "
                    f"{verdict}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(
            json.dumps([asdict(f) | {"ratio": f.ratio} for f in figures], indent=2)
        )
    missed = [f.name for f in figures if not f.met]
    print(
        f"{len(figures)} figures, {len(missed)} missed"
        + (f": {', '.join(missed)}" if missed else "")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
