"""Custom comparison sets (issue 5): groups of LAs an LA or an alliance defines to compare with.

An LA's own set is a group the LA compares itself with: its submitters (``LA_SUBMIT`` for
their own LA) create, change and delete it, its staff (``LA_VIEW``) see it, and the LA is its
only viewer, so it may not be a member of it. An alliance's set is shared by its members, as
an alliance is: every member LA sees the set's statistics, so its members must be members of
the alliance. Alliance members hold ``ALLIANCE_VIEW`` only (no alliance-level write
permission exists in :mod:`exchange.security.policy`), so administrators (``ADMINISTER``)
manage alliances' sets; the alliance's LAs and its viewers see them.

A set has :data:`MIN_MEMBERS` to :data:`MAX_MEMBERS` live LAs. The minimum is the disclosure
rule's (:data:`privacy.groups.MIN_CONTRIBUTORS` LAs besides the viewer): an LA's set with
fewer members could never show a statistic. An alliance's set needs one more
(:data:`MIN_ALLIANCE_MEMBERS`), as each member views it and does not count for itself. Names
are trimmed, at most 100 characters and unique per owner (whatever their case).

Every write is one transaction with its audit event (``custom_set_created``, ``_updated``,
``_deleted``: the set's name and member count, never a value); a refusal is audited on its
own (outcome ``denied``). After each write the comparisons are queued for a recompute
(:func:`exchange.actions.refresh.request_comparisons`): the sets are part of the basis of every
LA's figures (:mod:`exchange.actions.comparisons`), read through :func:`custom_groups_frame`.
A set holds no indicator value, and its statistics are computed like any other group's: from
protected values only, blank unless enough LAs besides the viewer contribute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from exchange import audit
from exchange.db import one_transaction
from exchange.models import (
    AllianceMembership,
    CustomComparisonSet,
    CustomComparisonSetMember,
    Organisation,
    OrganisationKind,
)
from exchange.security.policy import Permission, Principal, allowed, may_act_for
from privacy.groups import MIN_CONTRIBUTORS
from schemas.reference import load_reference

__all__ = [
    "GROUP_PREFIX",
    "GROUP_TYPE",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MEMBERS",
    "MAX_NAME_LENGTH",
    "MIN_ALLIANCE_MEMBERS",
    "MIN_MEMBERS",
    "CustomSetError",
    "Region",
    "all_sets",
    "create_set",
    "custom_groups_frame",
    "delete_set",
    "get_set",
    "group_labels",
    "may_manage_sets",
    "may_view_sets",
    "member_choices",
    "min_members",
    "sets_for",
    "update_set",
]

MIN_MEMBERS = MIN_CONTRIBUTORS
MIN_ALLIANCE_MEMBERS = MIN_CONTRIBUTORS + 1
MAX_MEMBERS = 30
MAX_NAME_LENGTH = 100  # the column's length
MAX_DESCRIPTION_LENGTH = 1000
GROUP_PREFIX = "custom"
GROUP_TYPE = "custom"
GROUP_COLUMNS = ["group_id", "group_type", "owner", "la_code"]
SHARED_OWNER = ""  # workers.analytics.meta.SHARED_OWNER: a group shared by its members

SET_CREATED = "custom_set_created"
SET_UPDATED = "custom_set_updated"
SET_DELETED = "custom_set_deleted"


class CustomSetError(ValueError):
    """A set that cannot be made or changed. The message is a sentence to show as it is;
    ``field`` names the input it is about (``name``, ``description``, ``members``, ``owner``,
    ``set``) or is None."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------------------ who may do what


def may_manage_sets(actor: Principal | None, owner: Organisation) -> bool:
    """An LA's sets: its own submitters; an alliance's: administrators. The system actor (CLI,
    jobs) may do either."""
    if owner.kind is OrganisationKind.LOCAL_AUTHORITY:
        return may_act_for(actor, owner.id, Permission.LA_SUBMIT)
    if owner.kind is OrganisationKind.ALLIANCE:
        return allowed(actor, Permission.ADMINISTER)
    return False


def may_view_sets(actor: Principal | None, owner: Organisation) -> bool:
    """An LA's sets: its own staff. An alliance's: its member LAs' staff and its viewers
    (``ALLIANCE_VIEW`` for an alliance of theirs) and administrators."""
    if actor is None:
        return False
    if owner.kind is OrganisationKind.LOCAL_AUTHORITY:
        return may_act_for(actor, owner.id, Permission.LA_VIEW)
    if owner.kind is OrganisationKind.ALLIANCE:
        if allowed(actor, Permission.ADMINISTER):
            return True
        return allowed(actor, Permission.ALLIANCE_VIEW) and owner.id in actor.alliance_ids
    return False


def min_members(owner: Organisation) -> int:
    """The fewest members a set of ``owner`` may have (see the module docstring)."""
    return MIN_ALLIANCE_MEMBERS if owner.kind is OrganisationKind.ALLIANCE else MIN_MEMBERS


def _deny(
    session: Session, actor: Principal, action: str, owner: Organisation, why: str
) -> PermissionError:
    """Audit a refusal (outcome ``denied``) in its own transaction; the error to raise."""
    session.rollback()
    with one_transaction(session):
        audit.record_by(
            session,
            action,
            actor,
            organisation_id=owner.id,
            target_type="organisation",
            target_id=owner.id,
            outcome="denied",
        )
    return PermissionError(why)


def _require_manager(session: Session, actor: Principal, action: str, owner: Organisation) -> None:
    if may_manage_sets(actor, owner):
        return
    if owner.kind is OrganisationKind.ALLIANCE:
        why = "only administrators may change an alliance's comparison sets"
    else:
        why = "only the local authority's own submitters may change its comparison sets"
    raise _deny(session, actor, action, owner, why)


# -------------------------------------------------------------------------------- validation


def _owner(session: Session, owner_organisation_id: int) -> Organisation:
    owner = session.get(Organisation, owner_organisation_id)
    kinds = (OrganisationKind.LOCAL_AUTHORITY, OrganisationKind.ALLIANCE)
    if owner is None or owner.kind not in kinds:
        raise CustomSetError(
            f"Organisation {owner_organisation_id} is not a local authority or an alliance",
            "owner",
        )
    return owner


def _check_live_owner(owner: Organisation) -> None:
    if not owner.is_active:
        what = "been deactivated" if owner.kind is OrganisationKind.ALLIANCE else "been abolished"
        raise CustomSetError(f"{owner.name} has {what}: it cannot have comparison sets", "owner")


def _plain(text: str) -> bool:
    return not any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in text)


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not " ".join(name.split()):
        raise CustomSetError("Enter a name for the set", "name")
    text = " ".join(name.split())
    if not _plain(text):
        raise CustomSetError("The name must be plain text", "name")
    if len(text) > MAX_NAME_LENGTH:
        raise CustomSetError(f"The name must be {MAX_NAME_LENGTH} characters or fewer", "name")
    return text


def _clean_description(description: object) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise CustomSetError("The description must be text", "description")
    text = description.replace("\r\n", "\n").strip()
    if not _plain(text):
        raise CustomSetError("The description must be plain text", "description")
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise CustomSetError(
            f"The description must be {MAX_DESCRIPTION_LENGTH:,} characters or fewer",
            "description",
        )
    return text


def _member_ids(member_ids: Iterable[object]) -> list[int]:
    """The ids once each, in the order given."""
    ids: list[int] = []
    for item in member_ids:
        if isinstance(item, bool) or not isinstance(item, int):
            raise CustomSetError(f"{item!r} is not an organisation id", "members")
        if item not in ids:
            ids.append(item)
    return ids


def _alliance_member_ids(session: Session, alliance_id: int) -> set[int]:
    return set(
        session.scalars(
            select(AllianceMembership.la_id).where(AllianceMembership.alliance_id == alliance_id)
        )
    )


def _members(session: Session, owner: Organisation, member_ids: Iterable[object]) -> list[int]:
    """The checked member ids: live LAs, not the owning LA, the alliance's own members for an
    alliance's set, between :func:`min_members` and :data:`MAX_MEMBERS` of them."""
    ids = _member_ids(member_ids)
    found = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
    in_alliance = (
        _alliance_member_ids(session, owner.id)
        if owner.kind is OrganisationKind.ALLIANCE
        else set()
    )
    for member_id in ids:
        org = found.get(member_id)
        if org is None or org.kind is not OrganisationKind.LOCAL_AUTHORITY:
            raise CustomSetError(f"Organisation {member_id} is not a local authority", "members")
        if not org.is_active or not org.new_la_code:
            raise CustomSetError(
                f"{org.name} has been abolished: choose local authorities that exist now",
                "members",
            )
        if org.id == owner.id:
            raise CustomSetError(
                f"A set cannot include {org.name} itself: {org.name} is compared with the set",
                "members",
            )
        if owner.kind is OrganisationKind.ALLIANCE and org.id not in in_alliance:
            raise CustomSetError(
                f"{org.name} is not a member of {owner.name}: an alliance's set holds only its "
                "own members, who all see it",
                "members",
            )
    fewest = min_members(owner)
    if len(ids) < fewest:
        chose = f"you chose {len(ids)}" if ids else "you chose none"
        raise CustomSetError(
            f"Choose at least {fewest} local authorities ({chose}): statistics are shown only "
            f"when at least {MIN_CONTRIBUTORS} local authorities besides the viewer have a "
            "published value",
            "members",
        )
    if len(ids) > MAX_MEMBERS:
        raise CustomSetError(
            f"Choose at most {MAX_MEMBERS} local authorities (you chose {len(ids)})", "members"
        )
    return ids


def _check_unique_name(
    session: Session, owner: Organisation, name: str, except_id: int | None = None
) -> None:
    query = select(CustomComparisonSet.id, CustomComparisonSet.name).where(
        CustomComparisonSet.owner_organisation_id == owner.id
    )
    for set_id, existing in session.execute(query):
        if set_id != except_id and existing.casefold() == name.casefold():
            raise CustomSetError(f"{owner.name} already has a set called {existing}", "name")


def _comparisons_changed(session: Session, actor: Principal, owner: Organisation) -> None:
    """Sets feed the comparison groups: queue their recompute (after the change is committed;
    nothing when automatic refreshes are off)."""
    from exchange.actions.refresh import request_comparisons

    request_comparisons(session, organisation_id=owner.id, requested_by=actor.user_id)


def _event(
    session: Session, action: str, actor: Principal, chosen: CustomComparisonSet, **more: Any
) -> None:
    audit.record_by(
        session,
        action,
        actor,
        organisation_id=chosen.owner_organisation_id,
        target_type="custom_comparison_set",
        target_id=chosen.id,
        details={"name": chosen.name, "members": len(chosen.members), **more},
    )


def _name_taken(owner: Organisation, name: str) -> CustomSetError:
    return CustomSetError(f"{owner.name} already has a set called {name}", "name")


# ------------------------------------------------------------------------------------- writes


def create_set(
    session: Session,
    actor: Principal,
    owner_organisation_id: int,
    *,
    name: str,
    description: str = "",
    member_ids: Iterable[int],
) -> CustomComparisonSet:
    """Create a set owned by LA or alliance ``owner_organisation_id`` with the LAs
    ``member_ids`` (organisation ids). Raises :class:`CustomSetError` for bad input,
    PermissionError (audited) for anyone who may not manage the owner's sets. Audited as
    ``custom_set_created``; queues a recompute of the comparisons."""
    owner = _owner(session, owner_organisation_id)
    _require_manager(session, actor, SET_CREATED, owner)
    _check_live_owner(owner)
    clean = _clean_name(name)
    text = _clean_description(description)
    try:
        with one_transaction(session):
            ids = _members(session, owner, member_ids)
            _check_unique_name(session, owner, clean)
            made = CustomComparisonSet(
                owner_organisation_id=owner.id,
                name=clean,
                description=text,
                created_by_label=actor.label,
                members=[CustomComparisonSetMember(organisation_id=i) for i in ids],
            )
            session.add(made)
            session.flush()
            _event(session, SET_CREATED, actor, made)
    except IntegrityError:  # a set of the same name made meanwhile
        raise _name_taken(owner, clean) from None
    _comparisons_changed(session, actor, owner)
    return made


def _existing(session: Session, set_id: int) -> CustomComparisonSet:
    found = session.get(CustomComparisonSet, set_id, populate_existing=True)
    if found is None:
        raise CustomSetError("There is no such comparison set: it may have been deleted", "set")
    return found


def update_set(
    session: Session,
    actor: Principal,
    set_id: int,
    *,
    name: str,
    description: str = "",
    member_ids: Iterable[int],
) -> CustomComparisonSet:
    """Rename, describe and re-member set ``set_id`` (the same rules as :func:`create_set`;
    its owner stays). Audited as ``custom_set_updated`` (with its previous name when renamed
    and the numbers of members added and removed); queues a recompute of the comparisons."""
    chosen = _existing(session, set_id)
    owner = chosen.owner
    _require_manager(session, actor, SET_UPDATED, owner)
    _check_live_owner(owner)
    clean = _clean_name(name)
    text = _clean_description(description)
    try:
        with one_transaction(session):
            ids = _members(session, owner, member_ids)
            _check_unique_name(session, owner, clean, except_id=chosen.id)
            previous = chosen.name
            current = {m.organisation_id: m for m in chosen.members}
            added = [i for i in ids if i not in current]
            removed = [m for i, m in current.items() if i not in ids]
            for member in removed:
                chosen.members.remove(member)
            for member_id in added:
                chosen.members.append(CustomComparisonSetMember(organisation_id=member_id))
            chosen.name = clean
            chosen.description = text
            session.flush()
            more: dict[str, Any] = {"added": len(added), "removed": len(removed)}
            if previous != clean:
                more["previous_name"] = previous
            _event(session, SET_UPDATED, actor, chosen, **more)
    except IntegrityError:
        raise _name_taken(owner, clean) from None
    _comparisons_changed(session, actor, owner)
    return chosen


def delete_set(session: Session, actor: Principal, set_id: int) -> str:
    """Delete set ``set_id``; returns its name. Audited as ``custom_set_deleted`` (its name
    and member count); queues a recompute of the comparisons."""
    chosen = _existing(session, set_id)
    owner = chosen.owner
    _require_manager(session, actor, SET_DELETED, owner)
    with one_transaction(session):
        name = chosen.name
        _event(session, SET_DELETED, actor, chosen)
        session.delete(chosen)
    _comparisons_changed(session, actor, owner)
    return name


# -------------------------------------------------------------------------------------- reads


def _with_members(query: Any) -> Any:
    return query.options(
        selectinload(CustomComparisonSet.owner),
        selectinload(CustomComparisonSet.members).selectinload(
            CustomComparisonSetMember.organisation
        ),
    )


def sets_for(
    session: Session, actor: Principal, owner_organisation_id: int
) -> list[CustomComparisonSet]:
    """The sets of LA or alliance ``owner_organisation_id`` (members and their organisations
    loaded), by name, for whoever may see them (:func:`may_view_sets`); PermissionError for
    anyone else."""
    owner = _owner(session, owner_organisation_id)
    if not may_view_sets(actor, owner):
        raise PermissionError(f"{actor.label} may not see {owner.name}'s comparison sets")
    found = session.scalars(
        _with_members(
            select(CustomComparisonSet)
            .where(CustomComparisonSet.owner_organisation_id == owner.id)
            .order_by(CustomComparisonSet.name, CustomComparisonSet.id)
            .execution_options(populate_existing=True)
        )
    )
    return list(found)


def get_set(
    session: Session, actor: Principal, set_id: int, *, manage: bool = False
) -> CustomComparisonSet:
    """Set ``set_id`` for a viewer who may see it (or, with ``manage``, change it).
    :class:`CustomSetError` (field ``set``) when there is no such set, PermissionError when
    the actor may not see (or change) it: a page shows both alike."""
    chosen = _existing(session, set_id)
    may = may_manage_sets if manage else may_view_sets
    if not may(actor, chosen.owner):
        raise PermissionError(f"{actor.label} may not see this comparison set")
    return chosen


def all_sets(session: Session, actor: Principal) -> list[CustomComparisonSet]:
    """Every set (owner and members loaded), by owner name then set name: administrators and
    the system actor only (``exchange sets list``)."""
    if not allowed(actor, Permission.ADMINISTER):
        raise PermissionError(f"{actor.label} may not list every comparison set")
    owner = aliased(Organisation)
    return list(
        session.scalars(
            _with_members(
                select(CustomComparisonSet)
                .join(owner, CustomComparisonSet.owner_organisation_id == owner.id)
                .order_by(owner.name, CustomComparisonSet.name)
            )
        )
    )


@dataclass(frozen=True)
class Region:
    """The LAs of one region that may be chosen as members, by name."""

    code: str
    name: str
    authorities: list[Organisation]


def member_choices(session: Session, owner: Organisation) -> list[Region]:
    """The LAs a set of ``owner`` may have, grouped by region (in region code order): every
    live LA but the owner itself for an LA's set; the alliance's live members for an
    alliance's set."""
    query = select(Organisation).where(
        Organisation.kind == OrganisationKind.LOCAL_AUTHORITY,
        Organisation.is_active.is_(True),
        Organisation.new_la_code.is_not(None),
        Organisation.id != owner.id,
    )
    if owner.kind is OrganisationKind.ALLIANCE:
        query = query.join(AllianceMembership, AllianceMembership.la_id == Organisation.id).where(
            AllianceMembership.alliance_id == owner.id
        )
    names = dict(
        load_reference()
        .to_frames()["regions"][["region_code", "region_name"]]
        .itertuples(index=False)
    )
    by_region: dict[str, list[Organisation]] = {}
    for org in session.scalars(query.order_by(Organisation.name)):
        by_region.setdefault(org.region_code or "", []).append(org)
    return [
        Region(code, str(names.get(code, "Region not known")), las)
        for code, las in sorted(by_region.items())
    ]


def group_labels(session: Session, group_ids: Iterable[str]) -> dict[str, str]:
    """The names of the custom sets among ``group_ids`` (``"custom:<id>"``), by group id; a
    set deleted since the comparisons were computed is called so. For the comparison pages,
    which pass the group ids of the viewer's own comparisons only."""
    wanted: dict[int, str] = {}
    for group_id in group_ids:
        kind, _, rest = str(group_id).partition(":")
        if kind == GROUP_PREFIX and rest.isdigit():
            wanted[int(rest)] = str(group_id)
    if not wanted:
        return {}
    names = dict(
        session.execute(
            select(CustomComparisonSet.id, CustomComparisonSet.name).where(
                CustomComparisonSet.id.in_(sorted(wanted))
            )
        ).all()
    )
    return {
        group_id: names.get(set_id, "Custom comparison set (since deleted)")
        for set_id, group_id in wanted.items()
    }


def custom_groups_frame(session: Session) -> pd.DataFrame:
    """Every set's memberships with the columns of the comparison groups contract
    (:class:`workers.analytics.meta.Groups`): ``group_id`` ``"custom:<set id>"``,
    ``group_type`` ``"custom"``, ``owner`` (the owning LA's GSS code, or ``""`` for an
    alliance's set, shared by its members) and ``la_code`` (a member's GSS code).

    Read by the system (no actor), like the other inputs of the recompute. Only what can be
    compared now counts: the sets of live LAs and active alliances, and their members that
    are live LAs (for an alliance's set, still members of the alliance); an LA is never a
    member of its own set. Ordered by set, then member."""
    owner = aliased(Organisation)
    member = aliased(Organisation)
    rows = session.execute(
        select(
            CustomComparisonSet.id,
            owner.id,
            owner.kind,
            owner.new_la_code,
            member.id,
            member.new_la_code,
        )
        .join(owner, CustomComparisonSet.owner_organisation_id == owner.id)
        .join(
            CustomComparisonSetMember,
            CustomComparisonSetMember.set_id == CustomComparisonSet.id,
        )
        .join(member, CustomComparisonSetMember.organisation_id == member.id)
        .where(
            owner.is_active.is_(True),
            member.is_active.is_(True),
            member.kind == OrganisationKind.LOCAL_AUTHORITY,
            member.new_la_code.is_not(None),
        )
        .order_by(CustomComparisonSet.id, member.new_la_code)
    ).all()
    alliance_members = set(
        session.execute(select(AllianceMembership.alliance_id, AllianceMembership.la_id)).all()
    )
    records: list[tuple[str, str, str, str]] = []
    for set_id, owner_id, kind, owner_code, member_id, member_code in rows:
        if kind is OrganisationKind.LOCAL_AUTHORITY:
            if not owner_code or member_id == owner_id:
                continue
            shown_owner = owner_code
        elif kind is OrganisationKind.ALLIANCE:
            if (owner_id, member_id) not in alliance_members:
                continue
            shown_owner = SHARED_OWNER
        else:
            continue
        records.append((f"{GROUP_PREFIX}:{set_id}", GROUP_TYPE, shown_owner, member_code))
    return pd.DataFrame(
        {
            name: pd.Series([r[i] for r in records], dtype="str")
            for i, name in enumerate(GROUP_COLUMNS)
        }
    )
