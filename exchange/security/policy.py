"""The one authorisation policy. Every view, API endpoint, export, CLI path and job asks here.

Two questions are answered:

* ``allowed(principal, permission)``: may this principal use this kind of function at all
  (upload for their LA, administer, view alliance comparisons, download national aggregates)?
  Routes declare their permission with :func:`requires`; a test walks the route map and fails
  for any route without one, so a new page cannot forget.
* ``visibility(principal, owner, scope, channel)``: may this principal see a value owned by LA
  ``owner`` that the LA shares at ``scope``, and in what form? An LA always sees its own raw
  values; everyone else only ever sees protected values (suppressed / noised by the privacy
  layer), and only within the sharing scope. Until the privacy layer exists, callers must treat
  ``PROTECTED`` as "nothing" (``Visibility.shown``).

Least privilege: administrators manage organisations, users and keys; they see no LA's values.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from exchange.models.organisation import OrganisationKind
from exchange.models.user import Role

__all__ = [
    "Channel",
    "Permission",
    "Principal",
    "Scope",
    "Visibility",
    "allowed",
    "permission_of",
    "requires",
    "visibility",
]


class Permission(enum.StrEnum):
    PUBLIC = "public"  # no sign-in: sign-in pages, static assets, health
    SIGNED_IN = "signed_in"  # any fully signed-in user (password + MFA)
    LA_VIEW = "la_view"  # see own LA's submissions and settings
    LA_SUBMIT = "la_submit"  # upload, accept, withdraw, change sharing for own LA
    ALLIANCE_VIEW = "alliance_view"  # comparisons across an alliance's LAs
    NATIONAL_DOWNLOAD = "national_download"  # suppressed national aggregates (analysts)
    ADMINISTER = "administer"  # organisations, alliances, users, roles, audit view, keys


class Scope(enum.StrEnum):
    """How widely an LA shares a domain or indicator (seed 1.2: the LA decides)."""

    PRIVATE = "private"  # own LA only
    ALLIANCE = "alliance"  # members of the LA's alliances
    NATIONAL = "national"  # all LAs and analysts


class Channel(enum.StrEnum):
    PORTAL = "portal"
    API = "api"
    EXPORT = "export"  # downloads, EES files, CLI exports
    JOB = "job"  # background computation on behalf of a principal


class Visibility(enum.Enum):
    NONE = "none"
    PROTECTED = "protected"  # only after the privacy layer's protection
    RAW = "raw"

    @property
    def shown(self) -> bool:
        """Until the privacy layer lands, only raw (own) values are shown to anyone."""
        return self is Visibility.RAW


_ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.LA_SUBMITTER: frozenset(
        {Permission.SIGNED_IN, Permission.LA_VIEW, Permission.LA_SUBMIT, Permission.ALLIANCE_VIEW}
    ),
    Role.LA_VIEWER: frozenset({Permission.SIGNED_IN, Permission.LA_VIEW, Permission.ALLIANCE_VIEW}),
    Role.ALLIANCE_VIEWER: frozenset({Permission.SIGNED_IN, Permission.ALLIANCE_VIEW}),
    Role.ANALYST: frozenset({Permission.SIGNED_IN, Permission.NATIONAL_DOWNLOAD}),
    Role.ADMINISTRATOR: frozenset({Permission.SIGNED_IN, Permission.ADMINISTER}),
}

# Which organisation kinds a role may belong to: a mismatch grants nothing.
_ROLE_ORGANISATION: dict[Role, OrganisationKind] = {
    Role.LA_SUBMITTER: OrganisationKind.LOCAL_AUTHORITY,
    Role.LA_VIEWER: OrganisationKind.LOCAL_AUTHORITY,
    Role.ALLIANCE_VIEWER: OrganisationKind.ALLIANCE,
    Role.ANALYST: OrganisationKind.NATIONAL,
    Role.ADMINISTRATOR: OrganisationKind.PLATFORM,
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user reduced to what the policy needs, or a system actor."""

    label: str
    role: Role | None
    organisation_id: int | None
    organisation_kind: OrganisationKind | None
    # Alliances the principal's organisation belongs to (an LA), or is (an alliance).
    alliance_ids: frozenset[int] = field(default_factory=frozenset)
    user_id: int | None = None
    is_system: bool = False

    @property
    def consistent(self) -> bool:
        return self.role is not None and _ROLE_ORGANISATION[self.role] is self.organisation_kind


def allowed(principal: Principal | None, permission: Permission) -> bool:
    if permission is Permission.PUBLIC:
        return True
    if principal is None:
        return False
    if principal.is_system:
        # The CLI acts for administrators on the machine itself; it is audited as such.
        return True
    if not principal.consistent:
        return False
    return permission in _ROLE_PERMISSIONS[principal.role]  # type: ignore[index]


def may_act_for(principal: Principal | None, organisation_id: int, permission: Permission) -> bool:
    """LA functions (view, submit) apply only to the principal's own LA."""
    if principal is None or not allowed(principal, permission):
        return False
    return principal.is_system or principal.organisation_id == organisation_id


def visibility(
    principal: Principal | None,
    owner_id: int,
    owner_alliance_ids: frozenset[int],
    scope: Scope,
    channel: Channel,
) -> Visibility:
    """What ``principal`` may see of a value owned by LA ``owner_id`` shared at ``scope``.

    ``channel`` is part of the question so that a channel can be narrowed later (say, exports
    of alliance data) without touching the callers; today every channel answers alike.
    """
    del channel  # same answer on every channel for now, see docstring
    if principal is None or principal.is_system or not principal.consistent:
        return Visibility.NONE
    role = principal.role
    if role is Role.ADMINISTRATOR:
        return Visibility.NONE  # least privilege: administrators see no LA's values
    if principal.organisation_id == owner_id and role in (Role.LA_SUBMITTER, Role.LA_VIEWER):
        return Visibility.RAW
    if scope is Scope.PRIVATE:
        return Visibility.NONE
    if scope is Scope.NATIONAL:
        return Visibility.PROTECTED
    # Alliance scope: an LA in one of the owner's alliances, or a viewer of such an alliance.
    if principal.alliance_ids & owner_alliance_ids:
        return Visibility.PROTECTED
    return Visibility.NONE


F = TypeVar("F", bound=Callable[..., object])
_ATTRIBUTE = "__exchange_permission__"


def requires(permission: Permission) -> Callable[[F], F]:
    """Declare a view's permission (checked by the app-wide guard; see exchange.security)."""

    def mark(view: F) -> F:
        setattr(view, _ATTRIBUTE, permission)
        return view

    return mark


def permission_of(view: Callable[..., object]) -> Permission | None:
    return getattr(view, _ATTRIBUTE, None)
