"""Small-number suppression benchmarks (issue 4: the privacy layer).

1. Secondary suppression quality: on generated hierarchical tables (LA x breakdown, LA ->
   region -> England, one or two additive breakdown topics), the number and total value of
   ``privacy.suppression.protect``'s complementary suppressions as a ratio to the exact optimum
   (sdc_optimum.py: Benders MILP with HiGHS, proven optimal), summed over the tables and for
   the worst table. Target <= 1.10x.
2. National release speed: ``privacy.release.protect_release`` (``protect`` and the gate's
   ``audit`` of every indicator, on every core) of a full national release for one period
   (153 LAs, Inner/Outer London, 9 regions, England x every indicator and breakdown cell of the
   synthetic data), attackers each LA and each region's LAs as a coalition, policy DFE. The
   issue's target is absolute (<= 30 s on the 2-core machine), so the figure's baseline is that
   30 s budget and its target ratio 1.0.
3. ACRO comparison: the national LA x ethnicity table of one count (referrals with no further
   action) protected by ours and by ACRO (PyPI ``acro``, run in its own venv, see
   acro_side.py), side by side.

Both solvers of (1) face the same problem: primary cells are ``protect``'s, the policy is DFE
without rounding (every published cell exact), complements never true zeros or public cells,
attackers the outsider and each LA. Each pattern is checked by the other side's checker too:
ours by the MILP's exact LP test, the optimum by our auditor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sdc_optimum  # type: ignore[import-not-found]
from run import Benchmark, Figure  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
SEED = 20261126

# --- 1. secondary suppression quality -------------------------------------------------------

QUALITY_TABLES = 20
QUALITY_TARGET = 1.10
MILP_TIME_LIMIT = 300.0  # seconds per table; a table not proven optimal is left out and said so
ENGLAND = "E92000001"
AGE_BANDS = (
    ["Under 1", "1 to 4", "5 to 9", "10 to 15", "16 and over"],
    [0.1, 0.2, 0.25, 0.3, 0.15],
)
GENDER = (["Female", "Male"], [0.48, 0.52])


def _quality_table(index: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Table ``index``: (cells, additive topics, LA codes).

    6 to 10 LAs in 2 or 3 regions; even tables break one count down by age band, odd ones by
    age band and gender (two topics sharing the Total). Each LA's Total is Poisson around a
    mean drawn from 8..50, split by multinomial draws, so many categories are 1..5.
    """
    rng = np.random.default_rng([SEED, index])
    n_las = 6 + index % 5
    n_regions = 2 + index % 2
    topics = (
        {"age_band": AGE_BANDS} if index % 2 == 0 else {"age_band": AGE_BANDS, "gender": GENDER}
    )
    las = [f"E06{900 + i:06d}" for i in range(n_las)]
    regions = [f"E120000{10 + j:02d}" for j in range(n_regions)]
    rows = []
    for i, la in enumerate(las):
        total = int(rng.poisson(rng.uniform(8, 50)))
        rows.append((la, regions[i % n_regions], "Total", "Total", total))
        for topic, (categories, p) in topics.items():
            for category, value in zip(categories, rng.multinomial(total, p), strict=True):
                rows.append((la, regions[i % n_regions], topic, category, int(value)))
    la_cells = pd.DataFrame(
        rows, columns=["area_code", "parent_code", "breakdown_topic", "breakdown", "count"]
    )
    la_cells["geographic_level"] = "Local authority"
    key = ["breakdown_topic", "breakdown"]
    region_cells = la_cells.groupby(["parent_code", *key], as_index=False)["count"].sum()
    region_cells = region_cells.rename(columns={"parent_code": "area_code"})
    region_cells["parent_code"] = ENGLAND
    region_cells["geographic_level"] = "Regional"
    england = la_cells.groupby(key, as_index=False)["count"].sum()
    england["area_code"] = ENGLAND
    england["parent_code"] = ""
    england["geographic_level"] = "National"
    cells = pd.concat([england, region_cells, la_cells], ignore_index=True)
    cells["indicator_id"] = "t3_bench_count"
    cells["measure"] = "numerator"
    cells["public"] = False
    cells["count"] = cells["count"].astype("int64")
    columns = ["geographic_level", "area_code", "parent_code", "indicator_id"]
    columns += ["breakdown_topic", "breakdown", "measure", "count", "public"]
    return cells[columns], sorted(topics), las


def _as_protected(cells: pd.DataFrame, primary: np.ndarray, hidden: np.ndarray) -> pd.DataFrame:
    """A protected frame for a pattern with every published cell exact (no rounding)."""
    count = cells["count"].to_numpy(np.int64)
    out = cells.copy()
    out["published"] = pd.array(np.where(hidden, 0, count), dtype="Int64")
    out.loc[hidden, "published"] = pd.NA
    out["symbol"] = np.where(hidden, "c", "")
    out["status"] = np.where(primary, "primary", np.where(hidden, "secondary", "exact"))
    out["known_lower"] = np.where(hidden, 1.0, count.astype(float))
    out["known_upper"] = np.where(hidden, np.inf, count.astype(float))
    return out


def _cached_optimum(
    data: Path,
    cells: pd.DataFrame,
    primary: np.ndarray,
    relations: list,
    *,
    protection_width: int,
    attackers: list,
    kappa: float,
) -> tuple[sdc_optimum.Optimum, bool]:
    """The MILP optimum for this exact problem, solved once and kept under ``data``.

    The cache key hashes everything the optimum depends on: the cells (counts included), the
    primary cells, the relations, the width, the attackers, kappa, the time limit and the
    source of sdc_optimum.py, so a change to any of them solves again. Only proven optima are
    kept. The second value says whether the optimum came from the cache.
    """
    digest = hashlib.sha256()
    digest.update(cells.to_csv(index=False).encode())
    digest.update(np.asarray(primary, dtype=bool).tobytes())
    digest.update(repr([(int(t), [int(p) for p in parts]) for t, parts in relations]).encode())
    digest.update(repr((protection_width, kappa, MILP_TIME_LIMIT)).encode())
    digest.update(repr(sorted((a.name, sorted(a.areas)) for a in attackers)).encode())
    digest.update((HERE / "sdc_optimum.py").read_bytes())
    path = data / "sdc-optimum" / f"{digest.hexdigest()[:32]}.json"
    n = len(cells)
    if path.exists():
        saved = json.loads(path.read_text())
        chosen = np.zeros(n, dtype=bool)
        chosen[saved["complementary"]] = True
        best = sdc_optimum.Optimum(
            saved["status"],
            chosen,
            saved["count"],
            saved["value"],
            saved["seconds"],
            saved["blocks"],
        )
        return best, True
    best = sdc_optimum.optimal_suppression(
        cells,
        primary,
        relations,
        protection_width=protection_width,
        attackers=attackers,
        kappa=kappa,
        time_limit=MILP_TIME_LIMIT,
    )
    if best.proven:
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {
            "status": best.status,
            "complementary": [int(i) for i in np.flatnonzero(best.complementary)],
            "count": best.count,
            "value": best.value,
            "seconds": best.seconds,
            "blocks": best.blocks,
        }
        path.write_text(json.dumps(saved))
    return best, False


def _quality(_data: Path) -> list[Figure]:
    from privacy.audit import DisclosureRisk, audit
    from privacy.cells import Attacker, Structure
    from privacy.policy import DFE
    from privacy.suppression import protect

    policy = dataclasses.replace(DFE, name="dfe_exact", round_levels={})
    width = policy.protection_width
    ours_n, ours_v, best_n, best_v = [], [], [], []
    notes: list[str] = []
    ours_s = milp_s = 0.0
    n_cached = 0
    for index in range(QUALITY_TABLES):
        cells, topics, las = _quality_table(index)
        structure = Structure(additive_topics=frozenset(topics))
        attackers = [Attacker(la, frozenset({la})) for la in las]
        start = time.perf_counter()
        try:
            protected = protect(cells, structure, policy, attackers=attackers)
        except DisclosureRisk as exc:
            notes.append(f"table {index}: protect refused ({exc}), left out")
            continue
        ours_s += time.perf_counter() - start
        status = protected["status"].to_numpy()
        primary = status == "primary"
        secondary = status == "secondary"
        count = cells["count"].to_numpy(np.int64)
        relations = sdc_optimum.relations_from_cells(cells, topics)
        # Both sides check the other's pattern: a disagreement means they solve different
        # problems, and the ratio would mean nothing.
        if not sdc_optimum.pattern_protected(
            cells,
            primary,
            primary | secondary,
            relations,
            protection_width=width,
            attackers=attackers,
        ):
            notes.append(f"table {index}: protect's pattern FAILS the MILP's exact LP check")
        # kappa 1 is exact for one topic (a network); two linked topics get a margin (kappa 3
        # gave the same optima as kappa 1 on all ten two-topic tables here; see sdc_optimum).
        best, cached = _cached_optimum(
            _data,
            cells,
            primary,
            relations,
            protection_width=width,
            attackers=attackers,
            kappa=1.0 if len(topics) == 1 else 3.0,
        )
        n_cached += cached
        milp_s += best.seconds
        if not best.proven:
            notes.append(f"table {index}: MILP {best.status} after {best.seconds:.0f} s, left out")
            continue
        report = audit(
            _as_protected(cells, primary, primary | best.complementary),
            structure,
            protection_width=width,
            attackers=attackers,
        )
        if not report.ok:
            notes.append(f"table {index}: the optimum FAILS our auditor ({report.summary()})")
        ours_n.append(int(secondary.sum()))
        ours_v.append(int(count[secondary].sum()))
        best_n.append(best.count)
        best_v.append(best.value)
        print(
            f"  table {index:2d}: {len(las)} LAs, {'+'.join(topics)}, {len(cells)} cells, "
            f"{int(primary.sum())} primary | complements protect {ours_n[-1]} (value "
            f"{ours_v[-1]}) vs optimum {best.count} (value {best.value}, {best.seconds:.1f} s)",
            flush=True,
        )
    for note in notes:
        print(f"  NOTE {note}", flush=True)
    print(
        f"  time: protect {ours_s:.1f} s in all, MILP {milp_s:.1f} s in all"
        + (
            f" ({n_cached} optima read from the cache, their original solve time)"
            if n_cached
            else ""
        ),
        flush=True,
    )
    if not best_n:
        print("  no table was solved to optimality: no figures", flush=True)
        return []

    def worst(ours: list[int], best: list[int]) -> float:
        ratios = [
            o / b if b else (1.0 if o == 0 else float("inf"))
            for o, b in zip(ours, best, strict=True)
        ]
        return max(ratios)

    k = len(best_n)
    return [
        Figure(
            f"complementary cells of protect, {k} tables (sum)",
            sum(ours_n),
            "cells",
            "MILP optimum",
            sum(best_n),
            QUALITY_TARGET,
        ),
        Figure(
            f"complementary value of protect, {k} tables (sum)",
            sum(ours_v),
            "children",
            "MILP optimum",
            sum(best_v),
            QUALITY_TARGET,
        ),
        Figure(
            "complementary cells of protect / optimum, worst table",
            worst(ours_n, best_n),
            "x",
            "optimum (1.0)",
            1.0,
            QUALITY_TARGET,
        ),
        Figure(
            "complementary value of protect / optimum, worst table",
            worst(ours_v, best_v),
            "x",
            "optimum (1.0)",
            1.0,
            QUALITY_TARGET,
        ),
    ]


# --- 2. national release speed --------------------------------------------------------------

SPEED_BUDGET = 30.0  # seconds: the absolute target on the 2-core machine
SPEED_TIMEOUT = float(os.environ.get("PRIVACY_BENCH_TIMEOUT", "900"))

_NATIONAL_SCRIPT = """
import json, sys, time
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference
from schemas.synth import generate
from privacy.national import national_cells
from privacy.release import policy_by_name, protect_release

if __name__ == "__main__":  # protect_release starts worker processes (spawn)
    rows = generate(periods=[2025], seed=1)
    catalogue = load_catalogue()
    cells, structure = national_cells(rows, catalogue, load_reference())
    areas = cells[["area_code", "parent_code", "geographic_level"]].drop_duplicates("area_code")
    parent = dict(zip(areas["area_code"], areas["parent_code"]))
    def region(code):
        while parent.get(parent.get(code, ""), ""):  # climb until the parent is England
            code = parent[code]
        return code
    las = sorted(areas.loc[areas["geographic_level"] == "Local authority", "area_code"])
    regions = {}
    for la in las:
        regions.setdefault(region(la), set()).add(la)
    attackers = [(la, frozenset({la})) for la in las]
    attackers += [("region " + r, frozenset(m)) for r, m in sorted(regions.items())]
    start = time.perf_counter()
    cells.groupby(["indicator_id", "breakdown_topic", "breakdown", "measure"])["count"].sum()
    floor = time.perf_counter() - start
    start = time.perf_counter()
    # The exchange's path: every indicator protected and then audited by the gate, on every
    # core (2 on the benchmark machine).
    release = protect_release(
        cells, structure, policy_by_name("dfe"), catalogue=catalogue, attackers=attackers
    )
    total_s = time.perf_counter() - start
    protected, report = release.cells, release.audit
    level = protected["geographic_level"]
    secondary = protected["status"] == "secondary"
    print(json.dumps({
        "cells": len(cells), "las": len(las), "regions": len(regions),
        "attackers": len(attackers),
        "primary": int((protected["status"] == "primary").sum()),
        "secondary": int(secondary.sum()),
        "secondary_by_level": {str(k): int(v) for k, v in secondary.groupby(level).sum().items()},
        "groupby_s": floor, "total_s": total_s, "ok": report.ok,
        "summary": report.summary(),
    }))
"""


def _speed(data: Path) -> list[Figure]:
    name = "protect + audit national release, 1 period (absolute target 30 s)"
    # A file, not ``-c``: the release's worker processes re-import the main module.
    script = data / "bench_national_release.py"
    script.write_text(_NATIONAL_SCRIPT)
    try:
        out = subprocess.run(
            [sys.executable, script],
            capture_output=True,
            text=True,
            timeout=SPEED_TIMEOUT,
            check=False,
            cwd=HERE.parents[1],
            env={**os.environ, "PYTHONPATH": str(HERE.parents[1])},
        )
    except subprocess.TimeoutExpired:
        print(
            f"  timed out after {SPEED_TIMEOUT:.0f} s (PRIVACY_BENCH_TIMEOUT): the figure is "
            "a lower bound",
            flush=True,
        )
        return [
            Figure(
                name + " [TIMED OUT, at least]",
                SPEED_TIMEOUT,
                "s",
                "30 s budget",
                SPEED_BUDGET,
                1.0,
            )
        ]
    if out.returncode != 0:
        print(f"  FAILED:\n{out.stderr[-3000:]}", flush=True)
        return [Figure(name + " [FAILED]", float("inf"), "s", "30 s budget", SPEED_BUDGET, 1.0)]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  {result['cells']} cells ({result['las']} LAs, {result['regions']} regions), "
        f"{result['attackers']} attackers; {result['primary']} primary, {result['secondary']} "
        f"secondary ({result['secondary_by_level']}); protect + gate audit "
        f"{result['total_s']:.1f} s; audit ok {result['ok']} "
        f"({result['summary'].get('certified_by_moves', 0)} primary cells certified by cycle "
        f"moves, {result['summary'].get('lp_copies', 0)} LP copies); floor: one pandas "
        f"groupby-sum over the cells {result['groupby_s']:.3f} s",
        flush=True,
    )
    if not result["ok"]:
        print(f"  AUDIT FAILED: {result['summary']}", flush=True)
    if not result["ok"]:
        return [
            Figure(name + " [AUDIT FAILED]", float("inf"), "s", "30 s budget", SPEED_BUDGET, 1.0)
        ]
    return [Figure(name, result["total_s"], "s", "30 s budget", SPEED_BUDGET, 1.0)]


# --- 3. ACRO comparison ---------------------------------------------------------------------

ACRO_VERSION = "1.0.2"
ACRO_INDICATOR = "t3_referrals_nfa"
ACRO_TOPIC = "ethnicity"
ACRO_THRESHOLD = 6  # ACRO suppresses count < safe_threshold: 6 matches "1 to 5 is c"
NOT_APPLICABLE = float("inf")  # target of a figure reported side by side, with no target


def _acro_python(data: Path) -> tuple[Path | None, str]:
    """ACRO's own venv (ACRO pins pandas < 3, the project pandas 3.1): created on first use."""
    venv = data / "acro-venv"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import acro"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python, "existing"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", f"acro=={ACRO_VERSION}"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired:
            return None, f"`{' '.join(step)}` timed out"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"`{' '.join(step)}` failed: {' | '.join(tail)}"
    if subprocess.run(check, capture_output=True, check=False).returncode != 0:
        return None, "acro installed but does not import"
    return python, "created"


def _acro_cells() -> tuple[pd.DataFrame, object]:
    """The national cell frame of one count by ethnicity (numerator only), for the LAs whose
    categories are all present and sum to their Total (so both tools see one consistent table)."""
    from privacy.cells import Structure
    from privacy.national import national_cells
    from schemas.catalogue import load_catalogue
    from schemas.reference import load_reference
    from schemas.synth import generate

    rows = generate(periods=[2025], seed=1)
    rows = rows[(rows["indicator_id"] == ACRO_INDICATOR)]
    rows = rows[rows["breakdown_topic"].isin(["Total", ACRO_TOPIC])].copy()
    count = pd.to_numeric(rows["numerator"], errors="coerce")
    rows = rows[count.notna()].assign(_n=count[count.notna()].astype(np.int64))
    parts = rows[rows["breakdown_topic"] == ACRO_TOPIC].groupby("new_la_code")["_n"]
    totals = rows[rows["breakdown_topic"] == "Total"].set_index("new_la_code")["_n"]
    summary = pd.DataFrame({"sum": parts.sum(), "k": parts.size(), "total": totals}).dropna()
    k_max = summary["k"].max()
    good = summary.index[(summary["k"] == k_max) & (summary["sum"] == summary["total"])]
    rows = rows[rows["new_la_code"].isin(good)].drop(columns="_n")
    cells, _ = national_cells(rows, load_catalogue(), load_reference())
    cells = cells[cells["measure"] == "numerator"].reset_index(drop=True)
    return cells, Structure(additive_topics=frozenset({ACRO_TOPIC}))


def _national_attackers(cells: pd.DataFrame) -> list:
    from privacy.cells import Attacker

    areas = cells[["area_code", "parent_code", "geographic_level"]].drop_duplicates("area_code")
    parent = dict(zip(areas["area_code"], areas["parent_code"], strict=True))
    las = sorted(areas.loc[areas["geographic_level"] == "Local authority", "area_code"])
    regions: dict[str, set[str]] = {}
    for la in las:
        code = la
        while parent.get(parent.get(code, ""), ""):
            code = parent[code]
        regions.setdefault(code, set()).add(la)
    attackers = [Attacker(la, frozenset({la})) for la in las]
    attackers += [Attacker(f"region {r}", frozenset(m)) for r, m in sorted(regions.items())]
    return attackers


def _run_acro(python: Path, table: pd.DataFrame) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        counts = Path(tmp) / "counts.csv"
        result = Path(tmp) / "acro.json"
        table.to_csv(counts, index=False)
        done = subprocess.run(
            [
                str(python),
                str(HERE / "acro_side.py"),
                str(counts),
                str(result),
                str(ACRO_THRESHOLD),
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            cwd=tmp,
        )
        if done.returncode != 0:
            raise RuntimeError(f"acro_side.py failed:\n{done.stderr[-3000:]}")
        return json.loads(result.read_text())


def _audit_acro(
    cells: pd.DataFrame, structure, acro_hidden: np.ndarray, totals_known: bool, attackers: list
) -> int:
    """Our auditor on ACRO's pattern: cells narrowed below width 5 among ACRO's 1..5 cells.

    ACRO's ``c`` means 0..5 (it suppresses count < 6, zeros too). Its margins are sums of the
    cells it shows, which say nothing about a hidden cell; so as published the true totals are
    unknown to a reader (``totals_known=False``). With ``totals_known=True`` the true LA and
    England totals are known from elsewhere (a Total-only table, our own release, DfE's
    statistics): what ACRO's primary-only pattern then gives away.
    """
    from privacy.audit import audit

    count = cells["count"].to_numpy(np.int64)
    la_level = (cells["geographic_level"] == "Local authority").to_numpy()
    is_total = (cells["breakdown_topic"] == "Total").to_numpy()
    national = (cells["geographic_level"] == "National").to_numpy()
    in_table = (la_level & ~is_total) | (la_level & is_total) | national
    frame = cells[in_table].reset_index(drop=True)
    # ACRO's table has no regions: its "All" row sums the LAs straight into England.
    frame["parent_code"] = frame["parent_code"].where(frame["parent_code"] == "", ENGLAND)
    hidden = acro_hidden[in_table]
    c = count[in_table]
    margins = (frame["breakdown_topic"] == "Total").to_numpy() | (
        frame["geographic_level"] == "National"
    ).to_numpy()
    unknown = np.zeros(len(frame), bool) if totals_known else margins & ~hidden
    out = frame.copy()
    out["published"] = pd.array(np.where(hidden | unknown, 0, c), dtype="Int64")
    out.loc[hidden | unknown, "published"] = pd.NA
    out["symbol"] = np.where(hidden, "c", "")
    victim = hidden & (c >= 1) & (c <= 5)
    out["status"] = np.where(victim, "primary", np.where(hidden | unknown, "secondary", "exact"))
    out["known_lower"] = np.where(hidden | unknown, 0.0, c.astype(float))
    upper = np.where(hidden, float(ACRO_THRESHOLD - 1), c.astype(float))
    out["known_upper"] = np.where(unknown, np.inf, upper)
    report = audit(out, structure, protection_width=5, attackers=attackers)
    return int(report.summary()["cells_narrowed"])


def _acro(data: Path) -> list[Figure]:
    python, how = _acro_python(data)
    if python is None:
        print(f"  ACRO UNAVAILABLE ({how}): the ACRO figures are MISSING", flush=True)
        return []
    from privacy.audit import audit
    from privacy.policy import DFE
    from privacy.suppression import protect

    cells, structure = _acro_cells()
    attackers = _national_attackers(cells)
    la_level = (cells["geographic_level"] == "Local authority").to_numpy()
    national = (cells["geographic_level"] == "National").to_numpy()
    is_total = (cells["breakdown_topic"] == "Total").to_numpy()
    count = cells["count"].to_numpy(np.int64)

    # Ours: DFE (1..5 -> c, zeros shown, England and regions rounded to 10), audited.
    protected = protect(cells, structure, DFE, attackers=attackers)
    report = audit(protected, structure, protection_width=DFE.protection_width, attackers=attackers)
    ours_hidden = protected["symbol"].eq("c").to_numpy()
    shown = protected["published"]

    # ACRO on the same LA x ethnicity cells, as records.
    interior = la_level & ~is_total
    table = pd.DataFrame(
        {
            "row": cells.loc[interior, "area_code"],
            "col": cells.loc[interior, "breakdown"],
            "count": count[interior],
        }
    )
    acro = _run_acro(python, table)
    got = pd.DataFrame(acro["cells"])
    # Map ACRO's table onto our cells: interior, LA "All" = LA Total, "All" row = England.
    england = ENGLAND
    got["area_code"] = got["row"].where(got["row"] != "All", england)
    got["breakdown"] = got["col"].where(got["col"] != "All", "Total")
    keyed = cells[["area_code", "breakdown"]].assign(position=np.arange(len(cells)))
    keyed = keyed[la_level | national]
    joined = got.merge(keyed, on=["area_code", "breakdown"], how="left", validate="one_to_one")
    if joined["position"].isna().any():
        raise RuntimeError("ACRO's table has cells the cell frame lacks")
    pos = joined["position"].to_numpy(np.int64)
    acro_hidden = np.zeros(len(cells), bool)
    acro_hidden[pos] = joined["suppressed"].to_numpy(bool)
    acro_value = np.full(len(cells), np.nan)
    acro_value[pos] = joined["value"].to_numpy(float)
    compared = np.zeros(len(cells), bool)
    compared[pos] = True  # the cells both publish: LA x category, LA totals, England row

    def side(hidden: np.ndarray) -> tuple[int, int, int]:
        h = hidden & compared
        return int(h.sum()), int((h & (count > 0)).sum()), int(count[h].sum())

    ours_n, ours_n_nonzero, ours_v = side(ours_hidden)
    acro_n, acro_n_nonzero, acro_v = side(acro_hidden)
    la_total = la_level & is_total
    eng_total = national & is_total
    ours_pub = shown.to_numpy(dtype=float, na_value=np.nan)
    ours_err = np.abs(ours_pub - count)[la_total]
    acro_err = np.abs(acro_value - count)[la_total]
    ours_eng = float(abs(ours_pub[eng_total][0] - count[eng_total][0]))
    acro_eng = float(abs(acro_value[eng_total][0] - count[eng_total][0]))
    narrowed = int(report.summary()["cells_narrowed"])
    primaries = int((protected["status"] == "primary").sum())
    acro_as_published = _audit_acro(cells, structure, acro_hidden, False, attackers)
    acro_totals_known = _audit_acro(cells, structure, acro_hidden, True, attackers)
    acro_victims = int((acro_hidden & compared & (count >= 1) & (count <= 5)).sum())

    print(
        f"  table: {ACRO_INDICATOR} numerator by {ACRO_TOPIC}, {int(la_total.sum())} LAs, "
        f"{int(count[eng_total][0])} children; ACRO {acro['acro_version']} on "
        f"{acro['records']} records (venv {how}), safe_threshold={acro['safe_threshold']}, "
        "zeros_are_disclosive=False",
        flush=True,
    )
    print(
        "  compared cells: LA x category, LA totals, England by category and total "
        "(ours also publishes regions, not counted)",
        flush=True,
    )
    print(f"  {'':38s} {'ours (DFE)':>12s} {'ACRO':>12s}", flush=True)
    for label, o, a in [
        ("cells suppressed", ours_n, acro_n),
        ("  of which true zeros", ours_n - ours_n_nonzero, acro_n - acro_n_nonzero),
        ("total value suppressed", ours_v, acro_v),
        (
            "LA totals suppressed",
            int((ours_hidden & la_total).sum()),
            int((acro_hidden & la_total).sum()),
        ),
        (
            "LA total |error| mean (shown)",
            f"{np.nanmean(ours_err):.2f}",
            f"{np.nanmean(acro_err):.2f}",
        ),
        (
            "LA total |error| max (shown)",
            f"{np.nanmax(ours_err):.0f}",
            f"{np.nanmax(acro_err):.0f}",
        ),
        ("England total |error|", f"{ours_eng:.0f}", f"{acro_eng:.0f}"),
        ("cells narrowed by our auditor", narrowed, acro_as_published),
        ("  ... if true totals known elsewhere", "-", acro_totals_known),
    ]:
        print(f"  {label:38s} {o!s:>12s} {a!s:>12s}", flush=True)
    print(
        f"  (our auditor audited {primaries} primary cells of ours and {acro_victims} of "
        "ACRO's 1..5 cells)",
        flush=True,
    )

    return [
        Figure(
            "ACRO: England total |error|, ours (rounded to 10) vs ACRO",
            ours_eng,
            "children",
            "ACRO",
            acro_eng,
            1.0,
        ),
        Figure(
            "ACRO: mean |error| of shown LA totals, ours vs ACRO",
            float(np.nanmean(ours_err)),
            "children",
            "ACRO",
            float(np.nanmean(acro_err)),
            1.0,
        ),
        Figure(
            "ACRO: cells suppressed, ours vs ACRO (reported, no target)",
            ours_n,
            "cells",
            "ACRO",
            acro_n,
            NOT_APPLICABLE,
        ),
        Figure(
            "ACRO: value suppressed, ours vs ACRO (reported, no target)",
            ours_v,
            "children",
            "ACRO",
            acro_v,
            NOT_APPLICABLE,
        ),
        # Target 0 narrowed: as a ratio to the primary cells audited, the target ratio is 0.
        Figure(
            "ACRO: our release, cells narrowed by our auditor / primary cells (target 0)",
            narrowed,
            "cells",
            "primary cells audited",
            primaries,
            0.0,
        ),
        Figure(
            "ACRO: ACRO's pattern with true totals known elsewhere, cells narrowed by our "
            "auditor / its 1..5 cells (reported, no target)",
            acro_totals_known,
            "cells",
            "ACRO's 1..5 cells",
            acro_victims,
            NOT_APPLICABLE,
        ),
    ]


def benchmarks() -> list[Benchmark]:
    return [
        Benchmark("privacy: secondary suppression quality vs MILP optimum", _quality),
        Benchmark("privacy: national release speed", _speed),
        Benchmark("privacy: ACRO comparison", _acro),
    ]
