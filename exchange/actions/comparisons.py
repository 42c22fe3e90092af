"""Comparisons: each LA against its statistical neighbours, region, alliances and England, and
its improvement progress.

:func:`recompute_comparisons` gathers

* every LA's **raw** values (its current submission version per reporting year): an LA sees its
  own figures exactly;
* the **protected** values of every LA from the current national release of each period
  (:mod:`exchange.actions.releases`; suppressed cells are absent), which is all an LA ever sees
  of another LA;
* England's published value per cell from the same releases;
* the comparison groups: DfE statistical neighbours, regions, alliances, England, and the
  "similar challenges" sets built from the context data administrators load
  (:mod:`exchange.actions.context`);
* improvement journeys and Ofsted judgements (:mod:`exchange.actions.journeys`);

runs the pure recompute (:func:`workers.analytics.pipeline.run_comparisons` and
:mod:`workers.analytics.progress`) and stores each LA's result as one encrypted file of a new
:class:`~exchange.models.ComparisonSet`, plus one shared file of what every LA may see of the
journeys (read from protected values only), and one file per alliance: its member LAs'
comparisons as any LA may see them (each member's protected value in place of its own, so no
raw value enters; :func:`_alliance_tables`). The new set becomes current in the same
transaction that supersedes the old one, so a view always shows one consistent set (and says
which releases it rests on), and a failed recompute leaves the previous set in place.

**Incremental.** A recompute works out what changed since the current set: the periods whose
national release changed (every LA's figures for that year and the next, whose change from the
previous year moves too) and the LAs whose submission versions changed (only that LA's own
figures: others see it through the release, which has not changed yet). It recomputes just
those LA x years, merges them into the LAs' previous files, and reuses the files of every LA
it did not touch. The alliance files are recomputed whenever a release changed, and reused
otherwise. Anything else that feeds every figure (alliances, context, journeys, the
analytics themselves: :data:`ANALYTICS_VERSION`) is summarised as the set's *basis*; when the
basis changes, everything is recomputed. Two recomputes racing each other cannot both win:
the switch supersedes exactly the set the recompute started from, or it starts again.

:func:`comparisons_for` reads one LA's file for a viewer the authorisation policy allows;
:func:`alliance_comparisons_for` reads an alliance's file for its own viewers;
:func:`shared_progress_for` reads the journeys every LA may see.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.files import read_file, store_file
from exchange.actions.releases import NATIONAL, release_frame
from exchange.db import one_transaction
from exchange.models import (
    AllianceMembership,
    ComparisonFile,
    ComparisonSet,
    ComparisonStatus,
    IndicatorValue,
    Organisation,
    OrganisationKind,
    Release,
    ReleaseStatus,
    StoredFile,
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.policy import Permission, Principal, allowed, may_act_for
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference

__all__ = [
    "ANALYTICS_VERSION",
    "ComparisonView",
    "SharedProgressView",
    "alliance_comparisons_for",
    "comparisons_for",
    "current_set",
    "recompute_comparisons",
    "shared_progress_for",
]

RECOMPUTED = "comparisons_recomputed"
PURPOSE = "comparison_results"
SHARED_PURPOSE = "comparison_shared_progress"
REPORTING_YEAR = "Reporting year"
ANALYTICS_VERSION = 4
"""Bumped whenever the analytics change what a stored file holds, so the next recompute
rebuilds every file instead of merging new rows into old ones."""
MAX_ATTEMPTS = 3
"""A recompute that loses the race to another one starts again from the new current set."""
_CELL = ["indicator_id", "period", "breakdown_topic", "breakdown"]
_KEY = ["la_code", *_CELL]
_VALUE_COLUMNS = ("percent", "rate_per_10000", "mean", "yes_no")
_BY_PERIOD = ("per_la", "per_group", "outcomes")
"""The tables of a file whose rows are per period (merged on an incremental recompute); the
others (trends, stage, similar sets) are rebuilt whole for each LA recomputed."""


@dataclass(frozen=True)
class _Version:
    id: int
    period: int
    org_id: int
    org_code: str
    la_code: str


@dataclass
class _Scope:
    """What to recompute: years per LA (new GSS code), and whether the shared journey tables."""

    years: dict[str, set[int]]
    shared: bool
    full: bool
    reused: dict[int, int] = field(default_factory=dict)  # organisation id -> file id


class _Raced(Exception):
    """Another recompute switched the current set first."""


# --------------------------------------------------------------------------------- gathering


def _versions(session: Session) -> list[_Version]:
    rows = session.execute(
        select(
            SubmissionVersion.id,
            Submission.time_period,
            Organisation.id,
            Organisation.code,
            Organisation.new_la_code,
        )
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .join(Organisation, Submission.organisation_id == Organisation.id)
        .where(
            SubmissionVersion.status == VersionStatus.CURRENT,
            Submission.time_identifier == REPORTING_YEAR,
            Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
        )
    ).all()
    return [
        _Version(v, int(period), org_id, org_code, code)
        for v, period, org_id, org_code, code in rows
        if code
    ]


def _raw(session: Session, versions: list[_Version]) -> pd.DataFrame:
    """The values of ``versions`` as a ValueFrame."""
    by_version = {v.id: v for v in versions}
    columns = ["version_id", "indicator_id", "breakdown_topic", "breakdown"]
    measures = ["value", "numerator", "denominator"]
    parts: list[pd.DataFrame] = []
    ids = list(by_version)
    # In chunks: a national recompute reads thousands of versions.
    for start in range(0, len(ids), 500):
        result = session.execute(
            select(
                IndicatorValue.version_id,
                IndicatorValue.indicator_id,
                IndicatorValue.breakdown_topic,
                IndicatorValue.breakdown,
                IndicatorValue.value,
                IndicatorValue.numerator,
                IndicatorValue.denominator,
            ).where(IndicatorValue.version_id.in_(ids[start : start + 500]))
        )
        parts.append(pd.DataFrame(result.all(), columns=columns + measures))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    version = frame["version_id"].astype("int64") if len(frame) else pd.Series(dtype="int64")
    return pd.DataFrame(
        {
            "la_code": version.map({v: x.la_code for v, x in by_version.items()}).astype(str),
            "indicator_id": frame["indicator_id"].astype(str),
            "period": version.map({v: str(x.period) for v, x in by_version.items()}).astype(str),
            "breakdown_topic": frame["breakdown_topic"].astype(str),
            "breakdown": frame["breakdown"].astype(str),
            **{c: pd.to_numeric(frame.get(c), errors="coerce").astype("float64") for c in measures},
        }
    )


def _current_releases(session: Session) -> dict[int, Release]:
    current = session.scalars(
        select(Release).where(
            Release.channel == NATIONAL,
            Release.status == ReleaseStatus.CURRENT,
            Release.time_identifier == REPORTING_YEAR,
        )
    ).all()
    return {int(r.time_period): r for r in current}


def _protected(
    session: Session, releases: dict[int, Release], years: Iterable[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """LA values and England values of ``years`` as the current national releases publish
    them (a year without a release contributes nothing)."""
    columns = [*_KEY, "value", "numerator", "denominator"]
    las: list[pd.DataFrame] = []
    england: list[pd.DataFrame] = []
    for year in sorted(set(years)):
        release = releases.get(year)
        if release is None:
            continue
        stored = session.get(StoredFile, release.file_id)
        key = (stored.sha256 if stored is not None else "", str(release.time_period))
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = _parse_release(release_frame(session, release), str(release.time_period))
            _PARSED[key] = parsed
            while len(_PARSED) > _PARSED_LIMIT:
                _PARSED.pop(next(iter(_PARSED)))
        las.append(parsed[0])
        england.append(parsed[1])
    protected = pd.concat(las, ignore_index=True)[columns] if las else _empty(columns)
    eng = pd.concat(england, ignore_index=True) if england else _empty([*_CELL, "england"])
    return protected, eng


_PARSED: dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]] = {}
_PARSED_LIMIT = 12
"""Releases never change once built, so a long-running worker keeps the numeric form of the
last few it read: the incremental recompute after an upload then parses no release. Keyed by
the SHA-256 of the stored table (checked against the content whenever it is read) and the
period, so the key names the content itself, whichever database it came from; the oldest
entry goes first."""


def _numbers(text: pd.Series) -> np.ndarray:
    """EES cells as floats: symbols ("c", "x", "z", ...) and blanks are NaN. Only the cells
    that are not "z" are parsed (most cells of a value column are "z": not applicable)."""
    out = np.full(len(text), np.nan)
    filled = (text != "z").to_numpy(bool)
    if filled.any():
        out[filled] = pd.to_numeric(text[filled], errors="coerce").to_numpy(float)
    return out


def _parse_release(table: pd.DataFrame, period: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The LA rows (a ValueFrame) and England rows of one release's stored EES table."""
    needed = ["geographic_level", "new_la_code", "indicator", "breakdown_topic", "breakdown"]
    table = table[[*needed, *_VALUE_COLUMNS, "numerator", "denominator"]]
    table = table.loc[table["geographic_level"].isin(["Local authority", "National"])]
    # The value sits in the column of its kind; the others hold "z".
    value = np.full(len(table), np.nan)
    for column in _VALUE_COLUMNS:
        value = np.where(np.isnan(value), _numbers(table[column]), value)
    frame = pd.DataFrame(
        {
            "la_code": table["new_la_code"].astype(str).to_numpy(),
            "indicator_id": table["indicator"].astype(str).to_numpy(),
            "period": period,
            "breakdown_topic": table["breakdown_topic"].astype(str).to_numpy(),
            "breakdown": table["breakdown"].astype(str).to_numpy(),
            "value": value,
            "numerator": _numbers(table["numerator"]),
            "denominator": _numbers(table["denominator"]),
        }
    )
    national = (table["geographic_level"] == "National").to_numpy()
    las = frame.loc[~national].reset_index(drop=True)
    eng = frame.loc[national, [*_CELL, "value"]].rename(columns={"value": "england"})
    return las, eng.reset_index(drop=True)


def _empty(columns: list[str]) -> pd.DataFrame:
    numeric = {"value", "numerator", "denominator", "england"}
    return pd.DataFrame({c: pd.Series(dtype=float if c in numeric else str) for c in columns})


def _alliances(
    session: Session, code_of: dict[int, str]
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """({alliance code: member LA codes}, {alliance code: its organisation id}) of the
    alliances with a member in the exchange."""
    members: dict[str, list[str]] = {}
    ids: dict[str, int] = {}
    for alliance_id, alliance_code, la_id in session.execute(
        select(Organisation.id, Organisation.code, AllianceMembership.la_id).join(
            AllianceMembership, AllianceMembership.alliance_id == Organisation.id
        )
    ):
        if la_id in code_of:
            members.setdefault(alliance_code, []).append(code_of[la_id])
            ids[alliance_code] = alliance_id
    return {code: sorted(las) for code, las in sorted(members.items())}, ids


@dataclass(frozen=True)
class _Context:
    alliances: dict[str, list[str]]
    custom: pd.DataFrame  # custom comparison sets: Groups rows (exchange.actions.custom_sets)
    context: pd.DataFrame
    journeys: pd.DataFrame
    ofsted: pd.DataFrame
    basis: str
    alliance_ids: dict[str, int] = field(default_factory=dict)  # code -> organisation id


def _frame_digest(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "empty"
    ordered = frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).to_numpy()).hexdigest()


def _context(session: Session, versions: list[_Version]) -> _Context:
    from exchange.actions.context import context_frame
    from exchange.actions.custom_sets import custom_groups_frame
    from exchange.actions.journeys import journeys_frame, ofsted_frame

    alliances, alliance_ids = _alliances(session, {v.org_id: v.la_code for v in versions})
    custom = custom_groups_frame(session)
    context = context_frame(session)
    journeys = journeys_frame(session)
    ofsted = ofsted_frame(session)
    catalogue = load_catalogue()
    basis = hashlib.sha256(
        json.dumps(
            {
                "analytics": ANALYTICS_VERSION,
                "catalogue": str(getattr(catalogue, "version", "")),
                "alliances": alliances,
                "custom": _frame_digest(custom),
                "context": _frame_digest(context),
                "journeys": _frame_digest(journeys.astype(str)),
                "ofsted": _frame_digest(ofsted.astype(str)),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    return _Context(alliances, custom, context, journeys, ofsted, basis, alliance_ids)


# ------------------------------------------------------------------------------------- scope


def _old_periods(session: Session, version_ids: set[int]) -> dict[int, int]:
    if not version_ids:
        return {}
    rows = session.execute(
        select(SubmissionVersion.id, Submission.time_period)
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .where(SubmissionVersion.id.in_(sorted(version_ids)))
    )
    return {v: int(p) for v, p in rows}


def _scope(
    session: Session,
    previous: ComparisonSet | None,
    versions: list[_Version],
    releases: dict[int, Release],
    basis: str,
) -> _Scope:
    years_of: dict[str, set[int]] = {}
    for v in versions:
        years_of.setdefault(v.la_code, set()).add(v.period)
    previous_summary = dict(previous.summary or {}) if previous is not None else {}
    if previous is None or previous_summary.get("basis") != basis:
        return _Scope({la: set(y) for la, y in years_of.items()}, shared=True, full=True)

    old_releases = {int(p): r for p, r in dict(previous.releases or {}).items()}
    new_releases = {p: r.id for p, r in releases.items()}
    release_years = {
        p
        for p in set(old_releases) | set(new_releases)
        if old_releases.get(p) != new_releases.get(p)
    }
    old_sources = {code: set(ids) for code, ids in dict(previous.sources or {}).items()}
    new_sources: dict[str, set[int]] = {}
    for v in versions:
        new_sources.setdefault(v.org_code, set()).add(v.id)
    gone = set().union(*old_sources.values()) - {v.id for v in versions} if old_sources else set()
    period_of = {v.id: v.period for v in versions} | _old_periods(session, gone)
    files = dict(
        session.execute(
            select(ComparisonFile.organisation_id, ComparisonFile.file_id).where(
                ComparisonFile.set_id == previous.id
            )
        ).all()
    )
    la_of_org = {v.org_code: v.la_code for v in versions}
    org_id_of = {v.la_code: v.org_id for v in versions}
    scope = _Scope({}, shared=bool(release_years), full=False)
    for org_code, ids in new_sources.items():
        la = la_of_org[org_code]
        if org_id_of[la] not in files:  # new to the exchange: everything
            scope.years[la] = set(years_of[la])
            continue
        changed = {period_of[i] for i in ids ^ old_sources.get(org_code, set()) if i in period_of}
        changed |= release_years
        # A year's change from the year before moves with it.
        years = changed | {y + 1 for y in changed if y + 1 in years_of[la]}
        if years:
            scope.years[la] = years
        else:
            scope.reused[org_id_of[la]] = files[org_id_of[la]]
    return scope


# ------------------------------------------------------------------------------- the compute


_GROUPS: dict[tuple[str, tuple[str, ...]], tuple[pd.DataFrame, Any]] = {}
"""The groups of the last basis and LAs: they change only with the basis (alliances, context)
or the LAs in the exchange, so a worker computes them once, not at every upload."""


def _groups(reference: Any, la_codes: list[str], ctx: _Context) -> tuple[pd.DataFrame, Any]:
    """Every comparison group (with its years) and the similar-challenges sets."""
    key = (ctx.basis, tuple(la_codes))
    if key not in _GROUPS:
        _GROUPS.clear()
        _GROUPS[key] = _build_groups(reference, la_codes, ctx)
    return _GROUPS[key]


def _build_groups(reference: Any, la_codes: list[str], ctx: _Context) -> tuple[pd.DataFrame, Any]:
    from workers.analytics.pipeline import FIRST_YEAR, LAST_YEAR, standard_groups
    from workers.analytics.similar import DEFAULT_SETS, similar_sets

    groups = standard_groups(reference, la_codes, ctx.alliances)
    # Custom sets: an LA's (owner: the LA, its only viewer) and alliances' (shared by their
    # members), over LAs that have submitted, for every year.
    custom = ctx.custom
    shared = custom["owner"] == ""
    custom = custom.loc[
        (shared | custom["owner"].isin(la_codes)) & custom["la_code"].isin(la_codes)
    ]
    if not custom.empty:
        rows = custom[["group_id", "group_type", "owner", "la_code"]].assign(
            period_from=FIRST_YEAR, period_to=LAST_YEAR
        )
        groups = pd.concat([groups, rows], ignore_index=True)
    members: list[pd.DataFrame] = []
    explanations: list[pd.DataFrame] = []
    context = ctx.context
    if not context.empty:
        for weights in DEFAULT_SETS:
            variables = set(weights.weights)
            usable = context.loc[context["variable"].isin(variables) & context["value"].notna()]
            if usable.empty:
                continue
            # The latest year with context for the set's variables stands for every year:
            # a set is a reading aid about an authority's circumstances, not a per-year figure.
            period = max(usable["period"].astype(str), key=int)
            sets = similar_sets(context, period, weights)
            members.append(sets.members)
            explanations.append(sets.explanation)
    if members:
        similar = pd.concat(members, ignore_index=True)
        similar = similar.loc[similar["owner"].isin(la_codes) & similar["la_code"].isin(la_codes)]
        rows = similar[["group_id", "group_type", "owner", "la_code"]].assign(
            period_from=FIRST_YEAR, period_to=LAST_YEAR
        )
        groups = pd.concat([groups, rows], ignore_index=True)
        explanation = pd.concat(explanations, ignore_index=True)
    else:
        similar = explanation = None
    return groups, (similar, explanation)


@dataclass
class _Result:
    tables: dict[str, dict[str, pd.DataFrame]]  # la_code -> table name -> frame
    shared: dict[str, pd.DataFrame] | None
    rows: int
    # alliance code -> table name -> frame; None: keep the previous set's alliance files.
    alliances: dict[str, dict[str, pd.DataFrame]] | None = None


def _compute(
    raw: pd.DataFrame,
    protected: pd.DataFrame,
    england: pd.DataFrame,
    scope: _Scope,
    ctx: _Context,
    all_la_codes: list[str],
    shared_protected: pd.DataFrame | None,
    shared_england: pd.DataFrame | None = None,
) -> _Result:
    from workers.analytics.meta import indicator_meta
    from workers.analytics.pipeline import run_comparisons
    from workers.analytics.progress import own_progress, shared_progress

    meta = indicator_meta(load_catalogue())
    groups, (similar, explanation) = _groups(load_reference(), all_la_codes, ctx)
    years = raw["period"].astype(int)
    wanted = pd.Series(False, index=raw.index)
    needed = pd.Series(False, index=raw.index)
    for la, la_years in scope.years.items():
        mine = raw["la_code"] == la
        wanted |= mine & years.isin(la_years)
        needed |= mine & years.isin(la_years | {y - 1 for y in la_years})
    tables: dict[str, dict[str, pd.DataFrame]] = {la: {} for la in scope.years}
    as_of = str(int(raw["period"].astype(int).max())) if len(raw) else ""
    if wanted.any():
        result = run_comparisons(
            raw.loc[needed].reset_index(drop=True), protected, england, groups, meta
        )
        per_la = _within(result.per_la, scope.years)
        per_group = _within(result.per_group, scope.years)
        outcomes = _within(result.outcomes, scope.years)
        own = own_progress(raw, ctx.journeys, ctx.ofsted, meta, as_of)
        split = {
            "per_la": per_la,
            "per_group": per_group,
            "outcomes": outcomes,
            "trends": own.trends,
            "stage": own.stages,
            "domains": own.domains,
            "evidence": own.evidence,
            "anomalies": own.anomalies,
        }
        if similar is not None:
            split["similar_members"] = similar
            split["similar_explanation"] = explanation
        for name, frame in split.items():
            key = "owner" if name.startswith("similar_") else "la_code"
            parts = dict(tuple(frame.groupby(frame[key].astype(str), sort=False, observed=True)))
            for la in scope.years:
                tables[la][name] = parts.get(la, frame.iloc[0:0])
    shared = alliances = None
    if scope.shared and shared_protected is not None:
        progress = shared_progress(shared_protected, ctx.journeys, ctx.ofsted, meta, as_of)
        shared = {
            "stages": progress.stages,
            "domains": progress.domains,
            "aligned": progress.aligned,
        }
        alliances = _alliance_tables(
            shared_protected,
            shared_england if shared_england is not None else _empty([*_CELL, "england"]),
            groups,
            meta,
            ctx.alliances,
        )
    return _Result(tables, shared, int(wanted.sum()), alliances)


_ALLIANCE_GROUPS = ("neighbours", "region", "alliance", "england")
"""The groups an alliance's file compares its members with: LAIT's (statistical neighbours,
region, England) and the alliances; not the members' own custom or similar-challenges sets."""


def _alliance_tables(
    protected: pd.DataFrame,
    england: pd.DataFrame,
    groups: pd.DataFrame,
    meta: pd.DataFrame,
    alliances: dict[str, list[str]],
) -> dict[str, dict[str, pd.DataFrame]]:
    """Per alliance, its members' comparisons as any LA may see them: each member's
    *protected* value (from the current national releases) stands in for its own value, so no
    raw value enters. One run for every member of any alliance, split per alliance."""
    from workers.analytics.pipeline import run_comparisons

    members = sorted({la for las in alliances.values() for la in las})
    rows = protected.loc[protected["la_code"].isin(members)].reset_index(drop=True)
    if rows.empty:
        return {}
    standard = groups.loc[groups["group_type"].isin(_ALLIANCE_GROUPS)].reset_index(drop=True)
    result = run_comparisons(rows, protected, england, standard, meta)
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for code, las in alliances.items():
        tables = {
            name: frame.loc[frame["la_code"].astype(str).isin(las)]
            for name, frame in result._asdict().items()
        }
        if not tables["per_la"].empty:
            out[code] = tables
    return out


def _within(frame: pd.DataFrame, years: dict[str, set[int]]) -> pd.DataFrame:
    """The rows of ``frame`` whose LA and year were asked for."""
    if frame.empty:
        return frame
    la = frame["la_code"].astype(str)
    year = frame["period"].astype(str).astype(int)
    keep = np.zeros(len(frame), bool)
    for code, la_years in years.items():
        keep |= ((la == code) & year.isin(la_years)).to_numpy()
    return frame.loc[keep]


def _merged(old: dict[str, pd.DataFrame], new: dict[str, pd.DataFrame], years: set[int]):
    """An LA's previous tables with the recomputed years replaced by the new rows."""
    out = dict(new)
    for name in _BY_PERIOD:
        previous = old.get(name)
        if previous is None or previous.empty:
            continue
        kept = previous.loc[~previous["period"].astype(str).astype(int).isin(years)]
        fresh = new.get(name)
        if fresh is None or fresh.empty:
            out[name] = kept
            continue
        fresh = fresh.astype({c: str for c in _KEY if c in fresh.columns})
        out[name] = pd.concat([kept, fresh], ignore_index=True)
    return out


# ------------------------------------------------------------------------------ the recompute


def recompute_comparisons(
    session: Session, actor: Principal, *, job_id: str | None = None, full: bool = False
) -> ComparisonSet | None:
    """Bring every LA's comparisons and progress up to date (see the module docstring);
    incremental unless ``full``.

    Returns the new current set, the current set when nothing changed, or None when no LA
    has submitted anything yet.
    """
    if not allowed(actor, Permission.ADMINISTER):
        raise PermissionError(f"{actor.label} may not recompute comparisons")
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _recompute(session, actor, job_id=job_id, full=full)
        except _Raced:
            session.rollback()
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _recompute(
    session: Session, actor: Principal, *, job_id: str | None, full: bool
) -> ComparisonSet | None:
    started = time.monotonic()
    previous = current_set(session)
    versions = _versions(session)
    if not versions:
        return None
    releases = _current_releases(session)
    ctx = _context(session, versions)
    scope = _scope(session, None if full else previous, versions, releases, ctx.basis)
    if not scope.years and not scope.shared and previous is not None:
        return previous  # nothing changed
    la_codes = sorted({v.la_code for v in versions})
    touched = [v for v in versions if v.la_code in scope.years]
    raw = _raw(session, touched)
    years = {y for ys in scope.years.values() for y in ys}
    protected, england = _protected(session, releases, years | {y - 1 for y in years})
    shared_protected = shared_england = None
    if scope.shared:
        shared_protected, shared_england = _protected(session, releases, releases)
    result = _compute(
        raw, protected, england, scope, ctx, la_codes, shared_protected, shared_england
    )

    old_files: dict[int, int] = {}
    if previous is not None and not scope.full:
        old_files = dict(
            session.execute(
                select(ComparisonFile.organisation_id, ComparisonFile.file_id).where(
                    ComparisonFile.set_id == previous.id
                )
            ).all()
        )
    org_id_of = {v.la_code: v.org_id for v in versions}
    sources: dict[str, list[int]] = {}
    for v in versions:
        sources.setdefault(v.org_code, []).append(v.id)
    try:
        with one_transaction(session):
            if previous is not None:
                switched = session.execute(
                    update(ComparisonSet)
                    .where(
                        ComparisonSet.id == previous.id,
                        ComparisonSet.status == ComparisonStatus.CURRENT,
                    )
                    .values(status=ComparisonStatus.SUPERSEDED)
                )
                if switched.rowcount != 1:
                    raise _Raced
            new = ComparisonSet(
                status=ComparisonStatus.CURRENT,
                releases={str(p): r.id for p, r in sorted(releases.items())},
                sources={k: sorted(v) for k, v in sorted(sources.items())},
                job_id=job_id,
                summary={},
            )
            session.add(new)
            session.flush()
            for la, tables in result.tables.items():
                org_id = org_id_of[la]
                if org_id in old_files:
                    old = _unpack(read_file(session, old_files[org_id]))
                    tables = _merged(old, tables, scope.years[la])
                file_id = _store(
                    session, actor, _pack(tables), f"comparisons-{new.id}-{la}", org_id
                )
                session.add(ComparisonFile(set_id=new.id, organisation_id=org_id, file_id=file_id))
            for org_id, file_id in scope.reused.items():
                session.add(ComparisonFile(set_id=new.id, organisation_id=org_id, file_id=file_id))
            alliance_files = _alliance_files(session, actor, new.id, result, ctx, old_files)
            if result.shared is not None:
                new.shared_file_id = _store(
                    session, actor, _pack(result.shared), f"progress-{new.id}", None, SHARED_PURPOSE
                )
            elif previous is not None:
                new.shared_file_id = previous.shared_file_id
            new.summary = {
                "las": len(result.tables) + len(scope.reused),
                "recomputed_las": len(result.tables),
                "alliances": alliance_files,
                "recomputed_rows": result.rows,
                "mode": "full" if scope.full else "incremental",
                "periods": sorted(str(y) for y in {v.period for v in versions}),
                "journeys": len(ctx.journeys),
                "basis": ctx.basis,
                "seconds": round(time.monotonic() - started, 2),
            }
            session.flush()
            audit.record_by(
                session,
                RECOMPUTED,
                actor,
                target_type="comparison_set",
                target_id=new.id,
                details={
                    "las": new.summary["las"],
                    "recomputed_las": len(result.tables),
                    "alliances": alliance_files,
                    "mode": new.summary["mode"],
                    "releases": new.releases,
                    "job": job_id,
                },
            )
    except IntegrityError as error:
        # The one-current index: another recompute made the first current set meanwhile.
        raise _Raced from error
    return new


def _alliance_files(
    session: Session,
    actor: Principal,
    set_id: int,
    result: _Result,
    ctx: _Context,
    old_files: dict[int, int],
) -> int:
    """Add each alliance's file to set ``set_id``: freshly computed when the releases changed
    (or on a full recompute), else the previous set's file. Returns how many."""
    if result.alliances is None:
        files = {i: old_files[i] for i in ctx.alliance_ids.values() if i in old_files}
    else:
        files = {}
        for code, tables in result.alliances.items():
            org_id = ctx.alliance_ids[code]
            stem = f"comparisons-{set_id}-{code}"
            files[org_id] = _store(session, actor, _pack(tables), stem, org_id)
    for org_id, file_id in files.items():
        session.add(ComparisonFile(set_id=set_id, organisation_id=org_id, file_id=file_id))
    return len(files)


def _store(
    session: Session,
    actor: Principal,
    data: bytes,
    stem: str,
    org_id: int | None,
    purpose: str = PURPOSE,
) -> int:
    stored = store_file(
        session,
        data,
        filename=f"{stem}.zip",
        media_type="application/zip",
        purpose=purpose,
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        organisation_id=org_id,
    )
    session.flush()
    return stored.id


def _pack(tables: dict[str, pd.DataFrame]) -> bytes:
    """One viewer's tables (different columns) as Parquet members of one uncompressed zip:
    one stored file per LA, read whole by its viewer."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, frame in tables.items():
            frame = frame.reset_index(drop=True)
            categorical = [
                c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
            ]
            frame = frame.astype({c: str for c in categorical})
            if "indicators" in frame.columns:
                frame = frame.assign(indicators=frame["indicators"].map(list))
            part = io.BytesIO()
            frame.to_parquet(part, index=False)
            archive.writestr(f"{name}.parquet", part.getvalue())
    return buffer.getvalue()


def _unpack(data: bytes) -> dict[str, pd.DataFrame]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name.removesuffix(".parquet"): pd.read_parquet(io.BytesIO(archive.read(name)))
            for name in archive.namelist()
        }


# ---------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ComparisonView:
    """What one LA sees: its tables of the current set, and which releases they rest on."""

    comparison_set: ComparisonSet
    tables: dict[str, pd.DataFrame]

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.comparison_set.summary)

    @property
    def per_la(self) -> pd.DataFrame:
        return self.tables["per_la"]

    @property
    def per_group(self) -> pd.DataFrame:
        return self.tables["per_group"]

    @property
    def outcomes(self) -> pd.DataFrame:
        return self.tables["outcomes"]

    def table(self, name: str) -> pd.DataFrame:
        """A progress or similar-sets table (empty when the set has none)."""
        return self.tables.get(name, pd.DataFrame())


@dataclass(frozen=True)
class SharedProgressView:
    """The journeys every LA may see (from protected values), with the set they come from."""

    comparison_set: ComparisonSet
    stages: pd.DataFrame
    domains: pd.DataFrame
    aligned: pd.DataFrame


def current_set(session: Session) -> ComparisonSet | None:
    return session.scalars(
        select(ComparisonSet)
        .where(ComparisonSet.status == ComparisonStatus.CURRENT)
        .order_by(ComparisonSet.id.desc())
        .limit(1)
    ).first()


def comparisons_for(
    session: Session, actor: Principal, organisation_id: int
) -> ComparisonView | None:
    """The current comparisons of LA ``organisation_id`` for a viewer allowed to see that LA's
    own figures (its own staff: the file holds its raw values), or None when none are computed
    yet. The system actor (CLI, jobs) sees no LA's values, so it is refused too."""
    if actor.is_system or not may_act_for(actor, organisation_id, Permission.LA_VIEW):
        raise PermissionError(f"{actor.label} may not see this LA's comparisons")
    return _view_of(session, organisation_id)


def alliance_comparisons_for(
    session: Session, actor: Principal, alliance_organisation_id: int
) -> ComparisonView | None:
    """The current comparisons of the member LAs of alliance ``alliance_organisation_id``, for
    that alliance's own viewers (``ALLIANCE_VIEW`` acting for their own organisation: LA staff,
    who hold ``ALLIANCE_VIEW`` too, act for their LA, not the alliance; administrators see no
    values), or None when none are computed yet. The file holds only what any LA may see of
    another: each member's protected value (``la_code`` names the member) with the figures
    computed from the national releases. The system actor is refused too."""
    # LA staff act for their LA: with its id, ALLIANCE_VIEW would open the LA's own file here.
    is_alliance = actor.organisation_kind is OrganisationKind.ALLIANCE
    if (
        actor.is_system
        or not is_alliance
        or not may_act_for(actor, alliance_organisation_id, Permission.ALLIANCE_VIEW)
    ):
        raise PermissionError(f"{actor.label} may not see this alliance's comparisons")
    return _view_of(session, alliance_organisation_id)


def _view_of(session: Session, organisation_id: int) -> ComparisonView | None:
    chosen = current_set(session)
    if chosen is None:
        return None
    file = session.scalars(
        select(ComparisonFile).where(
            ComparisonFile.set_id == chosen.id, ComparisonFile.organisation_id == organisation_id
        )
    ).first()
    if file is None:
        return None
    return ComparisonView(chosen, _unpack(read_file(session, file.file_id)))


def shared_progress_for(session: Session, actor: Principal) -> SharedProgressView | None:
    """The journeys every LA may see: stages and aligned values read from protected values.
    For any signed-in person who may see protected figures (LA staff, alliance viewers,
    analysts, administrators); the system actor is refused like everywhere else."""
    may_see = any(
        allowed(actor, p)
        for p in (Permission.LA_VIEW, Permission.ALLIANCE_VIEW, Permission.NATIONAL_DOWNLOAD)
    )
    if actor.is_system or not may_see:
        raise PermissionError(f"{actor.label} may not see the shared journeys")
    chosen = current_set(session)
    if chosen is None or chosen.shared_file_id is None:
        return None
    tables = _unpack(read_file(session, chosen.shared_file_id))
    return SharedProgressView(chosen, tables["stages"], tables["domains"], tables["aligned"])
