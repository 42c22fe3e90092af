"""The named suppression policies (privacy.policy).

Named test_suppression_policy.py because tests/unit/exchange/test_policy.py already owns the
module name test_policy in this suite (test folders are not packages)."""

from __future__ import annotations

import dataclasses

import pytest

from privacy.policy import (
    DFE,
    OPENSAFELY_MIDPOINT6,
    OPENSAFELY_ROUND5,
    POLICIES,
    SuppressionPolicy,
    policy_by_name,
)


def test_policy_dfe_is_the_1_to_5_rule_with_rounded_aggregates() -> None:
    assert (DFE.name, DFE.threshold, DFE.suppress_zeros, DFE.protection_width) == (
        "dfe",
        5,
        False,
        5,
    )
    assert dict(DFE.round_levels) == {"National": 10, "Regional": 10}
    assert [c for c in range(8) if DFE.is_primary(c)] == [1, 2, 3, 4, 5]
    assert DFE.known_lower_suppressed == 1
    assert not DFE.rounds_all


@pytest.mark.parametrize(
    ("policy", "base", "rounding"),
    [(OPENSAFELY_ROUND5, 5, "nearest"), (OPENSAFELY_MIDPOINT6, 6, "midpoint")],
)
def test_policy_opensafely_redacts_7_or_fewer_and_rounds_everything(
    policy: SuppressionPolicy, base: int, rounding: str
) -> None:
    assert [c for c in range(10) if policy.is_primary(c)] == list(range(8))
    assert policy.protection_width == 8
    assert policy.known_lower_suppressed == 0
    assert policy.rounds_all
    assert set(policy.round_levels.values()) == {base}
    assert policy.rounding == rounding


def test_policy_by_name_finds_every_named_policy() -> None:
    assert set(POLICIES) == {"dfe", "opensafely", "opensafely_midpoint6"}
    for name, policy in POLICIES.items():
        assert policy_by_name(name) is policy


def test_policy_by_name_lists_valid_names_on_error() -> None:
    with pytest.raises(ValueError, match="dfe, opensafely, opensafely_midpoint6"):
        policy_by_name("strict")


@pytest.mark.parametrize("policy", list(POLICIES.values()))
def test_policy_footnotes_explain_the_symbol(policy: SuppressionPolicy) -> None:
    assert "'c'" in policy.footnote
    assert str(policy.threshold) in policy.footnote or "5" in policy.footnote


def test_policy_is_frozen_including_its_rounding_levels() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DFE.threshold = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        DFE.round_levels["Local authority"] = 5  # type: ignore[index]
    assert hash(DFE) == hash(DFE)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"round_levels": {"Ward": 10}},
        {"round_levels": {"National": 0}},
        {"protection_width": 0},
        {"threshold": -1},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        SuppressionPolicy(
            name="x", threshold=kwargs.pop("threshold", 5), suppress_zeros=False, **kwargs
        )
