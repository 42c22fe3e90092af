"""Random hierarchical count tables for the privacy tests: LA x breakdown cells whose regions
and England are the exact sums of their LAs, as :func:`privacy.national.national_cells` builds
them from real returns, but small enough for the auditor to check every cell.

Imported by the test modules as ``from tables import ...`` (pytest puts this folder on the
path, as for tests/unit/exchange/auth_support.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from privacy.cells import Attacker, Structure

ENGLAND = "E92000001"
COLUMNS = [
    "geographic_level",
    "area_code",
    "parent_code",
    "indicator_id",
    "breakdown_topic",
    "breakdown",
    "measure",
    "count",
    "public",
]
DEFAULT_TOPICS: Mapping[str, int] = {"gender": 2, "age_band": 3}


def region_code(r: int) -> str:
    return f"E1200000{r + 1}"


def la_code(r: int, i: int) -> str:
    return f"E06{r + 1:03d}{i + 1:03d}"


def _split(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """A random split of ``total`` into ``parts`` non-negative integers."""
    return rng.multinomial(total, rng.dirichlet(np.ones(parts)))


def random_table(
    seed: int,
    *,
    regions: Sequence[int] = (3, 3),
    topics: Mapping[str, int] = DEFAULT_TOPICS,
    denominators: bool = False,
    small_share: float = 0.5,
    indicator: str = "ind1",
    denominator_extra: tuple[int, int] = (0, 40),
) -> tuple[pd.DataFrame, Structure]:
    """A cell frame: ``regions[r]`` LAs in region r, England above, every topic additive.

    Each LA's Total is small (0..12) with probability ``small_share``, else 15..150; each
    topic splits it at random, so fine categories are often 1..5. With ``denominators``, a
    denominator (>= the numerator, also additive) is added for every cell: the numerator
    plus an LA's ``denominator_extra`` (a random integer in that half-open range) split at
    random over the categories.
    """
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str, int]] = []  # area, topic, breakdown, measure, count
    for r, n_las in enumerate(regions):
        for i in range(n_las):
            small = rng.random() < small_share
            total = int(rng.integers(0, 13) if small else rng.integers(15, 151))
            extra = int(rng.integers(*denominator_extra))
            measures = {"numerator": (total, None)}
            if denominators:
                measures["denominator"] = (total + extra, extra)
            for measure, (value, _) in measures.items():
                rows.append((la_code(r, i), "Total", "Total", measure, value))
            for topic, n_cats in topics.items():
                nums = _split(total, n_cats, rng)
                dens = nums + _split(extra, n_cats, rng)
                for c in range(n_cats):
                    rows.append(
                        (la_code(r, i), topic, f"{topic}_{c + 1}", "numerator", int(nums[c]))
                    )
                    if denominators:
                        rows.append(
                            (la_code(r, i), topic, f"{topic}_{c + 1}", "denominator", int(dens[c]))
                        )
    las = pd.DataFrame(
        rows, columns=["area_code", "breakdown_topic", "breakdown", "measure", "count"]
    )
    parent = {la_code(r, i): region_code(r) for r, n in enumerate(regions) for i in range(n)}
    las["parent_code"] = las["area_code"].map(parent)
    las["geographic_level"] = "Local authority"
    key = ["breakdown_topic", "breakdown", "measure"]
    reg = las.groupby(["parent_code", *key], sort=False)["count"].sum().reset_index()
    reg = reg.rename(columns={"parent_code": "area_code"})
    reg["parent_code"] = ENGLAND
    reg["geographic_level"] = "Regional"
    eng = reg.groupby(key, sort=False)["count"].sum().reset_index()
    eng["area_code"] = ENGLAND
    eng["parent_code"] = ""
    eng["geographic_level"] = "National"
    cells = pd.concat([eng, reg, las], ignore_index=True)
    cells["indicator_id"] = indicator
    cells["public"] = False
    cells["count"] = cells["count"].astype("int64")
    return cells[COLUMNS], Structure(additive_topics=frozenset(topics))


def grid(values: dict[str, tuple[int, int]], region: str = "R") -> pd.DataFrame:
    """LAs with (Male, Female) counts under one top area ``region`` (National level), with
    Totals and the top area as exact sums."""
    rows = []
    for la, (male, female) in values.items():
        for b, c in (("Male", male), ("Female", female)):
            rows.append(("Local authority", la, region, "gender", b, c))
        rows.append(("Local authority", la, region, "Total", "Total", male + female))
    frame = pd.DataFrame(rows, columns=["lv", "area", "parent", "topic", "b", "count"])
    top = frame.groupby(["topic", "b"], sort=False)["count"].sum().reset_index()
    top = top.assign(lv="National", area=region, parent="")
    both = pd.concat([top, frame], ignore_index=True)
    return pd.DataFrame(
        {
            "geographic_level": both["lv"],
            "area_code": both["area"],
            "parent_code": both["parent"],
            "indicator_id": "ind",
            "breakdown_topic": both["topic"],
            "breakdown": both["b"],
            "measure": "numerator",
            "count": both["count"].astype("int64"),
            "public": False,
        }
    )


def hide(cells: pd.DataFrame, *keys: tuple[str, str]) -> np.ndarray:
    """Mask of the (area, breakdown) cells."""
    pairs = set(keys)
    return np.array(
        [(a, b) in pairs for a, b in zip(cells["area_code"], cells["breakdown"], strict=True)]
    )


def la_attackers(cells: pd.DataFrame) -> list[Attacker]:
    """Each LA on its own."""
    las = cells.loc[cells["geographic_level"] == "Local authority", "area_code"].unique()
    return [Attacker(name=str(a), areas=frozenset({str(a)})) for a in sorted(las)]


def region_coalitions(cells: pd.DataFrame) -> list[Attacker]:
    """Each region's LAs acting together."""
    las = cells.loc[cells["geographic_level"] == "Local authority", ["area_code", "parent_code"]]
    groups = las.drop_duplicates().groupby("parent_code")["area_code"]
    return [
        Attacker(name=f"coalition {region}", areas=frozenset(members))
        for region, members in sorted(groups)
    ]


def reference_intervals(
    protected: pd.DataFrame,
    structure: Structure,
    attackers: Sequence[Attacker] = (),
) -> pd.DataFrame:
    """The auditor's question answered the slow, obvious way: for every primary cell and every
    attacker (the outsider included), min and max of the cell over the whole table by
    ``scipy.optimize.linprog``, no components, no pooling, no shortcuts.

    Returns one row per (cell position, attacker) with ``lower``, ``upper``, ``n_values``.
    """
    from scipy.optimize import linprog

    from privacy.cells import build_relations

    frame = protected.reset_index(drop=True)
    relations = build_relations(frame, structure)
    truth = frame["count"].to_numpy(float)
    lo = frame["known_lower"].to_numpy(float)
    hi = np.minimum(frame["known_upper"].to_numpy(float), 1e7)
    areas = frame["area_code"].to_numpy()
    parent = dict(zip(frame["area_code"], frame["parent_code"], strict=False))

    def under(area: str, victim_area: str) -> bool:
        while area:
            if area == victim_area:
                return True
            area = parent.get(area, "")
        return False

    out = []
    everyone = [Attacker("outsider", frozenset()), *attackers]
    for v in np.flatnonzero((frame["status"] == "primary").to_numpy()):
        for attacker in everyone:
            known = np.array(
                [a in attacker.areas and not under(a, areas[v]) for a in areas], dtype=bool
            )
            b_lo = np.where(known, truth, lo)
            b_hi = np.where(known, truth, hi)
            bounds = np.column_stack([b_lo, b_hi])
            ends = []
            for sense in (1.0, -1.0):
                c = np.zeros(len(frame))
                c[v] = sense
                res = linprog(
                    c,
                    A_ub=relations.ub if relations.ub.shape[0] else None,
                    b_ub=np.zeros(relations.ub.shape[0]) if relations.ub.shape[0] else None,
                    A_eq=relations.eq if relations.eq.shape[0] else None,
                    b_eq=np.zeros(relations.eq.shape[0]) if relations.eq.shape[0] else None,
                    bounds=bounds,
                    method="highs",
                )
                assert res.status == 0, res.message
                ends.append(res.x[v])
            lower, upper = ends
            n_values = int(np.floor(upper + 1e-6) - np.ceil(lower - 1e-6) + 1)
            if upper > 1e7 - 1:
                n_values = 10**9
            out.append((v, attacker.name, lower, upper, n_values))
    return pd.DataFrame(out, columns=["cell", "attacker", "lower", "upper", "n_values"])
