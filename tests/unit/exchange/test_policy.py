"""The authorisation policy's answers, role by role and scope by scope."""

from __future__ import annotations

import pytest

from exchange.models.organisation import OrganisationKind as Kind
from exchange.models.user import Role
from exchange.security.policy import (
    Channel,
    Permission,
    Principal,
    Scope,
    Visibility,
    allowed,
    may_act_for,
    visibility,
)

OWNER, OTHER_LA, ALLIANCE, OTHER_ALLIANCE, NATIONAL, PLATFORM = 1, 2, 10, 11, 20, 30
OWNER_ALLIANCES = frozenset({ALLIANCE})


def principal(
    role: Role, org: int, kind: Kind, alliances: frozenset[int] = frozenset()
) -> Principal:
    return Principal("p", role, org, kind, alliances, user_id=99)


OWN_SUBMITTER = principal(Role.LA_SUBMITTER, OWNER, Kind.LOCAL_AUTHORITY, OWNER_ALLIANCES)
OWN_VIEWER = principal(Role.LA_VIEWER, OWNER, Kind.LOCAL_AUTHORITY, OWNER_ALLIANCES)
ALLY_LA = principal(Role.LA_SUBMITTER, OTHER_LA, Kind.LOCAL_AUTHORITY, frozenset({ALLIANCE}))
STRANGER_LA = principal(Role.LA_VIEWER, OTHER_LA, Kind.LOCAL_AUTHORITY, frozenset({OTHER_ALLIANCE}))
ALLIANCE_VIEWER = principal(Role.ALLIANCE_VIEWER, ALLIANCE, Kind.ALLIANCE, frozenset({ALLIANCE}))
OTHER_ALLIANCE_VIEWER = principal(
    Role.ALLIANCE_VIEWER, OTHER_ALLIANCE, Kind.ALLIANCE, frozenset({OTHER_ALLIANCE})
)
ANALYST = principal(Role.ANALYST, NATIONAL, Kind.NATIONAL)
ADMIN = principal(Role.ADMINISTRATOR, PLATFORM, Kind.PLATFORM)

R, P, N = Visibility.RAW, Visibility.PROTECTED, Visibility.NONE


@pytest.mark.parametrize(
    ("who", "private", "alliance", "national"),
    [
        (OWN_SUBMITTER, R, R, R),
        (OWN_VIEWER, R, R, R),
        (ALLY_LA, N, P, P),
        (STRANGER_LA, N, N, P),
        (ALLIANCE_VIEWER, N, P, P),
        (OTHER_ALLIANCE_VIEWER, N, N, P),
        (ANALYST, N, N, P),
        (ADMIN, N, N, N),
        (None, N, N, N),
    ],
    ids=[
        "own-submitter",
        "own-viewer",
        "ally-la",
        "stranger-la",
        "alliance-viewer",
        "other-alliance-viewer",
        "analyst",
        "administrator",
        "anonymous",
    ],
)
@pytest.mark.parametrize("channel", list(Channel))
def test_visibility_matrix(
    who: Principal | None,
    private: Visibility,
    alliance: Visibility,
    national: Visibility,
    channel: Channel,
) -> None:
    got = [visibility(who, OWNER, OWNER_ALLIANCES, s, channel) for s in Scope]
    assert got == [private, alliance, national]


def test_visibility_protected_not_shown_until_privacy_layer() -> None:
    assert Visibility.RAW.shown
    assert not Visibility.PROTECTED.shown
    assert not Visibility.NONE.shown


@pytest.mark.parametrize(
    ("who", "granted"),
    [
        (OWN_SUBMITTER, {Permission.LA_VIEW, Permission.LA_SUBMIT, Permission.ALLIANCE_VIEW}),
        (OWN_VIEWER, {Permission.LA_VIEW, Permission.ALLIANCE_VIEW}),
        (ALLIANCE_VIEWER, {Permission.ALLIANCE_VIEW}),
        (ANALYST, {Permission.NATIONAL_DOWNLOAD}),
        (ADMIN, {Permission.ADMINISTER}),
    ],
)
def test_allowed_role_permissions(who: Principal, granted: set[Permission]) -> None:
    always = {Permission.PUBLIC, Permission.SIGNED_IN}
    assert {p for p in Permission if allowed(who, p)} == granted | always


def test_allowed_role_in_wrong_organisation_grants_nothing() -> None:
    # An "administrator" role on an LA account (a data error or an attack) gets nothing.
    odd = principal(Role.ADMINISTRATOR, OWNER, Kind.LOCAL_AUTHORITY)
    assert {p for p in Permission if allowed(odd, p)} == {Permission.PUBLIC}


def test_allowed_anonymous_only_public() -> None:
    assert {p for p in Permission if allowed(None, p)} == {Permission.PUBLIC}


def test_may_act_for_only_own_la() -> None:
    assert may_act_for(OWN_SUBMITTER, OWNER, Permission.LA_SUBMIT)
    assert not may_act_for(ALLY_LA, OWNER, Permission.LA_SUBMIT)
    assert not may_act_for(OWN_VIEWER, OWNER, Permission.LA_SUBMIT)
    assert not may_act_for(ADMIN, OWNER, Permission.LA_VIEW)
