"""Build the cell frame of a national release from LA-level rows.

A national release holds, for every indicator and breakdown cell, the counts of each LA and
their sums for its region (and Inner/Outer London for London LAs, as DfE publishes) and for
England. This module turns LA rows (an upload's columns: ``new_la_code``, ``indicator_id``,
``breakdown_topic``, ``breakdown`` and the count columns ``numerator``, ``denominator``,
``respondents``, ``n``) into the long *cell frame* the rest of :mod:`privacy` works on, with the
aggregates computed here so that every geography relation holds exactly by construction.

The library stays pure: the catalogue and reference data are passed in (duck-typed: the
objects of :mod:`schemas.catalogue` and :mod:`schemas.reference`), never imported.

Rules:

* Only count cells are released as counts: the columns a measure type lists in ``counts``.
  Values (percentages, rates, means) are derived from the protected counts by the release.
* A cell given as an EES symbol or left blank in an LA's return is missing: it contributes
  nothing to its region or England, and no row is made for it. An aggregate is the sum of the
  LA cells present, so "parent = sum of present children" is a true relation an attacker may
  use (and :func:`privacy.cells.build_relations` uses it).
* Rate denominators are the ONS child population (``rate_per_10000``), which is published
  anyway: those cells are ``public`` (never suppressed, known to every attacker).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .cells import LOCAL_AUTHORITY, MEASURES, NATIONAL, REGIONAL, Structure

__all__ = [
    "ENGLAND",
    "LONDON",
    "area_parents",
    "la_cells",
    "national_cells",
]

ENGLAND = "E92000001"
LONDON = "E12000007"
# Measure types whose denominator is the ONS child population, a public figure.
PUBLIC_DENOMINATOR_TYPES = frozenset({"rate_per_10000"})

KEY = ["indicator_id", "breakdown_topic", "breakdown", "measure"]


def area_parents(codes: list[str], reference: Any) -> pd.DataFrame:
    """One row per area of the geography: ``area_code``, ``geographic_level``, ``parent_code``.

    LAs sum into their region, except London LAs, which sum into Inner or Outer London
    (E13000001/2), which sum into London; regions sum into England.
    """
    rows: list[tuple[str, str, str]] = []
    subregions: set[str] = set()
    regions: set[str] = set()
    for code in sorted(set(codes)):
        region, _ = reference.region_of(code)
        parent = region
        sub = reference.london_subregion(code)
        if sub is not None:
            parent = "E13000001" if sub == "Inner London" else "E13000002"
            subregions.add(parent)
        regions.add(region)
        rows.append((code, LOCAL_AUTHORITY, parent))
    rows += [(s, REGIONAL, LONDON) for s in sorted(subregions)]
    rows += [(r, REGIONAL, ENGLAND) for r in sorted(regions)]
    rows.append((ENGLAND, NATIONAL, ""))
    return pd.DataFrame(rows, columns=["area_code", "geographic_level", "parent_code"])


def la_cells(rows: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """The LA count cells of ``rows`` (long: one row per LA, indicator, breakdown cell, measure).

    Count columns may be text (as read from a file) or numbers; blanks and EES symbols are
    dropped. ``public`` marks rate denominators.
    """
    measures = {
        ind.id: catalogue.measure_types[ind.measure_type] for ind in catalogue.indicators.values()
    }
    present = [m for m in MEASURES if m in rows.columns]
    long = rows.melt(
        id_vars=["new_la_code", "indicator_id", "breakdown_topic", "breakdown"],
        value_vars=present,
        var_name="measure",
        value_name="raw",
    )
    count = pd.to_numeric(long["raw"], errors="coerce")
    counted = pd.Series(
        [f"{i}\x1f{m}" for i, mt in measures.items() for m in mt.counts], dtype="string"
    )
    wanted = (long["indicator_id"].astype("string") + "\x1f" + long["measure"]).isin(counted)
    keep = count.notna().to_numpy() & wanted.to_numpy()
    out = long.loc[keep, ["new_la_code", "indicator_id", "breakdown_topic", "breakdown", "measure"]]
    out = out.rename(columns={"new_la_code": "area_code"})
    out["count"] = count[keep].astype("int64").to_numpy()
    public_ids = {i for i, mt in measures.items() if mt.id in PUBLIC_DENOMINATOR_TYPES}
    out["public"] = (out["measure"] == "denominator").to_numpy() & out["indicator_id"].isin(
        public_ids
    ).to_numpy()
    for col in ("area_code", "indicator_id", "breakdown_topic", "breakdown", "measure"):
        out[col] = out[col].astype(str)
    return out.reset_index(drop=True)


def _sum_up(children: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Sum child cells into their parents (one level)."""
    with_parent = children.merge(areas[["area_code", "parent_code"]], on="area_code")
    summed = with_parent.groupby(["parent_code", *KEY], sort=False, observed=True).agg(
        count=("count", "sum"), public=("public", "all")
    )
    return summed.reset_index().rename(columns={"parent_code": "area_code"})


def national_cells(rows: pd.DataFrame, catalogue: Any, reference: Any) -> tuple[pd.DataFrame, Any]:
    """The cell frame (LA, Inner/Outer London, regions, England) and its :class:`Structure`.

    ``rows``: LA-level upload rows for ONE period (the caller filters to what is shared at
    national level). Returns cells ordered England, regions, LAs.
    """
    las = la_cells(rows, catalogue)
    areas = area_parents(las["area_code"].unique().tolist(), reference)
    la_level = las
    subs = areas.loc[areas["area_code"].isin(["E13000001", "E13000002"]), "area_code"]
    london_las = la_level.merge(areas, on="area_code")["parent_code"].isin(subs).to_numpy()
    # London LAs -> Inner/Outer London -> London; other LAs -> their region directly.
    sub_cells = _sum_up(la_level[london_las], areas)
    region_cells = _sum_up(pd.concat([la_level[~london_las], sub_cells]), areas)
    england = _sum_up(region_cells, areas)
    cells = pd.concat([england, region_cells, sub_cells, las], ignore_index=True)
    cells = cells.merge(areas, on="area_code", how="left", validate="many_to_one")
    cells["count"] = cells["count"].astype("int64")
    cells["public"] = cells["public"].astype(bool)
    order = [
        "geographic_level",
        "area_code",
        "parent_code",
        "indicator_id",
        "breakdown_topic",
        "breakdown",
        "measure",
        "count",
        "public",
    ]
    structure = Structure(
        additive_topics=frozenset(b.id for b in catalogue.breakdowns.values() if b.additive)
    )
    return cells[order].reset_index(drop=True), structure
