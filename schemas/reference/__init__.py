"""Reference data: English LAs, their history, regions, neighbours and child population.

Every upload to the exchange names a local authority (LA) and a period; every comparison needs the
LA's region, its statistical neighbours and a child-population denominator. This module is the one
place those facts come from. It is a pure library (pandas/stdlib only) so the web app, the workers
and offline scripts all read exactly the same tables.

The CSVs in ``data/`` are byte-for-byte copies of ``../shared/reference`` (see
``data/PROVENANCE.md``: DfE/ONS data under the Open Government Licence v3). They are read once,
validated, and cached by :func:`load_reference`; a malformed file fails at start-up rather than at
the first upload.

Codes. DfE publishes two LA codes: the 3-digit "old" code (``old_la_code``, e.g. ``"370"``) and the
ONS GSS code (``new_la_code``, e.g. ``"E08000038"``). Every lookup accepts either. Old codes are
stable while an LA's area is unchanged, so they are the key for neighbours and population; GSS codes
change on re-coding (Barnsley and Sheffield on 2025-05-01) as well as on boundary changes.

Periods. An LA return for a period is valid for the codes operational on the period's *end* date
(see :meth:`ReferenceData.codes_valid_for`). DfE "reporting year" ``2021`` is the year ending
31 March 2021 (:func:`reporting_year_period`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Final, NamedTuple

import pandas as pd

__all__ = [
    "ENGLAND_CODE",
    "INNER_LONDON_CODES",
    "LONDON_REGION_CODE",
    "NEIGHBOUR_EDITIONS",
    "LocalAuthority",
    "Neighbour",
    "ReferenceData",
    "ReferenceDataError",
    "UnknownCodeError",
    "load_reference",
    "neighbour_edition_for_year",
    "reporting_year_period",
]

ENGLAND_CODE: Final = "E92000001"
LONDON_REGION_CODE: Final = "E12000007"
INNER_LONDON_REGION_CODE: Final = "E13000001"
OUTER_LONDON_REGION_CODE: Final = "E13000002"
NEIGHBOUR_EDITIONS: Final = (2021, 2025)

# Inner London as DfE LAIT and ONS statistics define it (ONS "Inner London" statistical area,
# E13000001, which DfE uses for its Inner/Outer London sub-regional rows): the 14 LAs below. It is
# NOT the London Government Act 1963 definition (that has Greenwich in and Haringey/Newham out).
# The child-population file's E13000001 row is the sum of exactly these LAs (checked by the tests).
INNER_LONDON_CODES: Final = frozenset(
    {
        "E09000001",  # City of London
        "E09000007",  # Camden
        "E09000012",  # Hackney
        "E09000013",  # Hammersmith and Fulham
        "E09000014",  # Haringey
        "E09000019",  # Islington
        "E09000020",  # Kensington and Chelsea
        "E09000022",  # Lambeth
        "E09000023",  # Lewisham
        "E09000025",  # Newham
        "E09000028",  # Southwark
        "E09000030",  # Tower Hamlets
        "E09000032",  # Wandsworth
        "E09000033",  # Westminster
    }
)

# Lineage corrections: the history file records only dates, so successors are inferred (see
# _infer_successors). These are the changes where the inference is known to be wrong.
_LINEAGE_CORRECTIONS: Final[dict[str, tuple[str, ...]]] = {
    # Bedfordshire county (820) was split on 2009-04-01 into Bedford and Central Bedfordshire
    # (The Bedfordshire (Structural Changes) Order 2008); name matching alone keeps only Central.
    "E10000001": ("E06000055", "E06000056"),
    # Dorset county (835) lost Christchurch to Bournemouth, Christchurch and Poole on 2019-04-01
    # (The Bournemouth, Dorset and Poole (Structural Changes) Order 2018), so it has two successors.
    "E10000009": ("E06000058", "E06000059"),
}

_GSS_CODE = re.compile(r"^[EKNSW]\d{8}$")
_OLD_CODE = re.compile(r"^\d{3}$")
_DATE_FORMAT: Final = "%d/%m/%Y"
_DATA_PACKAGE: Final = "schemas.reference"

_FILES: Final = {
    "las": "local_authorities_2025.csv",
    "history": "local_authorities_history.csv",
    "regions": "regions.csv",
    "neighbours_2021": "statistical_neighbours_2021.csv",
    "neighbours_2025": "statistical_neighbours_2025.csv",
    "population": "child_population_2012_to_2024.csv",
}


class ReferenceDataError(ValueError):
    """The packaged reference data is inconsistent (raised at load time)."""


class UnknownCodeError(KeyError):
    """A code is not a known LA (or region/England where those are accepted)."""


@dataclass(frozen=True, slots=True)
class LocalAuthority:
    """One LA code's record from the boundary history (live or terminated).

    ``old_la_code`` is ``None`` only for five county codes that ended on 2009-03-31 and never had a
    DfE 3-digit code in the source (shown there as ``x``).
    """

    old_la_code: str | None
    new_la_code: str
    la_name: str
    region_code: str
    region_name: str
    entity_code: str
    date_of_operation: date
    date_of_termination: date | None

    @property
    def is_live(self) -> bool:
        """True if the code has not been terminated."""
        return self.date_of_termination is None

    def operational_on(self, day: date) -> bool:
        """True if the code was in use on ``day`` (both ends of the operating range inclusive)."""
        ended = self.date_of_termination is not None and day > self.date_of_termination
        return self.date_of_operation <= day and not ended


class Neighbour(NamedTuple):
    """One statistical neighbour of an LA: ``(rank, old_la_code, la_name, closeness)``."""

    rank: int
    old_la_code: str
    la_name: str
    closeness: str


def reporting_year_period(year: int) -> tuple[date, date]:
    """First and last day of DfE reporting year ``year`` (the EES ``time_period``).

    DfE children's social care returns cover the year to 31 March, labelled by the year it ends:
    2021 → (2020-04-01, 2021-03-31).
    """
    _check_year(year)
    return date(year - 1, 4, 1), date(year, 3, 31)


def neighbour_edition_for_year(year: int) -> int:
    """Which statistical-neighbour list to use for reporting year ``year`` (year ending 31 March).

    Rule: the 2025 list for reporting years 2025 (2024-25) onwards, the 2021 list before. DfE
    replaced the April 2021 benchmarking model with the May 2025 one, whose first full use is the
    2024-25 data; earlier years keep the list they were published and benchmarked with, so historic
    comparisons are reproducible. Note the 2021 list has no neighbours for Cumberland (942) and
    Westmorland and Furness (943), which did not exist then: their 2023-24 (year 2024) comparisons
    have no neighbour set unless the caller chooses to fall back to the 2025 list.
    """
    _check_year(year)
    return 2025 if year >= 2025 else 2021


def _check_year(year: int) -> None:
    """Reject non-4-digit years early: an EES 6-digit code (202425) would silently mislead."""
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        raise ValueError(f"year must be a 4-digit reporting year (e.g. 2025), got {year!r}")


# --------------------------------------------------------------------------------------- loading


def _read_csv(name: str) -> pd.DataFrame:
    """Read a packaged CSV with every field as text, so codes like ``"020"`` or ``"x"`` survive."""
    with (resources.files(_DATA_PACKAGE) / "data" / name).open("rb") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


def _to_dates(values: pd.Series) -> pd.Series:
    """Parse the source's dd/mm/yyyy dates; empty means "no date" (NaT)."""
    return pd.to_datetime(values.where(values != ""), format=_DATE_FORMAT)


def _build_regions(raw: pd.DataFrame) -> pd.DataFrame:
    """Regions (E12) plus the ONS Inner/Outer London statistical areas (E13), parented to London."""
    regions = raw[["region_code", "region_name"]].reset_index(drop=True)
    parents = [LONDON_REGION_CODE if c.startswith("E13") else None for c in regions["region_code"]]
    return regions.assign(parent_region_code=pd.Series(parents, dtype="str"))


def _build_history(raw: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Every real LA code with parsed dates.

    Dropped: the combined pseudo-rows ("E06000061 / E06000062" etc., which DfE uses for joint
    services and are not codes) and the "z" row for British Forces overseas (not an LA).
    """
    rows = raw[raw["new_la_code"].str.fullmatch(_GSS_CODE.pattern)].copy()
    history = pd.DataFrame(
        {
            "new_la_code": rows["new_la_code"],
            "old_la_code": rows["old_la_code"].where(rows["old_la_code"] != "x"),
            "la_name": rows["la_name"],
            "region_code": rows["parent_geography_code"],
            "entity_code": rows["entity_code"],
            "entity_description": rows["entity_description"],
            "date_of_operation": _to_dates(rows["date_of_operation"]),
            "date_of_termination": _to_dates(rows["date_of_termination"]),
            "status": rows["status"],
        }
    )
    names = regions.set_index("region_code")["region_name"]
    history.insert(4, "region_name", history["region_code"].map(names))
    _check_history(history)
    return history.sort_values("new_la_code").reset_index(drop=True)


def _check_history(history: pd.DataFrame) -> None:
    """Fail loudly on the inconsistencies every lookup below would otherwise trip over."""
    if history["new_la_code"].duplicated().any():
        raise ReferenceDataError("duplicate new_la_code in LA history")
    if history["region_name"].isna().any() or history["date_of_operation"].isna().any():
        raise ReferenceDataError("LA history row without a known region or operation date")
    terminated = history["date_of_termination"].notna()
    if not (terminated == (history["status"] == "terminated")).all():
        raise ReferenceDataError("LA history status disagrees with date_of_termination")
    bad_old = history["old_la_code"].notna() & ~history["old_la_code"].fillna("").str.fullmatch(
        _OLD_CODE.pattern
    )
    if bad_old.any():
        raise ReferenceDataError("LA history has a malformed old_la_code")


def _build_las(raw: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """The live LAs, checked against the history so the two files can never disagree silently."""
    las = raw[
        [
            "old_la_code",
            "new_la_code",
            "la_name",
            "region_code",
            "region_name",
            "entity_code",
            "entity_description",
        ]
    ].copy()
    las["date_of_operation"] = _to_dates(raw["date_of_operation"])
    live = history[history["date_of_termination"].isna()]
    merged = las.merge(live, on="new_la_code", how="outer", suffixes=("", "_h"), indicator=True)
    compared = ["old_la_code", "la_name", "region_code", "date_of_operation"]
    mismatch = (merged["_merge"] != "both") | pd.concat(
        [merged[c] != merged[f"{c}_h"] for c in compared], axis=1
    ).any(axis=1)
    if mismatch.any():
        codes = sorted(merged.loc[mismatch, "new_la_code"])
        raise ReferenceDataError(f"live LA list and LA history disagree for {codes}")
    if las["old_la_code"].duplicated().any():
        raise ReferenceDataError("duplicate old_la_code among live LAs")
    return las.sort_values("old_la_code").reset_index(drop=True)


def _build_neighbours(raw_by_edition: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Both neighbour editions in one long table.

    Normalised: closeness to sentence case (2021 says "Very Close", 2025 "Very close"); the 2021
    placeholder rows for Cumberland/Westmorland and Furness (neighbour "-") are dropped, so those
    LAs simply have no 2021 neighbours. The file's own ``la_name`` is dropped because its spellings
    differ from the LA list ("Durham", "Bedford Borough"); names come from the LA history instead.
    """
    frames = []
    for edition, raw in raw_by_edition.items():
        rows = raw[raw["neighbour_code"] != "-"]
        frames.append(
            pd.DataFrame(
                {
                    "edition": edition,
                    "la_code": rows["la_code"],
                    "rank": rows["rank"].astype(int),
                    "neighbour_code": rows["neighbour_code"],
                    "closeness": rows["closeness"].str.capitalize(),
                }
            )
        )
    neighbours = pd.concat(frames, ignore_index=True)
    if neighbours.duplicated(["edition", "la_code", "rank"]).any():
        raise ReferenceDataError("duplicate neighbour rank")
    return neighbours.sort_values(["edition", "la_code", "rank"]).reset_index(drop=True)


def _build_population(raw: pd.DataFrame) -> pd.DataFrame:
    """Children aged 0-17 by year and area; "x" (not available) becomes <NA>.

    ``area_code`` is the code as published: note DfE still codes Barnsley/Sheffield E08000016/19
    here, which is why lookups go through ``old_la_code`` for LAs.
    """
    level = raw["geographic_level"]
    area_code = raw["new_la_code"].where(level == "Local authority", raw["region_code"])
    area_code = area_code.where(level != "National", raw["country_code"])
    area_name = raw["la_name"].where(level == "Local authority", raw["region_name"])
    area_name = area_name.where(level != "National", raw["country_name"])
    population = pd.to_numeric(raw["population_estimate"].replace("x", pd.NA)).astype("Int64")
    frame = pd.DataFrame(
        {
            "year": raw["time_period"].astype(int),
            "geographic_level": level,
            "area_code": area_code,
            "area_name": area_name,
            "old_la_code": raw["old_la_code"].where(raw["old_la_code"] != ""),
            "region_code": raw["region_code"].where(raw["region_code"] != ""),
            "population": population,
        }
    )
    key = frame["old_la_code"].fillna(frame["area_code"])
    if pd.concat([frame["year"], key], axis=1).duplicated().any():
        raise ReferenceDataError("duplicate child population row")
    return frame


def _record(row: pd.Series) -> LocalAuthority:
    """A history row as an immutable record with plain ``date`` values."""
    terminated = row["date_of_termination"]
    return LocalAuthority(
        old_la_code=None if pd.isna(row["old_la_code"]) else str(row["old_la_code"]),
        new_la_code=row["new_la_code"],
        la_name=row["la_name"],
        region_code=row["region_code"],
        region_name=row["region_name"],
        entity_code=row["entity_code"],
        date_of_operation=row["date_of_operation"].date(),
        date_of_termination=None if pd.isna(terminated) else terminated.date(),
    )


def _names_overlap(a: str, b: str) -> bool:
    """Loose name match: Durham ~ County Durham, Poole ~ Bournemouth, Christchurch and Poole."""
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def _infer_successors(records: dict[str, LocalAuthority]) -> dict[str, tuple[str, ...]]:
    """Successor GSS codes of each terminated code, inferred from the history file's dates.

    Candidates are codes in the same region that began the day after the code ended. If one shares
    the old 3-digit code it is a re-coding (Gateshead 2013, Barnsley 2025) and is the only
    successor; else candidates whose name overlaps are kept (Durham → County Durham), else all
    (Cumbria → Cumberland, Westmorland and Furness). Known misfits: see _LINEAGE_CORRECTIONS.
    """
    successors: dict[str, tuple[str, ...]] = {}
    for code, ended in records.items():
        if ended.date_of_termination is None:
            continue
        day_after = ended.date_of_termination + timedelta(days=1)
        candidates = [
            r
            for r in records.values()
            if r.region_code == ended.region_code and r.date_of_operation == day_after
        ]
        same_old = [
            r for r in candidates if ended.old_la_code and r.old_la_code == ended.old_la_code
        ]
        named = [r for r in candidates if _names_overlap(r.la_name, ended.la_name)]
        chosen = same_old or named or candidates
        successors[code] = tuple(sorted(r.new_la_code for r in chosen))
    successors.update(_LINEAGE_CORRECTIONS)
    return successors


def _index_neighbours(
    lists: pd.DataFrame, names: dict[str, str]
) -> dict[tuple[int, str], tuple[Neighbour, ...]]:
    """``(edition, old code) → neighbours in rank order``, names taken from the LA history."""
    unknown = sorted((set(lists["la_code"]) | set(lists["neighbour_code"])) - names.keys())
    if unknown:
        raise ReferenceDataError(f"statistical neighbour lists use unknown LA codes {unknown}")
    index: dict[tuple[int, str], list[Neighbour]] = {}
    for edition, la_code, rank, nb, closeness in lists[
        ["edition", "la_code", "rank", "neighbour_code", "closeness"]
    ].itertuples(index=False):
        neighbour = Neighbour(int(rank), nb, names[nb], closeness)
        index.setdefault((int(edition), la_code), []).append(neighbour)
    return {key: tuple(sorted(value)) for key, value in index.items()}


def _as_date(day: date) -> date:
    """Accept datetimes/Timestamps too; comparing them with ``date`` would raise TypeError."""
    return day.date() if isinstance(day, datetime) else day


def _invert(successors: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Predecessor map from the successor map."""
    predecessors: dict[str, list[str]] = {}
    for old, news in successors.items():
        for new in news:
            predecessors.setdefault(new, []).append(old)
    return {new: tuple(sorted(olds)) for new, olds in predecessors.items()}


# ------------------------------------------------------------------------------------ the object


@dataclass(frozen=True, eq=False)
class ReferenceData:
    """All reference tables, loaded once. Treat the DataFrames as read-only: they are shared.

    Attributes:
        las: the live LAs (one row each): old_la_code, new_la_code, la_name, region_code,
            region_name, entity_code, entity_description, date_of_operation.
        history: every real LA code, live and terminated, with date_of_operation and
            date_of_termination (NaT while live) and status.
        regions: region_code, region_name, parent_region_code (E12000007 for Inner/Outer London).
        neighbour_lists: edition, la_code, rank, neighbour_code, closeness (old codes).
        population: year, geographic_level, area_code, area_name, old_la_code, region_code,
            population (Int64, <NA> where published as "x").
    """

    las: pd.DataFrame
    history: pd.DataFrame
    regions: pd.DataFrame
    neighbour_lists: pd.DataFrame
    population: pd.DataFrame
    _by_new: dict[str, LocalAuthority] = field(repr=False)
    _by_old: dict[str, tuple[LocalAuthority, ...]] = field(repr=False)
    _successors: dict[str, tuple[str, ...]] = field(repr=False)
    _predecessors: dict[str, tuple[str, ...]] = field(repr=False)
    _population_index: dict[tuple[str, int], int | None] = field(repr=False)
    _neighbour_index: dict[tuple[int, str], tuple[Neighbour, ...]] = field(repr=False)
    _region_codes: frozenset[str] = field(repr=False)

    @classmethod
    def from_tables(
        cls,
        las: pd.DataFrame,
        history: pd.DataFrame,
        regions: pd.DataFrame,
        neighbour_lists: pd.DataFrame,
        population: pd.DataFrame,
    ) -> ReferenceData:
        """Build the lookup indexes once, so per-row validation lookups are dictionary hits."""
        by_new = {r.new_la_code: r for r in (_record(row) for _, row in history.iterrows())}
        by_old: dict[str, list[LocalAuthority]] = {}
        for record in sorted(by_new.values(), key=lambda r: r.date_of_operation, reverse=True):
            if record.old_la_code is not None:
                by_old.setdefault(record.old_la_code, []).append(record)
        successors = _infer_successors(by_new)
        key = population["old_la_code"].fillna(population["area_code"])
        values = [None if pd.isna(v) else int(v) for v in population["population"]]
        names = {old: records[0].la_name for old, records in by_old.items()}
        return cls(
            las=las,
            history=history,
            regions=regions,
            neighbour_lists=neighbour_lists,
            population=population,
            _by_new=by_new,
            _by_old={old: tuple(records) for old, records in by_old.items()},
            _successors=successors,
            _predecessors=_invert(successors),
            _population_index=dict(
                zip(zip(key, population["year"], strict=True), values, strict=True)
            ),
            _neighbour_index=_index_neighbours(neighbour_lists, names),
            _region_codes=frozenset(regions["region_code"]),
        )

    # ------------------------------------------------------------------------------- LA lookups

    def la(self, code: str) -> LocalAuthority:
        """The LA record for an old (3-digit) or new (GSS) code.

        A GSS code gives exactly that code's record, live or terminated (E08000016 → the terminated
        Barnsley record). An old code gives the live LA using it, or, if none is live (909 Cumbria,
        928 Northamptonshire), its most recent record. Raises UnknownCodeError otherwise.
        """
        if code in self._by_new:
            return self._by_new[code]
        if code in self._by_old:
            return self._by_old[code][0]
        raise UnknownCodeError(code)

    def la_name(self, code: str) -> str:
        """The LA's name (reference spelling, e.g. "Kingston upon Hull, City of")."""
        return self.la(code).la_name

    def region_of(self, code: str) -> tuple[str, str]:
        """``(region_code, region_name)`` of an LA given by old or new code."""
        record = self.la(code)
        return record.region_code, record.region_name

    def is_london(self, code: str) -> bool:
        """True for the 33 London LAs (32 boroughs and the City of London)."""
        return self.la(code).region_code == LONDON_REGION_CODE

    def london_subregion(self, code: str) -> str | None:
        """The London sub-region, "Inner London" or "Outer London", of a London LA, else None.

        Inner London is the ONS/DfE statistical definition (see INNER_LONDON_CODES).
        """
        record = self.la(code)
        if record.region_code != LONDON_REGION_CODE:
            return None
        return "Inner London" if record.new_la_code in INNER_LONDON_CODES else "Outer London"

    # --------------------------------------------------------------------------- period validity

    def codes_valid_for(
        self, start: date, end: date, *, include_aliases: bool = True
    ) -> pd.DataFrame:
        """LA codes a return for the period ``start``..``end`` may use.

        Rule: a code is valid if it was operational on the period's END date. Returns describe the
        LA that exists when the period closes and is responsible for the data: the year ending
        31 March 2021 still belongs to Northamptonshire (928, ended that day), 2021-22 to North and
        West Northamptonshire (940/941); Cumbria (909) runs to 2022-23 and Cumberland (942) /
        Westmorland and Furness (943) from 2023-24. ``start`` only has to precede ``end``: an LA
        that ceased inside the period does not submit for it.

        Barnsley/Sheffield fall out of the same rule: their old GSS codes run to 2025-04-30, so
        2024-25 returns use E08000016/E08000019 (as DfE's 2025 data does) and periods ending on or
        after 2025-05-01 use E08000038/E08000039. With ``include_aliases`` the superseded codes of
        such re-codings are also returned, with ``alias_of`` naming the code to use instead (see
        :meth:`code_aliases`); canonical rows have ``alias_of`` <NA>.

        Columns: old_la_code, new_la_code, la_name, region_code, region_name, alias_of.
        """
        start, end = _as_date(start), _as_date(end)
        if start > end:
            raise ValueError(f"period start {start} is after its end {end}")
        rows = [r for r in self._by_new.values() if r.operational_on(end)]
        valid = pd.DataFrame(
            {
                "old_la_code": [r.old_la_code for r in rows],
                "new_la_code": [r.new_la_code for r in rows],
                "la_name": [r.la_name for r in rows],
                "region_code": [r.region_code for r in rows],
                "region_name": [r.region_name for r in rows],
                "alias_of": pd.Series([pd.NA] * len(rows), dtype="str"),
            }
        )
        if include_aliases:
            aliases = self.code_aliases(end).rename(
                columns={"new_la_code": "alias_of", "alias_code": "new_la_code"}
            )
            valid = pd.concat([valid, aliases[valid.columns]], ignore_index=True)
        return valid.sort_values(["old_la_code", "new_la_code"]).reset_index(drop=True)

    def code_aliases(self, on: date | None = None) -> pd.DataFrame:
        """Superseded GSS codes still accepted, each with the code that replaced it.

        A terminated code is an alias when a code operational on ``on`` (default: the live codes)
        has the same old 3-digit code and the same name: the LA was re-coded, not re-drawn. This
        covers Barnsley/Sheffield (2025) and, by the same rule, Gateshead and Northumberland
        (2013), Buckinghamshire (2020), North Yorkshire and Somerset (2023). Real boundary changes
        (Cumbria, Northamptonshire, Dorset) have different old codes or names and are not aliases.

        Columns: alias_code, new_la_code, old_la_code, la_name, region_code, region_name,
        alias_terminated (date the alias stopped being the official code).
        """
        on = None if on is None else _as_date(on)
        current = {
            (r.old_la_code, r.la_name): r
            for r in self._by_new.values()
            if (r.is_live if on is None else r.operational_on(on))
        }
        rows = []
        for r in self._by_new.values():
            ended = r.date_of_termination is not None and (on is None or r.date_of_termination < on)
            ended = ended and r.old_la_code is not None
            target = current.get((r.old_la_code, r.la_name)) if ended else None
            if target is not None and target.new_la_code != r.new_la_code:
                rows.append(
                    {
                        "alias_code": r.new_la_code,
                        "new_la_code": target.new_la_code,
                        "old_la_code": r.old_la_code,
                        "la_name": r.la_name,
                        "region_code": r.region_code,
                        "region_name": r.region_name,
                        "alias_terminated": r.date_of_termination,
                    }
                )
        columns = [
            "alias_code",
            "new_la_code",
            "old_la_code",
            "la_name",
            "region_code",
            "region_name",
            "alias_terminated",
        ]
        return pd.DataFrame(rows, columns=columns).sort_values("alias_code").reset_index(drop=True)

    # ---------------------------------------------------------------------------------- lineage

    def successors(self, code: str) -> list[LocalAuthority]:
        """Codes that directly replaced ``code`` (one step), for aligning time series.

        A GSS code gives that code's successors (E10000006 Cumbria → Cumberland, Westmorland and
        Furness; E08000016 → E08000038). An old code stands for all its GSS codes, and successors
        sharing it are left out, since the series under that old code continues unbroken
        ("909" → 942, 943; "370" → none). Empty for live codes.
        """
        return self._lineage(code, self._successors)

    def predecessors(self, code: str) -> list[LocalAuthority]:
        """Codes that ``code`` directly replaced (one step); the inverse of :meth:`successors`."""
        return self._lineage(code, self._predecessors)

    def _lineage(self, code: str, links: dict[str, tuple[str, ...]]) -> list[LocalAuthority]:
        """Follow one step of ``links`` from the GSS code(s) that ``code`` denotes."""
        if code in self._by_new:
            sources = {code}
        elif code in self._by_old:
            sources = {r.new_la_code for r in self._by_old[code]}
        else:
            raise UnknownCodeError(code)
        linked = {target for source in sources for target in links.get(source, ())}
        return [self._by_new[c] for c in sorted(linked - sources)]

    # ----------------------------------------------------------------------- statistical neighbours

    def statistical_neighbours(self, code: str, edition: int = 2025) -> list[Neighbour]:
        """The LA's statistical neighbours in rank order from DfE's 2021 or 2025 list.

        Accepts old or new codes (the lists use old codes). An LA absent from that edition (909
        Cumbria in 2025; 942/943 in 2021) gets an empty list rather than an error: "no neighbours
        published" is a normal state for benchmarking, an unknown code is not.
        """
        if edition not in NEIGHBOUR_EDITIONS:
            raise ValueError(f"edition must be one of {NEIGHBOUR_EDITIONS}, got {edition!r}")
        old = self.la(code).old_la_code
        return list(self._neighbour_index.get((edition, old or ""), ()))

    neighbour_edition_for_year = staticmethod(neighbour_edition_for_year)

    # --------------------------------------------------------------------------------- population

    def child_population(self, code_or_level: str, year: int) -> int | None:
        """ONS mid-year estimate of children aged 0-17 in ``year`` (2012-2024), or None if absent.

        ``code_or_level``: an LA old or new code, a region code (E12…, or E13000001/2 for
        Inner/Outer London), or England (``"E92000001"`` or ``"England"``). LAs are looked up by old
        code because the area is unchanged while the old code is (so E08000038 Barnsley finds the
        figures coded E08000016). None when the area did not exist that year (942 before 2023) or
        the figure is published as "x" (Bournemouth, Poole, Dorset 835 in 2012-2018).
        """
        return self._population_index.get((self._population_key(code_or_level), year))

    def _population_key(self, code: str) -> str:
        """Index key: England and regions by their code, LAs by old code."""
        if code in (ENGLAND_CODE, "England"):
            return ENGLAND_CODE
        if code in self._region_codes:
            return code
        record = self.la(code)
        return record.old_la_code or record.new_la_code

    def child_population_frame(self) -> pd.DataFrame:
        """A copy of the whole population table, for bulk rate calculations."""
        return self.population.copy()

    # --------------------------------------------------------------------------------- export

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Tidy copies of every table, ready to load into a database.

        Keys: ``las``, ``la_history``, ``regions``, ``statistical_neighbours`` (with ``edition``),
        ``child_population``. Dates are datetime64 (NaT = none); missing values are <NA>.
        """
        return {
            "las": self.las.copy(),
            "la_history": self.history.copy(),
            "regions": self.regions.copy(),
            "statistical_neighbours": self.neighbour_lists.copy(),
            "child_population": self.population.copy(),
        }


@cache
def load_reference() -> ReferenceData:
    """Load, validate and index the packaged reference data (once per process)."""
    regions = _build_regions(_read_csv(_FILES["regions"]))
    history = _build_history(_read_csv(_FILES["history"]), regions)
    las = _build_las(_read_csv(_FILES["las"]), history)
    neighbours = _build_neighbours(
        {edition: _read_csv(_FILES[f"neighbours_{edition}"]) for edition in NEIGHBOUR_EDITIONS}
    )
    population = _build_population(_read_csv(_FILES["population"]))
    return ReferenceData.from_tables(las, history, regions, neighbours, population)
