"""Run ACRO (PyPI ``acro``) on a table of counts, in ACRO's own virtualenv.

    python acro_side.py COUNTS.csv OUT.json THRESHOLD

ACRO pins pandas < 3, so it cannot share the project's venv: bench_privacy_sdc.py creates one
for it (bench-data/acro-venv) and runs this script there. This file imports only what ACRO's
venv has (pandas, numpy, acro), never the project.

``COUNTS.csv`` has columns ``row``, ``col``, ``count`` (one line per table cell). ACRO works on
record-level data, so the counts are expanded to one record per child, and
``ACRO(suppress=True).crosstab(rows, cols, margins=True)`` tabulates them, as a researcher
would. ACRO's frequency rule suppresses a cell whose count is below ``safe_threshold``
(default 10); it is set to ``THRESHOLD`` (6 to match "1 to 5 is c"), and
``zeros_are_disclosive`` to False (ours shows true zeros). ACRO's threshold test is
``count < safe_threshold`` on every cell, so a true zero is still suppressed by it.

ACRO suppresses by deleting the records of every disclosive cell and tabulating again, so its
margins ("All") are the sums of the cells it still shows. The JSON written holds every cell of
that table (margins included): ``row``, ``col``, ``value`` (as published) and ``suppressed``
(ACRO's own outcome for the cell was not "ok"), plus ACRO's version and settings.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd


def main(argv: list[str]) -> int:
    counts_path, out_path, threshold = argv[0], argv[1], int(argv[2])
    logging.disable(logging.INFO)  # ACRO logs every table at INFO
    warnings.simplefilter("ignore")  # and pandas warns inside ACRO's redaction
    import acro  # only importable in ACRO's venv

    counts = pd.read_csv(counts_path, dtype={"row": str, "col": str, "count": np.int64})
    records = counts.loc[counts.index.repeat(counts["count"]), ["row", "col"]]
    records = records.reset_index(drop=True)
    # Categories with no records at all would vanish from a crosstab of records: keep them.
    rows = pd.Categorical(records["row"], categories=sorted(counts["row"].unique()))
    cols = pd.Categorical(records["col"], categories=sorted(counts["col"].unique()))

    session = acro.ACRO(suppress=True)
    # ACRO's checks read this dict (the SDC checks and each table's risk appetite share it).
    session.config["safe_threshold"] = threshold
    session.config["zeros_are_disclosive"] = False
    table = session.crosstab(pd.Series(rows, name="row"), pd.Series(cols, name="col"), margins=True)
    outcome = session.results.get_index(-1).outcome
    out = []
    for row in table.index:
        for col in table.columns:
            verdict = str(outcome.loc[row, col]) if row in outcome.index else "ok"
            value = table.loc[row, col]
            out.append(
                {
                    "row": str(row),
                    "col": str(col),
                    "value": None if pd.isna(value) else float(value),
                    "suppressed": verdict != "ok",
                    "reason": verdict,
                }
            )
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "acro_version": version("acro"),
                "safe_threshold": threshold,
                "zeros_are_disclosive": False,
                "records": len(records),
                "cells": out,
            },
            handle,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
