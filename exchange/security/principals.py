"""Principals from the database, and the one question every value display must ask.

:func:`visible_value` is THE entry point for deciding whether a value may be shown: every view,
API endpoint, export, CLI path and background job that is about to show, return, write out or
compute from an LA's indicator value calls it (or :func:`visible_values` for many indicators of
one LA) and acts on the answer:

* ``Visibility.RAW``: the principal's own LA; show the value as stored.
* ``Visibility.PROTECTED``: shared with the principal; only the privacy layer's protected form
  may be shown. Until that layer exists, treat it as nothing (``Visibility.shown`` is False).
* ``Visibility.NONE``: show nothing, not even that a value exists.

It combines the owner's effective sharing scope for the indicator
(``exchange.actions.sharing``) and the owner's active alliances with the policy's
``visibility``; no caller interprets scopes or alliance memberships itself.

:func:`principal_for_user` turns a user into the :class:`~exchange.security.policy.Principal`
the policy reasons about; :func:`system_principal` is the CLI's or a job's own actor.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from exchange.actions.sharing import effective_scope, effective_scopes
from exchange.models.organisation import AllianceMembership, Organisation, OrganisationKind
from exchange.models.user import User
from exchange.security.policy import Channel, Principal, Visibility, visibility

__all__ = [
    "owner_alliance_ids",
    "principal_for_user",
    "system_principal",
    "visible_value",
    "visible_values",
]


def owner_alliance_ids(session: Session, la_id: int) -> frozenset[int]:
    """The active alliances LA ``la_id`` is a member of (an inactive alliance shares nothing)."""
    alliance = aliased(Organisation)
    ids = session.scalars(
        select(AllianceMembership.alliance_id)
        .join(alliance, alliance.id == AllianceMembership.alliance_id)
        .where(
            AllianceMembership.la_id == la_id,
            alliance.kind == OrganisationKind.ALLIANCE,
            alliance.is_active.is_(True),
        )
    ).all()
    return frozenset(ids)


def principal_for_user(session: Session, user: User) -> Principal:
    """The policy's view of ``user``: role, organisation and its kind, and alliances (an LA's
    active alliances; an alliance organisation is its own alliance).

    An inactive user, or a user of an inactive organisation, gets a principal with no role,
    which the policy grants nothing (fail closed even if a caller forgets to check).
    """
    org = session.get(Organisation, user.organisation_id)
    label = f"user:{user.email}"
    if org is None or not user.is_active or not org.is_active:
        return Principal(label, None, user.organisation_id, None, user_id=user.id)
    if org.kind is OrganisationKind.LOCAL_AUTHORITY:
        alliances = owner_alliance_ids(session, org.id)
    elif org.kind is OrganisationKind.ALLIANCE:
        alliances = frozenset({org.id})
    else:
        alliances = frozenset()
    return Principal(label, user.role, org.id, org.kind, alliances, user_id=user.id)


def system_principal(label: str = "system:cli") -> Principal:
    """The machine itself (CLI, scheduled jobs): may use every function, sees no LA's values."""
    return Principal(label, None, None, None, is_system=True)


def visible_value(
    session: Session,
    principal: Principal | None,
    owner_la_id: int,
    indicator_id: str,
    channel: Channel,
) -> Visibility:
    """What ``principal`` may see, in ``channel``, of LA ``owner_la_id``'s value for
    ``indicator_id`` (see the module docstring for what each answer allows)."""
    scope = effective_scope(session, owner_la_id, indicator_id)
    return visibility(
        principal, owner_la_id, owner_alliance_ids(session, owner_la_id), scope, channel
    )


def visible_values(
    session: Session, principal: Principal | None, owner_la_id: int, channel: Channel
) -> dict[str, Visibility]:
    """:func:`visible_value` for every catalogue indicator of one LA, in two queries."""
    alliances = owner_alliance_ids(session, owner_la_id)
    return {
        indicator_id: visibility(principal, owner_la_id, alliances, scope, channel)
        for indicator_id, scope in effective_scopes(session, owner_la_id).items()
    }
