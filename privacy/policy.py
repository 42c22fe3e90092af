"""Small-number suppression policies: which counts are hidden, which are rounded, and how much
an attacker must stay uncertain about a hidden count.

A policy is data, not code: :mod:`privacy.suppression` applies any :class:`SuppressionPolicy`,
and :mod:`privacy.audit` checks the result against the policy's ``protection_width``. Each
policy carries the footnote a published table shows under it (EES footnotes), so the symbols
are explained in the words of the rule that produced them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from .cells import LEVELS, NATIONAL, REGIONAL

__all__ = [
    "DFE",
    "OPENSAFELY_MIDPOINT6",
    "OPENSAFELY_ROUND5",
    "POLICIES",
    "SUPPRESSED_SYMBOL",
    "SuppressionPolicy",
    "policy_by_name",
]

SUPPRESSED_SYMBOL = "c"
"""The EES symbol of a suppressed (confidential) value."""

Rounding = Literal["nearest", "midpoint"]


@dataclass(frozen=True)
class SuppressionPolicy:
    """A small-number rule.

    * ``threshold``: counts from 1 (0 when ``suppress_zeros``) to ``threshold`` are primary
      suppressed, at every geographic level.
    * ``suppress_zeros``: whether a true zero is hidden too. When zeros are shown as 0, a ``c``
      tells every reader the count is at least 1, so a true zero is never used as a
      complementary suppression (that would make the published ``c`` a lie about the range).
    * ``round_levels``: geographic level -> rounding base, applied to the cells of that level
      that are published (after suppression). Levels not listed are published exactly.
    * ``rounding``: ``"nearest"`` rounds half up to a multiple of the base;
      ``"midpoint"`` is OpenSAFELY's midpoint rounding (see :data:`OPENSAFELY_MIDPOINT6`).
    * ``protection_width``: a primary-suppressed count is protected only if every attacker's
      feasible interval for it holds at least this many integers (the size of the band the
      rule hides, so the attacker learns nothing the rule did not already say).
    * ``footnote``: the human explanation published with the table.
    """

    name: str
    threshold: int
    suppress_zeros: bool
    round_levels: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    rounding: Rounding = "nearest"
    protection_width: int = 5
    footnote: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.round_levels) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown geographic levels in round_levels: {sorted(unknown)}")
        if any(base < 1 for base in self.round_levels.values()):
            raise ValueError("rounding bases must be positive")
        if self.threshold < 0 or self.protection_width < 1:
            raise ValueError("threshold must be >= 0 and protection_width >= 1")
        # Freeze the mapping so a policy constant cannot be edited in place.
        object.__setattr__(self, "round_levels", MappingProxyType(dict(self.round_levels)))

    @property
    def rounds_all(self) -> bool:
        """True when every published count is rounded (nothing is shown exactly)."""
        return all(level in self.round_levels for level in LEVELS)

    @property
    def known_lower_suppressed(self) -> int:
        """What a ``c`` says about its count: >= 1 when zeros are shown, else >= 0."""
        return 0 if self.suppress_zeros else 1

    def is_primary(self, count: int) -> bool:
        """Whether a single count is primary-suppressed by this rule."""
        low = 0 if self.suppress_zeros else 1
        return low <= count <= self.threshold


DFE = SuppressionPolicy(
    name="dfe",
    threshold=5,
    suppress_zeros=False,
    round_levels={NATIONAL: 10, REGIONAL: 10},
    rounding="nearest",
    protection_width=5,
    footnote=(
        "Counts from 1 to 5 are suppressed and shown as 'c', as are further counts where they "
        "could be used to work out a suppressed count; true zeros are shown as 0. England and "
        "regional figures are rounded to the nearest 10. Rates and percentages are shown as 'c' "
        "where their numerator or denominator is suppressed."
    ),
)
"""DfE children in need / looked after practice (the default).

Counts 1..5 are ``c`` at every level, true zeros are shown as 0 (so ``c`` means >= 1), National
and Regional counts that are not suppressed are rounded to the nearest 10 (half up: 5 -> 10), LA
counts are exact. Protection width 5: an attacker must not narrow a hidden count below the five
values 1..5 the rule hides.
"""

OPENSAFELY_ROUND5 = SuppressionPolicy(
    name="opensafely",
    threshold=7,
    suppress_zeros=True,
    round_levels={level: 5 for level in LEVELS},
    rounding="nearest",
    protection_width=8,
    footnote=(
        "Counts of 7 or fewer, including zero, are suppressed and shown as 'c', as are further "
        "counts where they could be used to work out a suppressed count. Every other count is "
        "rounded to the nearest 5, so totals may not equal the sum of their parts."
    ),
)
"""OpenSAFELY-style redaction: counts <= 7 (including 0) are ``c``, every published count is
rounded to the nearest 5 (an integer never ties). Protection width 8: the eight values 0..7."""

OPENSAFELY_MIDPOINT6 = SuppressionPolicy(
    name="opensafely_midpoint6",
    threshold=7,
    suppress_zeros=True,
    round_levels={level: 6 for level in LEVELS},
    rounding="midpoint",
    protection_width=8,
    footnote=(
        "Counts of 7 or fewer, including zero, are suppressed and shown as 'c', as are further "
        "counts where they could be used to work out a suppressed count. Every other count is "
        "rounded with midpoint-6 rounding: a count from 6k-5 to 6k is shown as 6k-3, so totals "
        "may not equal the sum of their parts."
    ),
)
"""OpenSAFELY's "midpoint 6 derived rounding": counts <= 7 (including 0) are ``c``; every other
count x is shown as ``ceil(x / 6) * 6 - 3`` (1..6 -> 3, 7..12 -> 9, 13..18 -> 15; 0 stays 0), the
``roundmid_any(x, to = 6)`` function of OpenSAFELY study code (e.g. analysis/utility.R in
opensafely/post-covid-neurodegenerative: ``ceiling(x/to)*to - (floor(to/2)*(x!=0))``). A shown
value m therefore means m-2..m+3. Protection width 8, as for :data:`OPENSAFELY_ROUND5`."""

POLICIES: Mapping[str, SuppressionPolicy] = MappingProxyType(
    {p.name: p for p in (DFE, OPENSAFELY_ROUND5, OPENSAFELY_MIDPOINT6)}
)
"""The named policies an administrator can choose, by name."""


def policy_by_name(name: str) -> SuppressionPolicy:
    """The policy called ``name``; a ValueError lists the valid names otherwise."""
    try:
        return POLICIES[name]
    except KeyError:
        valid = ", ".join(sorted(POLICIES))
        raise ValueError(f"unknown suppression policy {name!r}; valid policies: {valid}") from None
