"""Synthetic children's social care returns for every English LA: realistic, valid, reproducible.

A pure library (pandas, numpy, and openpyxl for XLSX only): the exchange's demos, tests and
benchmarks use it in place of real LA data.

* :func:`generate` — the tidy upload rows (one row per period, LA, indicator, breakdown
  category) of every LA and every catalogue indicator, deterministic for a seed. Magnitudes follow
  the LA's child population and, where the indicator exists nationally, the LA's published rates
  (``data/la_rates.csv``); statistical neighbours resemble each other; small LAs and fine
  breakdowns give small counts; a few cells are ``x``/``z``. See :mod:`schemas.synth.generator`.
* :func:`journeys` — the ~15 LAs on an improvement journey in that data (Table 2 improves first,
  Table 5 last; seed section 4.5.7).
* :func:`write_files` — one upload file per LA per period (CSV or XLSX);
  :func:`write_benchmark_file` — one large valid CSV for the validation benchmark.
* :func:`write_broken_files` — files that break one rule each, with the :class:`BrokenCase`
  (rule, row, column) validation must report.
* :func:`context` — a context dataset (child population, deprivation, spend per child, UASC,
  inflow of families) for every LA in the EES layout of :mod:`schemas.context`.

The data is synthetic: it looks like children's social care data but describes no real LA.
"""

from __future__ import annotations

from .broken import BrokenCase, Expected, write_broken_files
from .context import context
from .files import file_name, write_benchmark_file, write_files
from .generator import COLUMNS, MEASURE_COLUMNS, generate, journeys, rows_per_return

__all__ = [
    "COLUMNS",
    "MEASURE_COLUMNS",
    "BrokenCase",
    "Expected",
    "context",
    "file_name",
    "generate",
    "journeys",
    "rows_per_return",
    "write_benchmark_file",
    "write_broken_files",
    "write_files",
]
