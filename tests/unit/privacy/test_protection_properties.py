"""Property-based tests of protect + audit over random hierarchical tables.

LA x breakdown (two additive topics), LAs -> 2-3 regions -> England, counts small and large.
After :func:`privacy.suppression.protect`, the auditor finds no primary cell narrowed below the
protection width by the outsider, any single LA, or a region's LAs acting together; and the
published values are the inputs except where suppressed or rounded by the policy.

Hypothesis keeps its files (example database, constants cache) in a temporary folder, not
in a .hypothesis folder of the work tree: this project's pytest ``norecursedirs`` makes a stray
.hypothesis folder a collection error on the next run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from tables import la_attackers, random_table, region_coalitions

from privacy.audit import audit
from privacy.policy import DFE, OPENSAFELY_MIDPOINT6, OPENSAFELY_ROUND5, SuppressionPolicy
from privacy.suppression import primary, protect, round_counts, rounding_interval

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "csc-exchange-hypothesis")

tables = st.builds(
    lambda seed, regions, topics, small, dens: (seed, regions, topics, small, dens),
    seed=st.integers(0, 2**32 - 1),
    regions=st.lists(st.integers(2, 3), min_size=2, max_size=3).map(tuple),
    topics=st.sampled_from([{"gender": 2, "age_band": 3}, {"gender": 3, "ethnicity": 4}]),
    small=st.floats(0.2, 0.8),
    dens=st.booleans(),
)


def check(policy: SuppressionPolicy, params: tuple) -> None:  # type: ignore[type-arg]
    seed, regions, topics, small, dens = params
    cells, structure = random_table(
        seed, regions=regions, topics=topics, small_share=small, denominators=dens
    )
    coalition = region_coalitions(cells)[seed % len(regions)]
    attackers = [*la_attackers(cells), coalition]
    protected = protect(cells, structure, policy, attackers=attackers)

    report = audit(
        protected, structure, protection_width=policy.protection_width, attackers=attackers
    )
    assert report.ok, report.failures()
    assert (report.intervals["n_values"] >= policy.protection_width).all()

    count = protected["count"].to_numpy()
    hidden = (protected["symbol"] == "c").to_numpy()
    published = protected["published"]
    status = protected["status"].to_numpy()
    # Primary cells are exactly the policy's, and hidden.
    assert ((status == "primary") == primary(cells, policy).to_numpy()).all()
    assert published[hidden].isna().all()
    assert set(status[hidden]) <= {"primary", "secondary"}
    # Exact cells are the input.
    exact = status == "exact"
    assert (published[exact].to_numpy() == count[exact]).all()
    # Rounded cells follow the rule and their interval holds the truth.
    base = protected["geographic_level"].map(dict(policy.round_levels)).fillna(0).to_numpy()
    rounded = status == "rounded"
    assert (base[rounded] > 1).all()
    assert (base[exact] <= 1).all()
    for b in np.unique(base[rounded]):
        at = rounded & (base == b)
        shown = published[at].to_numpy(np.int64)
        assert (shown == round_counts(count[at], int(b), policy.rounding)).all()
        lo, hi = rounding_interval(shown, int(b), policy.rounding)
        assert ((lo <= count[at]) & (count[at] <= hi)).all()
    low = protected["known_lower"].to_numpy()
    high = protected["known_upper"].to_numpy()
    assert ((low <= count) & (count <= high)).all()
    # A "c" never hides a true zero when zeros are shown.
    if not policy.suppress_zeros:
        assert not (hidden & (count == 0)).any()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=tables)
def test_protection_properties_dfe(params: tuple) -> None:  # type: ignore[type-arg]
    check(DFE, params)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=tables, policy=st.sampled_from([OPENSAFELY_ROUND5, OPENSAFELY_MIDPOINT6]))
def test_protection_properties_opensafely(params: tuple, policy: SuppressionPolicy) -> None:  # type: ignore[type-arg]
    check(policy, params)
