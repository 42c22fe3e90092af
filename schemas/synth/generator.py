"""The synthetic data model and the vectorised generator of upload rows.

Model, per LA and reporting year:

* Cohort sizes (staff, children referred, on child protection plans, in need, looked after, care
  leavers ...) scale with the LA's ONS child population and, for referrals and child protection,
  with the LA's own published rates (``data/la_rates.csv``). Breakdown categories split each
  cohort by a multinomial draw around an LA-specific composition; sub-cohorts (survey
  respondents, audit samples) are hypergeometric sub-samples, so every category set sums
  exactly to its Total.
* Each LA has a latent performance per table of the framework (Tables 2 to 5): a mix of its own
  noise and the mean of its statistical neighbours' noise, so neighbours resemble each other.
  An indicator's level is its national level (or the LA's published level) shifted by the latent
  performance in the indicator's polarity direction, plus LA- and year-level noise.
* About 15 LAs are on an improvement journey (:func:`journeys`): they start below their latent
  level, then Table 2 improves from the start year, Tables 3 and 4 a year later and Table 5 two
  years later (seed section 4.5.7). Context-dependent indicators (staff turnover, repeat child
  protection plans ...) move "the wrong way" for the first two years of their table's phase.
* A few cells are missing: whole indicators or single category rows given as ``x`` (not
  available), and ``z`` (not applicable) where a figure cannot exist (a percentage of nobody, an
  item that only applies where the LA has a values statement).

Randomness: a numpy Generator per purpose, seeded by ``SeedSequence([seed, stream, ...])``; the
static draws (latent performance, compositions) are made for every LA code in the reference
history in code order, and each period has its own stream. So a seed gives the same rows on
every run and machine, an LA's rows do not depend on which other LAs or periods were asked for,
and nothing depends on dict or set iteration order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from schemas.catalogue import Catalogue, Indicator, load_catalogue
from schemas.reference import ReferenceData, load_reference, reporting_year_period

from . import params as P

__all__ = [
    "COLUMNS",
    "COUNTRY_CODE",
    "COUNTRY_NAME",
    "GEOGRAPHIC_LEVEL",
    "MEASURE_COLUMNS",
    "TIME_IDENTIFIER",
    "generate",
    "journeys",
    "la_rates",
    "resolve_las",
    "rows_per_return",
]

TIME_IDENTIFIER = "Reporting year"
GEOGRAPHIC_LEVEL = "Local authority"
COUNTRY_CODE = "E92000001"
COUNTRY_NAME = "England"
TOTAL = "Total"

# Column order of the files: EES time and geography columns first, as DfE publishes them.
IDENTITY = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "indicator_id",
    "breakdown_topic",
    "breakdown",
)
MEASURE_COLUMNS = ("numerator", "denominator", "respondents", "n", "value", "sd")
COLUMNS = (*IDENTITY, *MEASURE_COLUMNS)

# Random streams (the second entry of every SeedSequence).
_STATIC, _JOURNEYS, _PERIOD = 1, 2, 3

# Missing data: whole (LA, period, indicator) groups, and single category rows, given as "x".
P_INDICATOR_MISSING = 0.005
P_ROW_MISSING = 0.004

# Yes/no items that only make sense if another is "yes" (catalogue notes).
REPORT_NO_UNLESS = {"t2_values_statement_describes_operation": "t2_values_statement"}
NOT_APPLICABLE_UNLESS = {
    "t2_staff_apply_values": "t2_values_statement",
    "t2_staff_apply_practice_framework": "t2_practice_framework",
}

# The child population file ends in 2024; later years use the latest estimate.
_POPULATION_YEARS = (2012, 2024)
# Small LAs' published rates rest on a handful of children: shrink them towards England's.
_SHRINK_POPULATION = 5_000.0
_RATE_LIMITS = {
    "referral_child_rate": (150.0, 1300.0),
    "rereferral_child_pct": (5.0, 40.0),
    "nfa_pct": (0.5, 40.0),
    "not_in_need_pct": (2.0, 60.0),
    "cpp_start_rate": (15.0, 160.0),
    "cpp_subsequent_pct": (8.0, 40.0),
}

_SYMBOL_NONE, _SYMBOL_X, _SYMBOL_Z = 0, 1, 2
_SYMBOLS = np.array(["", "x", "z"], dtype=object)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), *stream]))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, 0.002, 0.998)
    return np.log(p / (1.0 - p))


# ---------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class _Template:
    """The rows one LA returns for one period, in file order."""

    indicators: tuple[str, ...]
    topic: np.ndarray  # per row
    breakdown: np.ndarray
    row_indicator: np.ndarray  # index into indicators
    is_total: np.ndarray
    decimals: np.ndarray  # of the value column
    uses: dict[str, np.ndarray]  # measure column -> rows whose measure type uses it
    total_pos: np.ndarray  # per indicator
    dim_pos: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)


@cache
def _template() -> _Template:
    catalogue = load_catalogue()
    topic, breakdown, row_ind, decimals = [], [], [], []
    total_pos, dim_pos = [], {}
    ids = tuple(catalogue.indicators)
    for i, ind in enumerate(catalogue.indicators.values()):
        total_pos.append(len(topic))
        topic.append(TOTAL)
        breakdown.append(TOTAL)
        row_ind.append(i)
        for dim in ind.breakdowns:
            values = catalogue.breakdowns[dim].values
            dim_pos[(i, dim)] = np.arange(len(topic), len(topic) + len(values))
            topic += [dim] * len(values)
            breakdown += list(values)
            row_ind += [i] * len(values)
    row_indicator = np.asarray(row_ind)
    uses = {}
    for column in MEASURE_COLUMNS:
        used = []
        for ind in catalogue.indicators.values():
            mt = catalogue.measure_types[ind.measure_type]
            used.append(column in (*mt.required, *mt.optional))
        uses[column] = np.asarray(used)[row_indicator]
    for ind in catalogue.indicators.values():
        decimals.append(ind.decimals)
    return _Template(
        indicators=ids,
        topic=np.asarray(topic, dtype=object),
        breakdown=np.asarray(breakdown, dtype=object),
        row_indicator=row_indicator,
        is_total=np.asarray(topic, dtype=object) == TOTAL,
        decimals=np.asarray(decimals)[row_indicator],
        uses=uses,
        total_pos=np.asarray(total_pos),
        dim_pos=dim_pos,
    )


# ------------------------------------------------------------------------------ reference data


@cache
def la_rates() -> pd.DataFrame:
    """The packaged per-LA published rates (see ``data/PROVENANCE.md``), indexed by old code."""
    with (resources.files(__package__) / "data" / "la_rates.csv").open("rb") as handle:
        table = pd.read_csv(handle, dtype={"old_la_code": str})
    return table.set_index("old_la_code")


def _all_codes(reference: ReferenceData) -> list[str]:
    """Every old LA code the generator may need, in code order (the static draws' order)."""
    codes = set(reference.history["old_la_code"].dropna()) | set(reference.las["old_la_code"])
    return sorted(codes)


def resolve_las(codes: list[str] | None) -> list[str] | None:
    """Old codes for LA codes given as old or new codes; ValueError for unknown codes."""
    if codes is None:
        return None
    reference = load_reference()
    out = []
    for code in codes:
        try:
            record = reference.la(str(code).strip())
        except KeyError:
            raise ValueError(f"{code!r} is not a known LA code") from None
        if record.old_la_code is None:
            raise ValueError(f"{code!r} has no DfE 3-digit code")
        out.append(record.old_la_code)
    return sorted(set(out))


def _population(reference: ReferenceData, code: str, year: int) -> float:
    """Children aged 0-17; successors' sum or the nearest year where the figure is missing."""
    year = min(max(year, _POPULATION_YEARS[0]), _POPULATION_YEARS[1])
    value = reference.child_population(code, year)
    if value is not None:
        return float(value)
    parts = [reference.child_population(s.new_la_code, year) for s in reference.successors(code)]
    known = [p for p in parts if p is not None]
    if parts and len(known) == len(parts):
        return float(sum(known))
    for other in sorted(range(*_POPULATION_YEARS), key=lambda y: (abs(y - year), -y)):
        value = reference.child_population(code, other)
        if value is not None:
            return float(value)
    return 1_000.0


def _rates_for(
    reference: ReferenceData, codes: list[str], population: np.ndarray
) -> dict[str, np.ndarray]:
    """Each LA's published rates with fallbacks (successors, then the median LA), shrunk
    towards the median for small LAs and clipped to plausible ranges."""
    table = la_rates()
    out: dict[str, np.ndarray] = {}
    weight = population / (population + _SHRINK_POPULATION)
    for column, (low, high) in _RATE_LIMITS.items():
        national = float(table[column].median())
        values = []
        for code in codes:
            value = table[column].get(code, np.nan)
            if pd.isna(value):
                successors = [s.old_la_code for s in reference.successors(code)]
                found = [table[column].get(s, np.nan) for s in successors if s in table.index]
                found = [f for f in found if not pd.isna(f)]
                value = float(np.mean(found)) if found else national
            values.append(float(value))
        own = np.clip(np.asarray(values), low, high)
        out[column] = weight * own + (1.0 - weight) * national
        out[f"{column}_national"] = np.full(len(codes), national)
    return out


def _real_level(expression: str, rates: dict[str, np.ndarray]) -> np.ndarray:
    """An indicator's level (probability) from the LA's published rates."""
    nfa = rates["nfa_pct"] / 100.0
    if expression == "nfa":
        return nfa
    if expression == "service":
        return np.clip(1.0 - nfa - rates["not_in_need_pct"] / 100.0, 0.2, 0.95)
    if expression == "rereferral_no_service":
        return rates["rereferral_child_pct"] / 100.0 * 0.45
    if expression == "rereferral_cin":
        return rates["rereferral_child_pct"] / 100.0 * 0.55
    if expression == "cpp_subsequent":
        return rates["cpp_subsequent_pct"] / 100.0
    raise ValueError(f"unknown real-data level {expression!r}")


# -------------------------------------------------------------------------------- static model


@dataclass(frozen=True)
class _Static:
    """Everything drawn once per seed, for every LA code (rows in ``codes`` order)."""

    codes: tuple[str, ...]
    index: dict[str, int]
    latent: np.ndarray  # (codes, 4): Tables 2..5, SD units
    eps: np.ndarray  # (codes, indicators): the LA's own level of each indicator
    uniform: np.ndarray  # (codes, indicators): persistent draws for yes/no facts
    staff_factor: np.ndarray  # (codes,)
    response_rate: np.ndarray  # (codes,)
    shares: dict[tuple[str, str], np.ndarray]  # (cohort, dim) -> (codes, categories)
    gamma: np.ndarray  # (indicators,): strength of subgroup differences
    offset_noise: dict[tuple[int, str], np.ndarray]  # (indicator, dim) -> (categories,)
    journey: pd.DataFrame


def _neighbour_mean(reference: ReferenceData, codes: list[str], values: np.ndarray) -> np.ndarray:
    """Mean of each LA's statistical neighbours' values (2025 list, else 2021, else itself)."""
    index = {c: i for i, c in enumerate(codes)}
    lists = reference.neighbour_lists
    out = values.copy()
    for i, code in enumerate(codes):
        for edition in (2025, 2021):
            rows = lists[(lists["edition"] == edition) & (lists["la_code"] == code)]
            members = [index[n] for n in rows["neighbour_code"] if n in index]
            if members:
                out[i] = values[members].mean(axis=0)
                break
    return out


@lru_cache(maxsize=8)
def _static(seed: int) -> _Static:
    catalogue, reference = load_catalogue(), load_reference()
    codes = _all_codes(reference)
    n, n_ind = len(codes), len(catalogue.indicators)
    rng = _rng(seed, _STATIC)
    general = rng.standard_normal(n)
    by_table = rng.standard_normal((n, 4))
    own = 0.8 * general[:, None] + 0.6 * by_table
    mixed = 0.5 * own + 0.5 * _neighbour_mean(reference, codes, own)
    live = np.isin(codes, reference.las["old_la_code"].to_numpy())
    latent = (mixed - mixed[live].mean(axis=0)) / mixed[live].std(axis=0)
    eps = rng.standard_normal((n, n_ind))
    uniform = rng.random((n, n_ind))
    staff_factor = np.exp(0.12 * rng.standard_normal(n))
    response_rate = rng.uniform(0.55, 0.9, n)
    london = np.asarray([reference.la(c).region_code == "E12000007" for c in codes])
    shares = {}
    for cohort, spec in P.COHORTS.items():
        if spec.kind != "base":
            continue
        for dim in catalogue.breakdowns:
            if dim == "ethnicity":
                base = np.where(
                    london[:, None],
                    np.asarray(P.ETHNICITY_SHARES["london"]),
                    np.asarray(P.ETHNICITY_SHARES["other"]),
                )
            else:
                k = len(catalogue.breakdowns[dim].values)
                default = P.DEFAULT_SHARES.get(dim, tuple([1.0 / k] * k))
                base = np.tile(np.asarray(P.SHARE_OVERRIDES.get((cohort, dim), default)), (n, 1))
            draws = rng.gamma(base * P.COMPOSITION_CONCENTRATION)
            shares[(cohort, dim)] = draws / draws.sum(axis=1, keepdims=True)
    gamma = rng.uniform(0.3, 1.3, n_ind)
    offset_noise = {}
    for i, ind in enumerate(catalogue.indicators.values()):
        for dim in ind.breakdowns:
            k = len(catalogue.breakdowns[dim].values)
            offset_noise[(i, dim)] = 0.1 * rng.standard_normal(k)
    journey = _draw_journeys(seed, reference, codes, latent)
    return _Static(
        codes=tuple(codes),
        index={c: i for i, c in enumerate(codes)},
        latent=latent,
        eps=eps,
        uniform=uniform,
        staff_factor=staff_factor,
        response_rate=response_rate,
        shares=shares,
        gamma=gamma,
        offset_noise=offset_noise,
        journey=journey,
    )


def _draw_journeys(
    seed: int, reference: ReferenceData, codes: list[str], latent: np.ndarray
) -> pd.DataFrame:
    settings = P.JOURNEY
    rng = _rng(seed, _JOURNEYS)
    las = reference.las
    established = las["date_of_operation"] < pd.Timestamp(2021, 4, 1)
    big = np.asarray(
        [(reference.child_population(c, 2024) or 0) >= 20_000 for c in las.old_la_code]
    )
    eligible = las[established.to_numpy() & big].sort_values("old_la_code")
    index = {c: i for i, c in enumerate(codes)}
    general = latent[[index[c] for c in eligible["old_la_code"]]].mean(axis=1)
    weights = np.exp(-1.0 * general)
    chosen = rng.choice(
        len(eligible), size=settings.count, replace=False, p=weights / weights.sum()
    )
    chosen = np.sort(chosen)
    triggers = [t for t, _ in settings.triggers]
    trigger_p = np.asarray([w for _, w in settings.triggers])
    lags = dict(settings.lags)
    rows = []
    for position in chosen:
        la = eligible.iloc[position]
        start = int(rng.choice(settings.start_years))
        trigger = triggers[int(rng.choice(len(triggers), p=trigger_p / trigger_p.sum()))]
        n_focus = int(rng.integers(2, 4))
        focus = np.sort(rng.choice(len(settings.focus_areas), size=n_focus, replace=False))
        rows.append(
            {
                "old_la_code": la.old_la_code,
                "new_la_code": la.new_la_code,
                "la_name": la.la_name,
                "region_name": la.region_name,
                "start_year": start,
                "trigger": trigger,
                "focus_areas": "; ".join(settings.focus_areas[f] for f in focus),
                **{f"table{t}_from": start + lags[t] for t in (2, 3, 4, 5)},
                "initial_gap": settings.initial_gap,
            }
        )
    frame = pd.DataFrame(rows)
    return frame.astype({c: "str" for c in ("old_la_code", "new_la_code", "la_name")})


def journeys(seed: int) -> pd.DataFrame:
    """The LAs on an improvement journey in the data generated with ``seed``.

    One row per LA: ``old_la_code``, ``new_la_code``, ``la_name``, ``region_name``,
    ``start_year`` (the first reporting year in which Table 2 improves), ``trigger`` (e.g.
    "Ofsted inadequate"), ``focus_areas`` ("; "-separated), ``table2_from`` ... ``table5_from``
    (first reporting year each table improves: conditions first, child outcomes last) and
    ``initial_gap`` (how far below its usual level, in SD of latent performance, it started).
    """
    return _static(seed).journey.copy()


# ------------------------------------------------------------------------------ random helpers


def _mvhg(rng: np.random.Generator, counts: np.ndarray, nsample: np.ndarray) -> np.ndarray:
    """Multivariate hypergeometric draws, one per row: ``nsample`` items from ``counts``."""
    counts = counts.astype(np.int64)
    out = np.zeros_like(counts)
    remaining = nsample.astype(np.int64).copy()
    rest = counts.sum(axis=1)
    for j in range(counts.shape[1] - 1):
        rest = rest - counts[:, j]
        take = rng.hypergeometric(counts[:, j], rest, remaining)
        out[:, j] = take
        remaining -= take
    out[:, -1] = remaining
    return out


def _multinomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = p / p.sum(axis=1, keepdims=True)
    return rng.multinomial(n.astype(np.int64), p)


def _allocate(
    rng: np.random.Generator, total: np.ndarray, capacity: np.ndarray, log_weight: np.ndarray
) -> np.ndarray:
    """Split ``total`` over categories holding at most ``capacity`` each, favouring categories
    with a higher ``log_weight`` per member; sums are exact and no category exceeds capacity."""
    weights = capacity * np.exp(log_weight)
    sums = weights.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 0
    weights[empty] = 1.0
    x = _multinomial(rng, np.where(empty, 0, total), weights)
    over = np.maximum(x - capacity, 0)
    if over.any():
        x -= over
        x += _mvhg(rng, capacity - x, over.sum(axis=1))
    return x


# -------------------------------------------------------------------------------- one period


@dataclass
class _Cohort:
    total: np.ndarray  # (LAs,)
    splits: dict[str, np.ndarray]  # dim -> (LAs, categories)


@dataclass
class _Period:
    """The generated numbers of one period for every LA valid in it, before formatting."""

    period: int
    las: pd.DataFrame
    num: np.ndarray  # (LAs, rows) int64, -1 = blank
    den: np.ndarray
    resp: np.ndarray
    n: np.ndarray
    value: np.ndarray  # int64 scaled by 10**decimals (yes/no: 1 yes, 0 no)
    sd: np.ndarray  # int64 scaled by 10**decimals, -1 = blank
    value_symbol: np.ndarray  # uint8
    sd_symbol: np.ndarray
    row_symbol: np.ndarray  # applies to every measure cell the row uses


def _las_for_period(period: int) -> pd.DataFrame:
    reference = load_reference()
    start, end = reporting_year_period(period)
    valid = reference.codes_valid_for(start, end)
    valid = valid[valid["alias_of"].isna() & valid["old_la_code"].notna()]
    return valid.sort_values("old_la_code").reset_index(drop=True)


class _PeriodModel:
    def __init__(self, seed: int, period: int) -> None:
        self.catalogue = load_catalogue()
        self.reference = load_reference()
        self.template = _template()
        self.static = _static(seed)
        self.period = period
        self.rng = _rng(seed, _PERIOD, period)
        self.las = _las_for_period(period)
        codes = list(self.las["old_la_code"])
        self.codes = codes
        self.sidx = np.asarray([self.static.index[c] for c in codes])
        self.population = np.asarray([_population(self.reference, c, period) for c in codes])
        self.rates = _rates_for(self.reference, codes, self.population)
        self.phase = self._journey_phase(codes)
        noise = 0.12 * self.rng.standard_normal((len(codes), 4))
        gap = np.where(np.isnan(self.phase[:, 0]), 0.0, P.JOURNEY.initial_gap)
        steps = np.clip(np.nan_to_num(self.phase, nan=-1.0) + 1.0, 0.0, P.JOURNEY.max_steps)
        self.latent = self.static.latent[self.sidx] - gap[:, None] + P.JOURNEY.step * steps + noise
        self.cohorts: dict[str, _Cohort] = {}

    def _journey_phase(self, codes: list[str]) -> np.ndarray:
        """Years since each table started improving (NaN when not on a journey): (LAs, 4)."""
        phase = np.full((len(codes), 4), np.nan)
        frame = self.static.journey.set_index("old_la_code")
        for i, code in enumerate(codes):
            if code in frame.index:
                for t in range(4):
                    phase[i, t] = self.period - frame.at[code, f"table{t + 2}_from"]
        return phase

    def _early(self, table: int) -> np.ndarray:
        """True where the LA is in the first two years of ``table``'s improvement phase."""
        g = self.phase[:, table - 2]
        return (g >= 0) & (g <= 1)

    def _late(self, table: int) -> np.ndarray:
        return self.phase[:, table - 2] >= 2

    # ---------------------------------------------------------------------------- cohorts

    def cohort(self, name: str, dims: tuple[str, ...]) -> _Cohort:
        """The cohort's totals and its splits by ``dims`` (computed once, then extended)."""
        spec = P.COHORTS[name]
        have = self.cohorts.get(name)
        if have is None:
            have = self.cohorts[name] = _Cohort(self._cohort_total(name, spec), {})
        for dim in dims:
            if dim not in have.splits:
                have.splits[dim] = self._cohort_split(name, spec, have.total, dim)
        return have

    def _cohort_total(self, name: str, spec: P.CohortSpec) -> np.ndarray:
        rng = self.rng
        if spec.kind == "base":
            size = self.population / 10_000.0
            if spec.driver is not None and spec.per_10000 is None:
                size = size * self.rates[spec.driver]
            else:
                size = size * float(spec.per_10000 or 0.0)
                if spec.driver is not None:
                    ratio = self.rates[spec.driver] / self.rates[f"{spec.driver}_national"]
                    size = size * ratio**spec.elasticity
            if name in ("staff", "posts"):
                size = size * self.static.staff_factor[self.sidx]
            size = size + spec.floor
            if spec.journey_bump:
                size = size * np.where(self._early(3), 1.0 + spec.journey_bump, 1.0)
            size = size * np.exp(0.04 * rng.standard_normal(len(size)))
            return rng.poisson(size).astype(np.int64)
        parent = self.cohort(str(spec.parent), ())
        if spec.kind == "scale":
            return parent.total * spec.factor
        return rng.binomial(parent.total, self._fraction(spec.fraction))

    def _fraction(self, fraction: float | str) -> np.ndarray | float:
        if fraction == "response_rate":
            return self.static.response_rate[self.sidx]
        return float(fraction)

    def _cohort_split(
        self, name: str, spec: P.CohortSpec, total: np.ndarray, dim: str
    ) -> np.ndarray:
        if spec.kind == "base":
            shares = self.static.shares[(name, dim)][self.sidx]
            return _multinomial(self.rng, total, shares)
        parent = self.cohort(str(spec.parent), (dim,))
        if spec.kind == "scale":
            return parent.splits[dim] * spec.factor
        return _mvhg(self.rng, parent.splits[dim], total)

    def subsample(self, cohort: _Cohort, fraction: float, dims: tuple[str, ...]) -> _Cohort:
        if fraction >= 1.0:
            return cohort
        total = self.rng.binomial(cohort.total, fraction)
        return _Cohort(total, {d: _mvhg(self.rng, cohort.splits[d], total) for d in dims})

    # -------------------------------------------------------------------------- indicators

    def run(self) -> _Period:
        t = self.template
        shape = (len(self.codes), len(t.topic))
        out = _Period(
            period=self.period,
            las=self.las,
            num=np.full(shape, -1, dtype=np.int64),
            den=np.full(shape, -1, dtype=np.int64),
            resp=np.full(shape, -1, dtype=np.int64),
            n=np.full(shape, -1, dtype=np.int64),
            value=np.full(shape, -1, dtype=np.int64),
            sd=np.full(shape, -1, dtype=np.int64),
            value_symbol=np.zeros(shape, dtype=np.uint8),
            sd_symbol=np.zeros(shape, dtype=np.uint8),
            row_symbol=np.zeros(shape, dtype=np.uint8),
        )
        answers: dict[str, np.ndarray] = {}
        indicators = list(self.catalogue.indicators.values())
        for i, ind in enumerate(indicators):  # yes/no facts first: others depend on them
            if ind.measure_type == "yes_no":
                answers[ind.id] = self._yes_no(i, ind, answers, out)
        for i, ind in enumerate(indicators):
            mt = ind.measure_type
            if mt in ("proportion", "agreement", "rate_per_10000"):
                self._proportion(i, ind, out)
            elif mt == "change_distribution":
                self._distribution(i, ind, out)
            elif mt in ("mean", "mean_change"):
                self._mean(i, ind, out)
            elif mt != "yes_no":
                raise ValueError(f"no generator for measure type {mt!r}")
            parent = NOT_APPLICABLE_UNLESS.get(ind.id)
            if parent is not None and parent in answers:
                rows = np.flatnonzero(t.row_indicator == i)
                out.row_symbol[np.ix_(answers[parent] == 0, rows)] = _SYMBOL_Z
        self._missing(out)
        return out

    def _params(self, ind: Indicator) -> P.IndicatorParams:
        return P.params_for(ind.id, ind.measure_type, ind.cohort)

    def _sign(self, ind: Indicator) -> float:
        return {"higher_is_better": 1.0, "lower_is_better": -1.0}.get(ind.polarity.value, 0.0)

    def _logit_level(self, i: int, ind: Indicator, prm: P.IndicatorParams) -> np.ndarray:
        if prm.real is not None:
            base = _logit(_real_level(prm.real, self.rates))
        else:
            base = np.full(len(self.codes), float(_logit(prm.level)))
        latent = self.latent[:, ind.table - 2]
        logit = base + self._sign(ind) * prm.beta * latent
        logit = logit + prm.between * self.static.eps[self.sidx, i]
        logit = logit + 0.08 * self.rng.standard_normal(len(self.codes))
        shift = P.CONTEXT_SHIFTS.get(ind.id)
        if shift is not None:
            table, early, late = shift
            logit = logit + np.where(self._early(table), early, 0.0)
            logit = logit + np.where(self._late(table), late, 0.0)
        return logit

    def _yes_no(
        self, i: int, ind: Indicator, answers: dict[str, np.ndarray], out: _Period
    ) -> np.ndarray:
        prm = self._params(ind)
        p = _sigmoid(self._logit_level(i, ind, prm))
        yes = (self.static.uniform[self.sidx, i] < p).astype(np.int64)
        parent = REPORT_NO_UNLESS.get(ind.id)
        if parent is not None and parent in answers:
            yes = yes * answers[parent]
        out.value[:, self.template.total_pos[i]] = yes
        return yes

    def _denominators(
        self, ind: Indicator, prm: P.IndicatorParams, dims: tuple[str, ...]
    ) -> _Cohort:
        cohort = self.cohort(prm.cohort, dims)
        return self.subsample(cohort, prm.fraction, dims)

    def _proportion(self, i: int, ind: Indicator, out: _Period) -> None:
        prm = self._params(ind)
        mt = self.catalogue.measure_types[ind.measure_type]
        dims = tuple(ind.breakdowns)
        den = self._denominators(ind, prm, dims)
        p = _sigmoid(self._logit_level(i, ind, prm))
        num_total = self.rng.binomial(den.total, p)
        den_out = out.resp if mt.value_denominator == "respondents" else out.den
        pos = self.template.total_pos[i]
        out.num[:, pos], den_out[:, pos] = num_total, den.total
        profile = P.ODDS_OFFSETS.get(prm.offsets, {})
        sign = 1.0 if ind.polarity.value == "higher_is_better" else -1.0
        for dim in dims:
            base = np.asarray(profile.get(dim, P.ODDS_OFFSETS["default"].get(dim, 0.0)))
            offsets = sign * self.static.gamma[i] * base + self.static.offset_noise[(i, dim)]
            capacity = den.splits[dim]
            num = _allocate(self.rng, num_total, capacity, np.broadcast_to(offsets, capacity.shape))
            where = self.template.dim_pos[(i, dim)]
            out.num[:, where], den_out[:, where] = num, capacity
        self._values(i, ind, out, den_out, mt.value_scale)

    def _values(
        self, i: int, ind: Indicator, out: _Period, den_out: np.ndarray, scale: int
    ) -> None:
        rows = np.flatnonzero(self.template.row_indicator == i)
        num, den = out.num[:, rows], den_out[:, rows]
        factor = scale * 10**ind.decimals
        safe = np.maximum(den, 1)
        out.value[:, rows] = (2 * num * factor + safe) // (2 * safe)  # round half up, exactly
        out.value_symbol[:, rows] = np.where(den == 0, _SYMBOL_Z, _SYMBOL_NONE)

    def _distribution(self, i: int, ind: Indicator, out: _Period) -> None:
        """Total: numerator = denominator = cohort. Own categories (More / Same / Fewer):
        children in the category over the cohort. Other breakdowns: the cohort's subgroups."""
        prm = self._params(ind)
        own = ind.required_breakdowns[0]
        others = tuple(d for d in ind.breakdowns if d != own)
        cohort = self._denominators(ind, prm, others)
        pos = self.template.total_pos[i]
        out.num[:, pos] = out.den[:, pos] = cohort.total
        values = self.catalogue.breakdowns[own].values
        k = len(values)
        shares = np.asarray(P.CHANGE_SHARES.get(ind.id, tuple([1.0 / k] * k)))
        goodness = np.asarray([P.CHANGE_GOODNESS.get(own, {}).get(v, 0) for v in values])
        quality = self.latent[:, ind.table - 2] + prm.between * self.static.eps[self.sidx, i]
        logits = np.log(shares)[None, :] + 0.35 * quality[:, None] * goodness[None, :]
        counts = _multinomial(self.rng, cohort.total, np.exp(logits))
        where = self.template.dim_pos[(i, own)]
        out.num[:, where] = counts
        out.den[:, where] = cohort.total[:, None]
        for dim in others:
            where = self.template.dim_pos[(i, dim)]
            out.num[:, where] = out.den[:, where] = cohort.splits[dim]
        self._values(i, ind, out, out.den, 100)

    def _mean(self, i: int, ind: Indicator, out: _Period) -> None:
        prm = self._params(ind)
        dims = tuple(ind.breakdowns)
        n = self._denominators(ind, prm, dims)
        rng, size = self.rng, len(self.codes)
        level = prm.level + self._sign(ind) * prm.beta * self.latent[:, ind.table - 2]
        level = level + prm.between * (
            self.static.eps[self.sidx, i] + 0.1 * rng.standard_normal(size)
        )
        mean = level + prm.sd / np.sqrt(np.maximum(n.total, 1)) * rng.standard_normal(size)
        sd = prm.sd * np.exp(0.08 * rng.standard_normal(size))
        floor = (
            -np.inf if self.catalogue.measure_types[ind.measure_type].value_may_be_negative else 0
        )
        mean = np.maximum(mean, floor)
        scale = 10**ind.decimals
        pos = self.template.total_pos[i]
        self._put_mean(out, np.asarray([pos]), n.total[:, None], mean[:, None], sd[:, None], scale)
        fixed = P.MEAN_CATEGORY_OFFSETS.get(ind.id, {})
        for dim in dims:
            counts = n.splits[dim]
            k = counts.shape[1]
            offsets = np.asarray(
                fixed.get(dim, 0.5 * prm.between * self.static.offset_noise[(i, dim)] * 10)
            )
            noise = rng.standard_normal((size, k)) * prm.sd / np.sqrt(np.maximum(counts, 1))
            means = mean[:, None] + offsets[None, :] + noise
            weight = counts.sum(axis=1, keepdims=True)
            drift = (counts * (means - mean[:, None])).sum(axis=1, keepdims=True)
            means = means - np.where(weight > 0, drift / np.maximum(weight, 1), 0.0)
            means = np.maximum(means, floor)  # (a mean of years cannot be negative)
            sds = prm.sd * np.exp(0.1 * rng.standard_normal((size, k)))
            self._put_mean(out, self.template.dim_pos[(i, dim)], counts, means, sds, scale)

    @staticmethod
    def _put_mean(
        out: _Period, where: np.ndarray, n: np.ndarray, mean: np.ndarray, sd: np.ndarray, scale: int
    ) -> None:
        out.n[:, where] = n
        out.value[:, where] = np.rint(mean * scale).astype(np.int64)
        out.sd[:, where] = np.rint(sd * scale).astype(np.int64)
        out.value_symbol[:, where] = np.where(n == 0, _SYMBOL_Z, _SYMBOL_NONE)
        out.sd_symbol[:, where] = np.where(n < 2, _SYMBOL_Z, _SYMBOL_NONE)

    def _missing(self, out: _Period) -> None:
        """Whole indicators, and single category rows, not available ("x")."""
        t = self.template
        size = len(self.codes)
        missing_ind = self.rng.random((size, len(t.indicators))) < P_INDICATOR_MISSING
        missing_row = (self.rng.random(out.row_symbol.shape) < P_ROW_MISSING) & ~t.is_total
        missing = missing_ind[:, t.row_indicator] | missing_row
        out.row_symbol[missing] = _SYMBOL_X


# ---------------------------------------------------------------------------------- formatting


def _fixed(scaled: np.ndarray, decimals: np.ndarray) -> pd.Series:
    """Integers scaled by 10**decimals as fixed-point text: (-125, 2) -> "-1.25"."""
    magnitude = np.abs(scaled)
    unit = 10 ** decimals.astype(np.int64)
    whole = _integers(magnitude // unit)
    frac = _integers(magnitude % unit)
    out = whole.copy()
    for d in np.unique(decimals):
        if d <= 0:
            continue
        rows = decimals == d
        out[rows] = whole[rows] + "." + frac[rows].str.zfill(int(d))
    negative = pd.Series(scaled < 0)
    return out.where(~negative, "-" + out)


def _format(periods: list[_Period], keep: list[np.ndarray], catalogue: Catalogue) -> pd.DataFrame:
    t = _template()
    rows_per_la = len(t.topic)
    parts = []
    for data, selected in zip(periods, keep, strict=True):
        if not len(selected):
            continue
        las = data.las.iloc[selected].reset_index(drop=True)
        count = len(las) * rows_per_la

        def flat(a: np.ndarray, selected: np.ndarray = selected) -> np.ndarray:
            return a[selected].reshape(-1)

        la_codes = np.repeat(np.arange(len(las)), rows_per_la)
        row_codes = np.tile(np.arange(rows_per_la), len(las))
        constant = np.zeros(count, dtype=np.int64)
        frame = {
            "time_period": _text([str(data.period)], constant),
            "time_identifier": _text([TIME_IDENTIFIER], constant),
            "geographic_level": _text([GEOGRAPHIC_LEVEL], constant),
            "country_code": _text([COUNTRY_CODE], constant),
            "country_name": _text([COUNTRY_NAME], constant),
        }
        for column in ("region_code", "region_name", "old_la_code", "new_la_code", "la_name"):
            frame[column] = _text(las[column].astype("str").tolist(), la_codes)
        frame["indicator_id"] = _text(list(np.asarray(t.indicators)[t.row_indicator]), row_codes)
        frame["breakdown_topic"] = _text(list(t.topic), row_codes)
        frame["breakdown"] = _text(list(t.breakdown), row_codes)
        repeat = len(las)
        row_symbol = flat(data.row_symbol)
        decimals = np.tile(t.decimals, repeat)
        for column, values in (
            ("numerator", data.num),
            ("denominator", data.den),
            ("respondents", data.resp),
            ("n", data.n),
        ):
            v = flat(values)
            text = _integers(v).where(v >= 0, "")
            frame[column] = _apply_symbols(text, row_symbol, np.tile(t.uses[column], repeat))
        value = flat(data.value)
        kinds = np.tile(
            np.asarray(
                [
                    catalogue.measure_types[catalogue.indicators[i].measure_type].value_kind
                    for i in t.indicators
                ]
            )[t.row_indicator],
            repeat,
        )
        text = _fixed(value, decimals)
        yes_no = kinds == "yes_no"
        text = text.where(~yes_no, np.where(value == 1, "yes", "no"))
        text = text.where(flat(data.value_symbol) == 0, _SYMBOLS[flat(data.value_symbol)])
        frame["value"] = _apply_symbols(text, row_symbol, np.tile(t.uses["value"], repeat))
        sd = flat(data.sd)
        text = _fixed(sd, decimals).where(sd >= 0, "")
        text = text.where(flat(data.sd_symbol) == 0, _SYMBOLS[flat(data.sd_symbol)])
        frame["sd"] = _apply_symbols(text, row_symbol, np.tile(t.uses["sd"], repeat))
        parts.append(pd.DataFrame(frame, columns=list(COLUMNS)))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)


def _text(values: list[str], codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a text column (a take on pandas' string array: fast for repeats)."""
    return pd.Series(pd.array(values, dtype="str").take(codes))


def _integers(values: np.ndarray) -> pd.Series:
    """Integers as text."""
    return pd.Series(values).astype("str")


def _apply_symbols(text: pd.Series, symbol: np.ndarray, used: np.ndarray) -> pd.Series:
    """Put the row's symbol in every measure cell the row uses (whole-row consistency)."""
    apply = (symbol > 0) & used
    if not apply.any():
        return text
    return text.where(~apply, _SYMBOLS[symbol])


# ------------------------------------------------------------------------------------- the API


def _check_periods(periods: list[int]) -> list[int]:
    out = []
    for p in periods:
        if isinstance(p, bool) or not isinstance(p, int | np.integer):
            raise ValueError(f"periods must be reporting years like 2024, got {p!r}")
        if not 2013 <= int(p) <= 2030:
            raise ValueError(f"reporting year {p} is outside 2013-2030")
        out.append(int(p))
    if len(set(out)) != len(out):
        raise ValueError(f"periods repeat: {periods!r}")
    return sorted(out)


def generate_periods(periods: list[int], seed: int) -> list[_Period]:
    """The numbers of each period (all LAs valid in it), before formatting."""
    return [_PeriodModel(seed, p).run() for p in _check_periods(periods)]


def generate(periods: list[int], seed: int, las: list[str] | None = None) -> pd.DataFrame:
    """Upload rows for every LA x indicator x breakdown category x reporting year.

    ``periods``: DfE reporting years (2024 = April 2023 to March 2024). Each year uses the LA codes
    valid for it (Cumbria 909 up to 2023, Cumberland 942 and Westmorland and Furness 943 from
    2024; Barnsley and Sheffield's old GSS codes up to 2025), so ~153 LAs a year.
    ``las``: old or new codes to keep (an LA is left out of years in which its code is not
    valid). Every column is text exactly as it is written to a file; rows are ordered by period,
    old LA code, then catalogue order with each indicator's Total row before its categories.
    The same ``seed`` gives the same rows, and an LA's rows do not depend on ``las``.
    """
    wanted = resolve_las(las)
    data = generate_periods(periods, seed)
    keep = []
    for d in data:
        codes = d.las["old_la_code"].to_numpy()
        keep.append(
            np.flatnonzero(np.isin(codes, wanted)) if wanted is not None else np.arange(len(codes))
        )
    return _format(data, keep, load_catalogue())


def rows_per_return() -> int:
    """Rows in one LA's return for one period (every indicator, Total and categories)."""
    return len(_template().topic)
