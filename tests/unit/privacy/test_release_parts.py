"""protect_release splits a release by indicator: in parallel or not, the same release."""

from __future__ import annotations

import pandas as pd
from tables import la_attackers, random_table, region_coalitions

from privacy.release import policy_by_name, protect_release


def test_release_parts_in_parallel_equal_one_process() -> None:
    # Three indicators of different sizes: the tasks run largest first, and the result comes
    # back in indicator order, cell for cell the same as protecting them in one process.
    frames = []
    for seed, (indicator, regions) in enumerate(
        [("ind_a", (2, 2)), ("ind_b", (3, 3, 2)), ("ind_c", (2, 3))]
    ):
        cells, structure = random_table(seed, regions=regions, indicator=indicator)
        frames.append(cells)
    cells = pd.concat(frames, ignore_index=True)
    attackers = [(a.name, a.areas) for a in [*la_attackers(cells), *region_coalitions(cells)]]
    policy = policy_by_name("dfe")
    one = protect_release(cells, structure, policy, catalogue=None, attackers=attackers, workers=1)
    two = protect_release(cells, structure, policy, catalogue=None, attackers=attackers, workers=2)
    assert one.audit.ok
    assert two.audit.ok
    assert list(two.cells["indicator_id"].unique()) == ["ind_a", "ind_b", "ind_c"]
    pd.testing.assert_frame_equal(one.cells, two.cells)
    assert one.audit.summary() == two.audit.summary()
