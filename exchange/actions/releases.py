"""Releases: the only way LA values leave their own LA's view in bulk.

:func:`build_national_release` gathers every LA's current submission for a period, keeps the
indicators each LA shares at national scope, adds region, Inner/Outer London and England sums,
and passes the table through a release policy of :mod:`privacy.release` (suppression, noise or
both), whose audit gate refuses the release if any suppressed cell can be narrowed. What comes
out is stored once as an immutable, numbered :class:`~exchange.models.Release` (encrypted
Parquet), with its privacy-loss ledger entries and one audit event, in ONE transaction: a
refused or failed build writes nothing but its audit event.

:func:`export_release` writes a stored release as EES files (data CSV + ``.meta.csv``) from the
stored bytes: exporting twice gives the same files, and never draws new noise.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.files import read_file, store_file
from exchange.actions.sharing import effective_scopes
from exchange.db import one_transaction
from exchange.models import (
    AllianceMembership,
    IndicatorValue,
    Organisation,
    OrganisationKind,
    PrivacyLedgerEntry,
    Release,
    ReleasePolicySetting,
    ReleaseStatus,
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.policy import Permission, Principal, Scope, allowed
from schemas.catalogue import load_catalogue
from schemas.reference import load_reference

__all__ = [
    "NATIONAL",
    "ReleaseError",
    "build_national_release",
    "channel_policy",
    "export_release",
    "ledger_spent",
    "releases_by_id",
    "set_channel_policy",
    "set_privacy_budget",
]

NATIONAL = "national"
BUILT = "release_built"
REFUSED = "release_refused"
EXPORTED = "release_exported"
POLICY_SET = "release_policy_set"
RELEASE_PURPOSE = "release_table"
_VALUE_COLUMNS = ("numerator", "denominator", "respondents", "n", "value", "sd")


class ReleaseError(Exception):
    """A release was refused (nothing stored); the message says why, without cell values."""


def _authorise(actor: Principal, permission: Permission) -> None:
    if not allowed(actor, permission):
        raise PermissionError(f"{actor.label} may not do this ({permission.value})")


# ----------------------------------------------------------------------------- policy settings


def channel_policy(session: Session, channel: str = NATIONAL) -> str:
    """The policy an administrator chose for ``channel``, else the library default."""
    from privacy.release import DEFAULT_POLICY

    setting = session.get(ReleasePolicySetting, channel)
    return setting.policy if setting is not None else DEFAULT_POLICY


def set_channel_policy(
    session: Session, actor: Principal, policy: str, channel: str = NATIONAL
) -> None:
    """Choose the release policy of ``channel`` (one transaction plus its audit event)."""
    from privacy.release import policy_by_name

    _authorise(actor, Permission.ADMINISTER)
    policy_by_name(policy)  # raises with the valid names
    with one_transaction(session):
        setting = session.get(ReleasePolicySetting, channel)
        previous = setting.policy if setting is not None else None
        if setting is None:
            session.add(
                ReleasePolicySetting(channel=channel, policy=policy, updated_by_label=actor.label)
            )
        else:
            setting.policy = policy
            setting.updated_by_label = actor.label
        audit.record_by(
            session,
            POLICY_SET,
            actor,
            target_type="release_channel",
            target_id=channel,
            details={"policy": policy, "previous": previous},
        )


def set_privacy_budget(
    session: Session, actor: Principal, organisation_id: int, epsilon: float
) -> None:
    """Set an LA's privacy-loss budget (epsilon per indicator and period), audited."""
    _authorise(actor, Permission.ADMINISTER)
    if not epsilon > 0:
        raise ValueError("the budget must be a positive epsilon")
    with one_transaction(session):
        organisation = session.get(Organisation, organisation_id)
        if organisation is None or organisation.kind is not OrganisationKind.LOCAL_AUTHORITY:
            raise ValueError(f"organisation {organisation_id} is not a local authority")
        previous = organisation.privacy_budget
        organisation.privacy_budget = float(epsilon)
        audit.record_by(
            session,
            "privacy_budget_set",
            actor,
            organisation_id=organisation_id,
            target_type="organisation",
            target_id=organisation_id,
            details={"epsilon": float(epsilon), "previous": previous},
        )


# ------------------------------------------------------------------------------------ gathering


@dataclass(frozen=True)
class _Gathered:
    rows: pd.DataFrame  # LA rows shared at national scope (numbers; NaN where missing)
    sources: dict[str, int]  # organisation code -> submission version id
    organisations: dict[str, int]  # new_la_code -> organisation id
    attackers: list[tuple[str, frozenset[str]]]


def _gather(session: Session, time_period: str, time_identifier: str) -> _Gathered:
    versions = session.execute(
        select(SubmissionVersion.id, Organisation.id, Organisation.code, Organisation.new_la_code)
        .join(Submission, SubmissionVersion.submission_id == Submission.id)
        .join(Organisation, Submission.organisation_id == Organisation.id)
        .where(
            SubmissionVersion.status == VersionStatus.CURRENT,
            Submission.time_period == time_period,
            Submission.time_identifier == time_identifier,
            Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
        )
    ).all()
    frames: list[pd.DataFrame] = []
    sources: dict[str, int] = {}
    organisations: dict[str, int] = {}
    columns = [
        IndicatorValue.indicator_id,
        IndicatorValue.breakdown_topic,
        IndicatorValue.breakdown,
        *(getattr(IndicatorValue, c) for c in _VALUE_COLUMNS),
        IndicatorValue.symbols,
    ]
    for version_id, org_id, org_code, new_code in versions:
        national = {i for i, s in effective_scopes(session, org_id).items() if s is Scope.NATIONAL}
        if not national or not new_code:
            continue
        result = session.execute(
            select(*columns).where(
                IndicatorValue.version_id == version_id,
                IndicatorValue.indicator_id.in_(sorted(national)),
            )
        )
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
        if frame.empty:
            continue
        frame.insert(0, "new_la_code", new_code)
        frames.append(frame)
        sources[org_code] = version_id
        organisations[new_code] = org_id
    rows = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=[
                "new_la_code",
                "indicator_id",
                "breakdown_topic",
                "breakdown",
                *_VALUE_COLUMNS,
                "symbols",
            ]
        )
    )
    for column in _VALUE_COLUMNS:
        rows[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64")
    return _Gathered(rows, sources, organisations, _attackers(session, organisations))


def _attackers(session: Session, organisations: dict[str, int]) -> list[tuple[str, frozenset[str]]]:
    """Who may try to attack the release: every LA alone (it knows its own values) and every
    alliance pooling its members' values."""
    code_of = {org_id: code for code, org_id in organisations.items()}
    attackers = [(f"la:{code}", frozenset({code})) for code in sorted(organisations)]
    members: dict[str, set[str]] = {}
    for alliance_code, la_id in session.execute(
        select(Organisation.code, AllianceMembership.la_id).join(
            AllianceMembership, AllianceMembership.alliance_id == Organisation.id
        )
    ):
        if la_id in code_of:
            members.setdefault(alliance_code, set()).add(code_of[la_id])
    attackers += [(f"alliance:{a}", frozenset(m)) for a, m in sorted(members.items()) if len(m) > 1]
    return attackers


# ------------------------------------------------------------------------------------- ledger


def ledger_spent(session: Session, time_period: str, time_identifier: str) -> pd.DataFrame:
    """What differentially private releases have spent: area_code, indicator_id, epsilon."""
    result = session.execute(
        select(
            Organisation.new_la_code.label("area_code"),
            PrivacyLedgerEntry.indicator_id,
            func.sum(PrivacyLedgerEntry.epsilon).label("epsilon"),
        )
        .join(Organisation, PrivacyLedgerEntry.organisation_id == Organisation.id)
        .where(
            PrivacyLedgerEntry.time_period == time_period,
            PrivacyLedgerEntry.time_identifier == time_identifier,
        )
        .group_by(Organisation.new_la_code, PrivacyLedgerEntry.indicator_id)
    )
    return pd.DataFrame(result.all(), columns=["area_code", "indicator_id", "epsilon"])


def _budgets(session: Session, organisations: dict[str, int], default: float) -> dict[str, float]:
    own = dict(
        session.execute(
            select(Organisation.id, Organisation.privacy_budget).where(
                Organisation.id.in_(list(organisations.values()))
            )
        ).all()
    )
    return {
        code: (own.get(org_id) if own.get(org_id) is not None else default)  # type: ignore[misc]
        for code, org_id in organisations.items()
    }


# -------------------------------------------------------------------------------------- build


def _refuse(
    session: Session, actor: Principal, time_period: str, policy: str, reason: str, **details: Any
) -> ReleaseError:
    with one_transaction(session):
        audit.record_by(
            session,
            REFUSED,
            actor,
            outcome="refused",
            target_type="release",
            target_id=f"{NATIONAL}:{time_period}",
            details={"policy": policy, "reason": reason, **details},
        )
    return ReleaseError(reason)


def build_national_release(
    session: Session,
    actor: Principal,
    *,
    time_period: str,
    time_identifier: str = "Reporting year",
    policy: str | None = None,
    dp_budget: float = 4.0,
    workers: int | None = None,
) -> Release:
    """Build, audit and store the next national release of a period (see module docstring).

    Raises :class:`ReleaseError` (after recording the refusal) when there is nothing to
    release, when the audit finds a suppressed cell that could be narrowed, or when a
    differentially private policy would exceed an LA's privacy-loss budget.
    """
    from privacy.audit import DisclosureRisk
    from privacy.dp import BudgetExceeded
    from privacy.national import national_cells
    from privacy.release import policy_by_name, protect_release, published_table
    from schemas.ees import release_table

    _authorise(actor, Permission.ADMINISTER)
    name = policy or channel_policy(session, NATIONAL)
    release_policy = policy_by_name(name)
    catalogue, reference = load_catalogue(), load_reference()
    gathered = _gather(session, time_period, time_identifier)
    if gathered.rows.empty:
        raise _refuse(
            session,
            actor,
            time_period,
            name,
            f"no LA shares any indicator nationally for {time_identifier} {time_period}",
        )
    cells, structure = national_cells(gathered.rows, catalogue, reference)
    try:
        protected = protect_release(
            cells,
            structure,
            release_policy,
            catalogue=catalogue,
            attackers=gathered.attackers,
            spent=ledger_spent(session, time_period, time_identifier),
            budgets=_budgets(session, gathered.organisations, dp_budget),
            period=f"{time_identifier} {time_period}",
            workers=workers,
        )
    except (DisclosureRisk, BudgetExceeded) as refusal:
        raise _refuse(session, actor, time_period, name, str(refusal)) from refusal
    published = published_table(
        protected.cells,
        gathered.rows,
        catalogue,
        withhold_means=release_policy.mechanism != "sdc",
    )
    table = release_table(
        published,
        catalogue,
        reference,
        time_period=time_period,
        time_identifier=time_identifier,
    )
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    with one_transaction(session):
        # Serialise builds of the same period: the number is max + 1 under the lock.
        session.execute(
            update(Release)
            .where(
                Release.channel == NATIONAL,
                Release.time_period == time_period,
                Release.time_identifier == time_identifier,
                Release.status == ReleaseStatus.CURRENT,
            )
            .values(status=ReleaseStatus.SUPERSEDED)
        )
        number = (
            session.scalar(
                select(func.max(Release.number)).where(
                    Release.channel == NATIONAL,
                    Release.time_period == time_period,
                    Release.time_identifier == time_identifier,
                )
            )
            or 0
        ) + 1
        label = f"{NATIONAL}-{time_period}-r{number}"
        stored = store_file(
            session,
            buffer.getvalue(),
            filename=f"{label}.parquet",
            media_type="application/vnd.apache.parquet",
            purpose=RELEASE_PURPOSE,
            actor_label=actor.label,
            actor_user_id=actor.user_id,
        )
        summary = {**protected.summary(), "las": len(gathered.sources), "rows": len(table)}
        release = Release(
            channel=NATIONAL,
            time_period=time_period,
            time_identifier=time_identifier,
            number=number,
            status=ReleaseStatus.CURRENT,
            policy=name,
            mechanism=release_policy.mechanism,
            catalogue_version=catalogue.version,
            file_id=stored.id,
            sources=gathered.sources,
            summary=summary,
            footnotes=list(release_policy.footnotes()),
            built_by=actor.user_id,
            built_by_label=actor.label,
        )
        session.add(release)
        session.flush()
        if protected.spend is not None and not protected.spend.empty:
            spend = protected.spend[protected.spend["area_code"].isin(gathered.organisations)]
            session.execute(
                PrivacyLedgerEntry.__table__.insert(),
                [
                    {
                        "release_id": release.id,
                        "organisation_id": gathered.organisations[row.area_code],
                        "indicator_id": row.indicator_id,
                        "time_period": time_period,
                        "time_identifier": time_identifier,
                        "epsilon": float(row.epsilon),
                        "measure": release_policy.dp.measure,
                    }
                    for row in spend.itertuples(index=False)
                ],
            )
        audit.record_by(
            session,
            BUILT,
            actor,
            target_type="release",
            target_id=release.id,
            details={"label": release.label, "policy": name, **summary},
        )
    return release


# ------------------------------------------------------------------------------------- export


def release_frame(session: Session, release: Release) -> pd.DataFrame:
    """The stored table of ``release`` exactly as built."""
    return pd.read_parquet(io.BytesIO(read_file(session, release.file_id)))


def export_release(session: Session, actor: Principal, release_id: int, out: Path) -> list[Path]:
    """Write release ``release_id`` as EES files into ``out``; returns the paths written."""
    from schemas.ees import meta_table, write_ees

    _authorise(actor, Permission.NATIONAL_DOWNLOAD)
    release = session.get(Release, release_id)
    if release is None:
        raise ReleaseError(f"there is no release {release_id}")
    table = release_frame(session, release)
    stem = f"cscx_{release.channel}_{release.time_period}_release_{release.number}"
    paths = write_ees(table, meta_table(), out, stem, release.footnotes)
    with one_transaction(session):
        audit.record_by(
            session,
            EXPORTED,
            actor,
            target_type="release",
            target_id=release.id,
            details={"label": release.label, "format": "ees_csv"},
        )
    return paths


def releases(session: Session, channel: str = NATIONAL) -> list[Release]:
    return list(
        session.scalars(
            select(Release)
            .where(Release.channel == channel)
            .order_by(Release.time_period.desc(), Release.number.desc())
        )
    )


def releases_by_id(session: Session, ids: Iterable[int]) -> dict[int, Release]:
    """The releases with these database ids, by id (an id no release has is left out): what a
    page needs to name the releases its figures rest on ("national 2025 release 3")."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    return {r.id: r for r in session.scalars(select(Release).where(Release.id.in_(wanted)))}
