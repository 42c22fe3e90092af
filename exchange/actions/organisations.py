"""Organisations: the defaults made from reference data, and administrators' custom alliances.

Defaults (``ensure_default_organisations``, run by ``exchange init``):

* one LA organisation per old 3-digit code in the boundary history. An old code can have had
  several GSS codes (Barnsley 370: E08000016, then E08000038); the organisation carries the
  latest one. LAs whose codes have all ended (Cumbria 909, Northamptonshire 928…) stay as
  inactive organisations, so their past submissions keep an owner. Five county codes that ended
  in 2009 never had an old code and get no organisation;
* the nine regional alliances, one per English region, whose members are the live LAs of the
  region;
* the national analysts organisation and the platform administrators' organisation.

Every write runs in ONE transaction on the given session, committed on success and rolled back
on any error, together with its audit event. An actor who may not administer gets
``PermissionError``, and the refused attempt is itself audited (outcome ``denied``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from exchange import audit
from exchange.db import one_transaction
from exchange.models.organisation import AllianceMembership, Organisation, OrganisationKind
from exchange.security.policy import Permission, Principal, allowed
from schemas.reference import UnknownCodeError, load_reference

__all__ = [
    "NATIONAL_CODE",
    "PLATFORM_CODE",
    "OrganisationError",
    "alliance_code",
    "create_alliance",
    "deactivate_alliance",
    "ensure_default_organisations",
    "set_alliance_members",
]

NATIONAL_CODE = "national"
PLATFORM_CODE = "platform"
_NATIONAL_NAME = "National analysts"
_PLATFORM_NAME = "Exchange platform administration"


class OrganisationError(ValueError):
    """A request about organisations that cannot be carried out (the message says why)."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def alliance_code(name: str) -> str:
    """The public code of an alliance named ``name``: ``"alliance-<slug>"``."""
    return f"alliance-{_slug(name)}"


# ------------------------------------------------------------------------------------ defaults


def _default_specs() -> dict[str, dict[str, Any]]:
    """Every default organisation by code, with the attributes reference data gives it."""
    frames = load_reference().to_frames()
    history = frames["la_history"]
    specs: dict[str, dict[str, Any]] = {}
    for old_code, rows in history[history["old_la_code"].notna()].groupby("old_la_code"):
        live = rows[rows["date_of_termination"].isna()]
        # The live code if there is one, else the last code the LA had before it was abolished.
        latest = (live if len(live) else rows).sort_values("date_of_operation").iloc[-1]
        specs[str(old_code)] = {
            "kind": OrganisationKind.LOCAL_AUTHORITY,
            "name": latest["la_name"],
            "new_la_code": latest["new_la_code"],
            "region_code": latest["region_code"],
            "is_regional": False,
            "is_active": bool(len(live)),
        }
    regions = frames["regions"]
    for region in regions[regions["region_code"].str.startswith("E12")].itertuples():
        specs[alliance_code(region.region_name)] = {
            "kind": OrganisationKind.ALLIANCE,
            "name": f"{region.region_name} regional alliance",
            "new_la_code": None,
            "region_code": region.region_code,
            "is_regional": True,
            "is_active": True,
        }
    for code, kind, name in (
        (NATIONAL_CODE, OrganisationKind.NATIONAL, _NATIONAL_NAME),
        (PLATFORM_CODE, OrganisationKind.PLATFORM, _PLATFORM_NAME),
    ):
        specs[code] = {
            "kind": kind,
            "name": name,
            "new_la_code": None,
            "region_code": None,
            "is_regional": False,
            "is_active": True,
        }
    return specs


def _sync_members(
    session: Session, alliance: Organisation, members: Iterable[Organisation]
) -> tuple[list[str], list[str]]:
    """Make ``alliance``'s members exactly ``members``; returns the codes added and removed."""
    wanted = {la.id: la for la in members}
    current = {m.la_id: m for m in alliance.memberships}
    added = [wanted[la_id] for la_id in wanted.keys() - current.keys()]
    removed = [current[la_id] for la_id in current.keys() - wanted.keys()]
    for la in added:
        alliance.memberships.append(AllianceMembership(la=la))
    for membership in removed:
        alliance.memberships.remove(membership)
        session.delete(membership)
    session.flush()
    return sorted(la.code for la in added), sorted(m.la.code for m in removed)


def ensure_default_organisations(
    session: Session, *, actor_label: str = "system"
) -> dict[str, int]:
    """Create or update the default organisations and regional memberships from reference data.

    Idempotent: a second run changes nothing (but is audited, as
    ``default_organisations_ensured`` with what it changed). Custom alliances are not touched.
    Returns counts: organisations by kind, active LAs, organisations created and updated, and
    regional memberships added and removed.
    """
    specs = _default_specs()
    with one_transaction(session):
        # populate_existing throughout: sessions do not expire objects on commit, so ones
        # already in the session (memberships included) could be stale.
        existing = {
            org.code: org
            for org in session.scalars(
                select(Organisation)
                .where(Organisation.code.in_(specs))
                .execution_options(populate_existing=True)
            )
        }
        created = updated = 0
        for code, spec in specs.items():
            org = existing.get(code)
            if org is None:
                existing[code] = Organisation(code=code, **spec)
                session.add(existing[code])
                created += 1
                continue
            if org.kind is not spec["kind"] or org.is_regional != spec["is_regional"]:
                # A custom organisation holding a default's code: refuse rather than take it over.
                raise OrganisationError(f"organisation {code!r} exists but is not the default one")
            changes = {key: value for key, value in spec.items() if getattr(org, key) != value}
            for key, value in changes.items():
                setattr(org, key, value)
            updated += bool(changes)
        session.flush()

        added = removed = 0
        live_las = [org for org in existing.values() if org.is_la and org.is_active]
        for org in existing.values():
            if org.is_regional:
                members = [la for la in live_las if la.region_code == org.region_code]
                plus, minus = _sync_members(session, org, members)
                added, removed = added + len(plus), removed + len(minus)

        kinds = [spec["kind"] for spec in specs.values()]
        counts = {
            "local_authorities": kinds.count(OrganisationKind.LOCAL_AUTHORITY),
            "active_local_authorities": len(live_las),
            "regional_alliances": sum(spec["is_regional"] for spec in specs.values()),
            "national": kinds.count(OrganisationKind.NATIONAL),
            "platform": kinds.count(OrganisationKind.PLATFORM),
            "created": created,
            "updated": updated,
            "memberships_added": added,
            "memberships_removed": removed,
        }
        audit.record(
            session,
            "default_organisations_ensured",
            actor_label=actor_label,
            target_type="organisation",
            details=counts,
        )
    return counts


# ------------------------------------------------------------------------- custom alliances


def _authorise(session: Session, actor: Principal, action: str, code: str) -> None:
    """Raise PermissionError unless ``actor`` may administer; the refusal is audited in its own
    transaction (nothing else is written)."""
    if allowed(actor, Permission.ADMINISTER):
        return
    with one_transaction(session):
        audit.record_by(
            session,
            action,
            actor,
            target_type="organisation",
            outcome="denied",
            details={"code": code},
        )
    raise PermissionError("only administrators manage alliances")


def _resolve_las(session: Session, la_codes: Iterable[str]) -> list[Organisation]:
    """Live LA organisations for old or GSS codes (superseded GSS codes included)."""
    reference = load_reference()
    old_codes: list[str] = []
    for code in la_codes:
        try:
            old_code = reference.la(code.strip()).old_la_code
        except UnknownCodeError:
            raise OrganisationError(f"{code!r} is not a known LA code") from None
        if old_code is None:
            raise OrganisationError(f"{code!r} is an LA abolished in 2009")
        if old_code not in old_codes:
            old_codes.append(old_code)
    if not old_codes:
        raise OrganisationError("an alliance needs at least one LA")
    orgs = {
        org.code: org
        for org in session.scalars(
            select(Organisation)
            .where(
                Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
                Organisation.code.in_(old_codes),
            )
            .execution_options(populate_existing=True)
        )
    }
    for code in old_codes:
        org = orgs.get(code)
        if org is None:
            raise OrganisationError(f"LA {code} has no organisation: run exchange init")
        if not org.is_active:
            raise OrganisationError(f"LA {code} ({org.name}) has been abolished")
    return [orgs[code] for code in old_codes]


def _custom_alliance(session: Session, code: str) -> Organisation:
    """The active custom alliance ``code``, locked so concurrent changes to it queue up."""
    alliance = session.scalars(
        select(Organisation)
        .where(Organisation.code == code)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if alliance is None or alliance.kind is not OrganisationKind.ALLIANCE:
        raise OrganisationError(f"there is no alliance {code!r}")
    if alliance.is_regional:
        raise OrganisationError(
            f"{alliance.name} is a regional alliance: its members follow the reference data"
        )
    if not alliance.is_active:
        raise OrganisationError(f"{alliance.name} has been deactivated")
    return alliance


def _record(
    session: Session, action: str, actor: Principal, alliance: Organisation, **details: Any
) -> None:
    audit.record_by(
        session,
        action,
        actor,
        organisation_id=alliance.id,
        target_type="organisation",
        target_id=alliance.id,
        details={"code": alliance.code, **details},
    )


def create_alliance(
    session: Session, actor: Principal, name: str, la_codes: Iterable[str]
) -> Organisation:
    """Create a custom alliance of the given LAs (old or GSS codes). Administrators only.

    Its code is ``alliance-<slug of name>``; names taken by another organisation or by a region
    (reserved for the regional alliances) are refused. Audited as ``alliance_created``.
    """
    name = " ".join(name.split())
    code = alliance_code(name)
    _authorise(session, actor, "alliance_created", code)
    with one_transaction(session):
        if not _slug(name) or len(name) > 200:
            raise OrganisationError("an alliance needs a name of 1 to 200 characters")
        regions = load_reference().to_frames()["regions"]["region_name"]
        if code in {alliance_code(region) for region in regions}:
            raise OrganisationError(f"{name!r} is reserved for a regional alliance")
        if session.scalars(select(Organisation.id).where(Organisation.code == code)).first():
            raise OrganisationError(f"an organisation with code {code!r} already exists")
        members = _resolve_las(session, la_codes)
        alliance = Organisation(
            kind=OrganisationKind.ALLIANCE, code=code, name=name, is_regional=False, is_active=True
        )
        session.add(alliance)
        session.flush()
        added, _ = _sync_members(session, alliance, members)
        _record(session, "alliance_created", actor, alliance, members=added)
    return alliance


def set_alliance_members(
    session: Session, actor: Principal, code: str, la_codes: Iterable[str]
) -> dict[str, list[str]]:
    """Make a custom alliance's members exactly the given LAs. Administrators only.

    Returns the old codes ``added`` and ``removed``. Audited as ``alliance_members_changed``.
    """
    _authorise(session, actor, "alliance_members_changed", code)
    with one_transaction(session):
        alliance = _custom_alliance(session, code)
        added, removed = _sync_members(session, alliance, _resolve_las(session, la_codes))
        _record(session, "alliance_members_changed", actor, alliance, added=added, removed=removed)
    return {"added": added, "removed": removed}


def deactivate_alliance(session: Session, actor: Principal, code: str) -> Organisation:
    """Deactivate a custom alliance. Administrators only; regional alliances cannot be.

    Its memberships are removed too, so it grants nothing to anyone however alliance access is
    worked out; the audit event (``alliance_deactivated``) keeps who the members were.
    """
    _authorise(session, actor, "alliance_deactivated", code)
    with one_transaction(session):
        alliance = _custom_alliance(session, code)
        _, removed = _sync_members(session, alliance, [])
        alliance.is_active = False
        session.flush()
        _record(session, "alliance_deactivated", actor, alliance, removed=removed)
    return alliance


def lock_organisation(session: Session, organisation_id: int) -> None:
    """Serialise changes to one organisation's records (an LA's submissions, journeys...) until
    the transaction ends, so the loser of a race waits and then sees the winner's change.
    PostgreSQL: the organisation's row, FOR NO KEY UPDATE (foreign-key checks elsewhere still
    pass). SQLite has no row locks; a no-op write takes its database write lock instead
    (pysqlite begins a transaction only at the first write)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Organisation)
            .where(Organisation.id == organisation_id)
            .values(name=Organisation.name)
        )
    else:
        session.execute(
            select(Organisation.id)
            .where(Organisation.id == organisation_id)
            .with_for_update(key_share=True)
        )
