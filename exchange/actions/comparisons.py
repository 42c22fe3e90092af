"""Comparisons: each LA against its statistical neighbours, region, alliances and England.

:func:`recompute_comparisons` gathers

* every LA's **raw** values (its current submission version per reporting year): an LA sees its
  own figures exactly;
* the **protected** values of every LA from the current national release of each period
  (:mod:`exchange.actions.releases`; suppressed cells are absent), which is all an LA ever sees
  of another LA;
* England's published value per cell from the same releases;

runs the pure recompute (:func:`workers.analytics.pipeline.run_comparisons`) and stores each LA's
result as one encrypted Parquet file of a new :class:`~exchange.models.ComparisonSet`. The new
set becomes current in the same transaction that supersedes the old one, so a view always
shows one consistent set (and says which releases it rests on), and a failed recompute leaves
the previous set in place.

:func:`comparisons_for` reads one LA's file for a viewer the authorisation policy allows.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
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
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.policy import Permission, Principal, allowed, may_act_for
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference

__all__ = [
    "ComparisonView",
    "comparisons_for",
    "current_set",
    "recompute_comparisons",
]

RECOMPUTED = "comparisons_recomputed"
PURPOSE = "comparison_results"
REPORTING_YEAR = "Reporting year"
_CELL = ["indicator_id", "period", "breakdown_topic", "breakdown"]
_KEY = ["la_code", *_CELL]
_VALUE_COLUMNS = ("percent", "rate_per_10000", "mean", "yes_no")


@dataclass(frozen=True)
class _Inputs:
    raw: pd.DataFrame
    protected: pd.DataFrame
    england: pd.DataFrame
    releases: dict[str, int]
    sources: dict[str, list[int]]
    organisations: dict[str, int]  # new_la_code -> organisation id
    alliances: dict[str, list[str]]


def _raw(session: Session) -> tuple[pd.DataFrame, dict[str, list[int]], dict[str, int]]:
    versions = session.execute(
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
    by_version = {v: (period, code) for v, period, _, _, code in versions if code}
    sources: dict[str, list[int]] = {}
    organisations: dict[str, int] = {}
    for version_id, _, org_id, org_code, new_code in versions:
        if new_code:
            sources.setdefault(org_code, []).append(version_id)
            organisations[new_code] = org_id
    result = session.execute(
        select(
            IndicatorValue.version_id,
            IndicatorValue.indicator_id,
            IndicatorValue.breakdown_topic,
            IndicatorValue.breakdown,
            IndicatorValue.value,
            IndicatorValue.numerator,
            IndicatorValue.denominator,
        ).where(IndicatorValue.version_id.in_(list(by_version)))
    )
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    period = frame["version_id"].map(lambda v: by_version[v][0])
    la = frame["version_id"].map(lambda v: by_version[v][1])
    raw = pd.DataFrame(
        {
            "la_code": la.astype(str),
            "indicator_id": frame["indicator_id"].astype(str),
            "period": period.astype(str),
            "breakdown_topic": frame["breakdown_topic"].astype(str),
            "breakdown": frame["breakdown"].astype(str),
            **{
                c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
                for c in ("value", "numerator", "denominator")
            },
        }
    )
    return raw, sources, organisations


def _protected(session: Session) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """LA values and England values as the current national releases publish them."""
    current = session.scalars(
        select(Release).where(
            Release.channel == NATIONAL,
            Release.status == ReleaseStatus.CURRENT,
            Release.time_identifier == REPORTING_YEAR,
        )
    ).all()
    las: list[pd.DataFrame] = []
    england: list[pd.DataFrame] = []
    for release in current:
        table = release_frame(session, release)
        # The stored table is in EES form: the value sits in the column of its kind (the
        # others hold "z"), symbols ("c", "x", "z") read as missing.
        value = pd.Series(np.nan, index=table.index)
        for column in _VALUE_COLUMNS:
            value = value.fillna(pd.to_numeric(table[column], errors="coerce"))
        national = table["geographic_level"] == "National"
        frame = pd.DataFrame(
            {
                "la_code": table["new_la_code"].astype(str),
                "indicator_id": table["indicator"].astype(str),
                "period": str(release.time_period),
                "breakdown_topic": table["breakdown_topic"].astype(str),
                "breakdown": table["breakdown"].astype(str),
                "value": value.astype("float64"),
                **{
                    c: pd.to_numeric(table[c], errors="coerce").astype("float64")
                    for c in ("numerator", "denominator")
                },
            }
        )
        las.append(frame.loc[table["geographic_level"] == "Local authority"])
        england.append(frame.loc[national])
    columns = [*_KEY, "value", "numerator", "denominator"]
    protected = pd.concat(las, ignore_index=True)[columns] if las else pd.DataFrame(columns=columns)
    if england:
        eng = pd.concat(england, ignore_index=True)
        eng = eng[[*_CELL, "value"]].rename(columns={"value": "england"})
    else:
        eng = pd.DataFrame(columns=[*_CELL, "england"])
    return protected, eng, {r.time_period: r.id for r in current}


def _alliances(session: Session, organisations: dict[str, int]) -> dict[str, list[str]]:
    code_of = {org_id: code for code, org_id in organisations.items()}
    members: dict[str, list[str]] = {}
    for alliance_code, la_id in session.execute(
        select(Organisation.code, AllianceMembership.la_id).join(
            AllianceMembership, AllianceMembership.alliance_id == Organisation.id
        )
    ):
        if la_id in code_of:
            members.setdefault(alliance_code, []).append(code_of[la_id])
    return members


def _gather(session: Session) -> _Inputs:
    raw, sources, organisations = _raw(session)
    protected, england, releases = _protected(session)
    alliances = _alliances(session, organisations)
    return _Inputs(raw, protected, england, releases, sources, organisations, alliances)


def recompute_comparisons(
    session: Session, actor: Principal, *, job_id: str | None = None
) -> ComparisonSet | None:
    """Recompute every LA's comparisons and make them current (see the module docstring).

    Returns the new set, or None when no LA has submitted anything yet.
    """
    from workers.analytics.meta import indicator_meta
    from workers.analytics.pipeline import run_comparisons, standard_groups

    if not allowed(actor, Permission.ADMINISTER):
        raise PermissionError(f"{actor.label} may not recompute comparisons")
    started = time.monotonic()
    inputs = _gather(session)
    if inputs.raw.empty:
        return None
    groups = standard_groups(load_reference(), sorted(inputs.organisations), inputs.alliances)
    result = run_comparisons(
        inputs.raw, inputs.protected, inputs.england, groups, indicator_meta(load_catalogue())
    )
    per_la = result.per_la
    per_group = result.per_group
    outcomes = result.outcomes
    with one_transaction(session):
        new = ComparisonSet(
            status=ComparisonStatus.CURRENT,
            releases=inputs.releases,
            sources=inputs.sources,
            job_id=job_id,
            summary={},
        )
        session.add(new)
        session.flush()
        by_la_group = dict(tuple(per_group.groupby("la_code", sort=False, observed=True)))
        by_la_outcome = dict(tuple(outcomes.groupby("la_code", sort=False)))
        for la_code, own in per_la.groupby("la_code", sort=False):
            org_id = inputs.organisations[str(la_code)]
            data = _pack(
                own,
                by_la_group.get(la_code, per_group.iloc[0:0]),
                by_la_outcome.get(la_code, outcomes.iloc[0:0]),
            )
            stored = store_file(
                session,
                data,
                filename=f"comparisons-{new.id}-{la_code}.parquet",
                media_type="application/vnd.apache.parquet",
                purpose=PURPOSE,
                actor_label=actor.label,
                actor_user_id=actor.user_id,
                organisation_id=org_id,
            )
            session.flush()
            session.add(ComparisonFile(set_id=new.id, organisation_id=org_id, file_id=stored.id))
        session.execute(
            update(ComparisonSet)
            .where(ComparisonSet.id != new.id, ComparisonSet.status == ComparisonStatus.CURRENT)
            .values(status=ComparisonStatus.SUPERSEDED)
        )
        new.summary = {
            "las": int(per_la["la_code"].nunique()),
            "rows": len(per_la),
            "group_rows": len(per_group),
            "periods": sorted(per_la["period"].unique().tolist()),
            "seconds": round(time.monotonic() - started, 1),
        }
        audit.record(
            session,
            RECOMPUTED,
            actor_label=actor.label,
            actor_user_id=actor.user_id,
            target_type="comparison_set",
            target_id=new.id,
            details={"las": new.summary["las"], "releases": inputs.releases, "job": job_id},
        )
    return new


def _pack(per_la: pd.DataFrame, per_group: pd.DataFrame, outcomes: pd.DataFrame) -> bytes:
    """One viewer's three tables (different columns) as three Parquet members of one
    uncompressed zip: one stored file per LA, read whole by its viewer."""
    buffer = io.BytesIO()
    frames = {
        "per_la": per_la.reset_index(drop=True),
        "per_group": per_group.astype({c: str for c in _KEY}).reset_index(drop=True),
        "outcomes": outcomes.assign(indicators=outcomes["indicators"].map(list)).reset_index(
            drop=True
        ),
    }
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, frame in frames.items():
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


@dataclass(frozen=True)
class ComparisonView:
    """What one LA sees: its rows of the current set, and which releases they rest on."""

    comparison_set: ComparisonSet
    per_la: pd.DataFrame
    per_group: pd.DataFrame
    outcomes: pd.DataFrame

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.comparison_set.summary)


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
    tables = _unpack(read_file(session, file.file_id))
    return ComparisonView(chosen, tables["per_la"], tables["per_group"], tables["outcomes"])
