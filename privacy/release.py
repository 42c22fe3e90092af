"""Release policies: how a table of counts becomes something that may leave an LA's own view.

A :class:`ReleasePolicy` combines the mechanisms of this package per channel:

* ``sdc`` — small-number suppression only (:mod:`privacy.suppression`): primary suppression,
  rounding where the policy rounds, complementary suppression, and the audit gate
  (:func:`privacy.audit.require_protected`) that refuses the release if any suppressed cell
  can be narrowed below its protection width by any attacker.
* ``dp`` — differential privacy only (:mod:`privacy.dp`): OpenDP noise on every LA, region
  and England count vector within each LA's privacy-loss budget, then consistency
  post-processing (:mod:`privacy.consistency`) so the published counts are non-negative
  integers that add up.
* ``dp+sdc`` — noise as ``dp``, then noisy counts from 1 to 5 shown as ``c`` (pure
  post-processing of a DP output: no complementary suppression or audit is needed for privacy;
  it spares users from reading meaning into tiny noisy counts).

Values (percentages, rates, means) are derived by :func:`published_table` from the
*published* counts, never from the true ones, so a value carries no more than the counts it is
made of: a percentage whose numerator or denominator is suppressed is ``c``; a regional or
national percentage comes from the rounded counts (DfE derives them from unrounded figures;
we do not, because that would undo the rounding the audit relies on).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .cells import LOCAL_AUTHORITY, MEASURES

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "ProtectedRelease",
    "ReleasePolicy",
    "policy_by_name",
    "protect_release",
    "published_table",
]

KEY = ["geographic_level", "area_code", "indicator_id", "breakdown_topic", "breakdown"]
SUPPRESSED = "c"
NOT_AVAILABLE = "x"
NOT_APPLICABLE = "z"


def _format_counts(values: pd.Series) -> pd.Series:
    return values.astype("Int64").astype("string")


def _round_half_up(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    scale = 10.0**decimals
    return np.floor(values * scale + 0.5) / scale


def _format_values(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    rounded = _round_half_up(values, decimals)
    return np.array(
        [f"{v:.{int(d)}f}" for v, d in zip(rounded, decimals, strict=True)], dtype=object
    )


def published_table(
    protected: pd.DataFrame,
    la_rows: pd.DataFrame,
    catalogue: Any,
    *,
    withhold_means: bool = False,
) -> pd.DataFrame:
    """The wide table of what a release shows: one row per area, indicator and breakdown cell.

    ``protected``: the protected cell frame (``published``, ``symbol``, ``status`` per count
    cell). ``la_rows``: the LAs' rows as gathered (``new_la_code``, ``indicator_id``,
    ``breakdown_topic``, ``breakdown``, ``value``, ``sd`` and ``symbols``: the EES symbols the
    LA itself gave, as ``{column: symbol}`` or None). Returns text columns ``numerator``,
    ``denominator``, ``respondents``, ``n``, ``value`` and ``sd``: a number or a symbol.

    Rules, cell by cell:

    * a count the measure type does not use is ``z``; one it uses but the LA did not give is
      the LA's own symbol, else ``x``; a suppressed count is ``c``;
    * a percentage or rate is computed from the published counts and is ``c`` if either is
      suppressed, ``x`` if either is missing or the denominator is 0;
    * an LA's mean (and sd) is its own figure, ``c`` when its ``n`` is suppressed; a regional
      or national mean is the n-weighted mean over the LAs whose ``n`` and mean are published
      (so it is a function of published figures only), with no sd (``x``);
    * a yes/no fact about an organisation is shown for an LA and is ``z`` for aggregates;
    * ``withhold_means``: for differentially private releases, whose noise protects counts
      but not means, every mean and sd is ``x``.
    """
    measure_of = {
        ind.id: catalogue.measure_types[ind.measure_type] for ind in catalogue.indicators.values()
    }
    decimals_of = {ind.id: ind.decimals for ind in catalogue.indicators.values()}
    indexed = protected.set_index([*KEY, "measure"])
    counts = indexed["published"].unstack("measure")
    symbols = indexed["symbol"].replace("", pd.NA).unstack("measure")
    frame = counts.reset_index()
    frame.columns.name = None
    sym = symbols.reindex(counts.index).reset_index(drop=True)
    for measure in MEASURES:
        if measure not in frame:
            frame[measure] = pd.NA
        if measure not in sym:
            sym[measure] = pd.NA

    # The LAs' own values and symbols, joined on the cell key.
    own = la_rows.rename(columns={"new_la_code": "area_code"})[
        ["area_code", "indicator_id", "breakdown_topic", "breakdown", "value", "sd", "symbols"]
    ]
    frame = frame.merge(
        own, on=["area_code", "indicator_id", "breakdown_topic", "breakdown"], how="left"
    )
    # LA cells with no count at all (yes/no facts, or all counts given as symbols).
    missing = own.merge(
        frame[["area_code", "indicator_id", "breakdown_topic", "breakdown"]],
        how="left",
        indicator=True,
    )
    extra = missing[missing["_merge"] == "left_only"].drop(columns="_merge")
    if not extra.empty:
        extra = extra.assign(geographic_level=LOCAL_AUTHORITY)
        frame = pd.concat([frame, extra], ignore_index=True)
        sym = pd.concat(
            [sym, pd.DataFrame(pd.NA, index=range(len(extra)), columns=sym.columns)],
            ignore_index=True,
        )

    own_symbols = frame["symbols"].map(lambda s: s if isinstance(s, dict) else {})
    used = {
        m: frame["indicator_id"].map(lambda i, m=m: m in measure_of[i].counts) for m in MEASURES
    }
    out = frame[KEY].copy()
    for measure in MEASURES:
        text = _format_counts(frame[measure]).astype(object)
        suppressed = sym[measure].fillna("").to_numpy() != ""
        given = own_symbols.map(lambda s, m=measure: s.get(m, NOT_AVAILABLE)).to_numpy()
        text = np.where(suppressed, sym[measure].fillna("").to_numpy(), text)
        text = np.where(pd.isna(frame[measure]).to_numpy() & ~suppressed, given, text)
        out[measure] = np.where(used[measure].to_numpy(), text, NOT_APPLICABLE)

    kinds = frame["indicator_id"].map(lambda i: measure_of[i].value_kind).to_numpy()
    value_num = frame["indicator_id"].map(lambda i: measure_of[i].value_numerator or "")
    value_den = frame["indicator_id"].map(lambda i: measure_of[i].value_denominator or "")
    scale = frame["indicator_id"].map(lambda i: measure_of[i].value_scale).to_numpy(float)
    decimals = frame["indicator_id"].map(decimals_of).to_numpy(float)
    value = np.full(len(frame), NOT_AVAILABLE, dtype=object)

    # Percentages and rates from published counts.
    ratio = np.isin(kinds, ["percentage", "rate"])
    if ratio.any():
        num = _numbers(_pick(frame, value_num))
        den = _numbers(_pick(frame, value_den))
        num_sym = _pick(sym.fillna(""), value_num)
        den_sym = _pick(sym.fillna(""), value_den)
        suppressed = (num_sym == SUPPRESSED) | (den_sym == SUPPRESSED)
        ok = ratio & ~suppressed & ~np.isnan(num) & ~np.isnan(den) & (den > 0)
        computed = np.where(ok, num / np.where(den > 0, den, 1) * scale, np.nan)
        value[ok] = _format_values(computed[ok], decimals[ok])
        value[ratio & suppressed] = SUPPRESSED

    # Means: the LA's own; aggregates weighted over published LAs.
    means = kinds == "number"
    sd = np.full(len(frame), NOT_APPLICABLE, dtype=object)
    if means.any():
        n = pd.to_numeric(frame["n"], errors="coerce").to_numpy(float)
        n_sym = sym["n"].fillna("").to_numpy()
        la = (frame["geographic_level"] == LOCAL_AUTHORITY).to_numpy()
        own_value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(float)
        own_sd = pd.to_numeric(frame["sd"], errors="coerce").to_numpy(float)
        la_ok = means & la & (n_sym == "") & ~np.isnan(own_value)
        value[la_ok] = _format_values(own_value[la_ok], decimals[la_ok])
        value[means & la & (n_sym == SUPPRESSED)] = SUPPRESSED
        sd[means] = NOT_AVAILABLE
        sd_ok = la_ok & ~np.isnan(own_sd)
        sd[sd_ok] = _format_values(own_sd[sd_ok], decimals[sd_ok])
        sd[means & la & (n_sym == SUPPRESSED)] = SUPPRESSED
        weighted = _aggregate_means(protected, frame, la_ok, n, own_value)
        agg = means & ~la
        lookup = frame.loc[agg, KEY].merge(weighted, on=KEY, how="left")["mean"].to_numpy(float)
        have = ~np.isnan(lookup)
        idx = np.flatnonzero(agg)[have]
        value[idx] = _format_values(lookup[have], decimals[idx])
        if withhold_means:
            value[means] = NOT_AVAILABLE
            sd[means] = NOT_AVAILABLE

    yes_no = kinds == "yes_no"
    if yes_no.any():
        la = (frame["geographic_level"] == LOCAL_AUTHORITY).to_numpy()
        own_value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(float)
        shown = yes_no & la & ~np.isnan(own_value)
        value[shown] = np.where(own_value[shown] >= 0.5, "1", "0")
        value[yes_no & ~la] = NOT_APPLICABLE
    given_value = own_symbols.map(lambda s: s.get("value", NOT_AVAILABLE)).to_numpy()
    la_rows_mask = (frame["geographic_level"] == LOCAL_AUTHORITY).to_numpy()
    value = np.where(la_rows_mask & (value == NOT_AVAILABLE), given_value, value)
    out["value"] = value
    out["sd"] = sd
    return out.reset_index(drop=True)


def _pick(frame: pd.DataFrame, columns: pd.Series) -> np.ndarray:
    """Per row, the value of the column named in ``columns``, as text ("" where none)."""
    result = np.full(len(frame), "", dtype=object)
    for name in columns.unique():
        if name:
            rows = (columns == name).to_numpy()
            result[rows] = frame[name].to_numpy(dtype=object)[rows]
    return result


def _numbers(values: np.ndarray) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)


def _aggregate_means(
    protected: pd.DataFrame,
    frame: pd.DataFrame,
    la_ok: np.ndarray,
    n: np.ndarray,
    value: np.ndarray,
) -> pd.DataFrame:
    """n-weighted means of published LA means for every ancestor of the LAs."""
    from .cells import ancestors

    cell = ["indicator_id", "breakdown_topic", "breakdown"]
    las = frame.loc[la_ok, ["area_code", *cell]].copy()
    las["nv"] = n[la_ok] * value[la_ok]
    las["n_"] = n[la_ok]
    # One row per (LA row, ancestor): each LA counts towards its region(s) and England.
    las["area_code"] = las["area_code"].map(ancestors(protected)).map(list)
    up = las.explode("area_code").dropna(subset=["area_code"])
    sums = up.groupby(["area_code", *cell], as_index=False)[["nv", "n_"]].sum()
    sums = sums[sums["n_"] > 0]
    sums["mean"] = sums["nv"] / sums["n_"]
    level = protected.drop_duplicates("area_code").set_index("area_code")["geographic_level"]
    sums["geographic_level"] = sums["area_code"].map(level)
    return sums[[*KEY, "mean"]]


# ------------------------------------------------------------------------ policies and release


@dataclass(frozen=True)
class ReleasePolicy:
    """A named combination of mechanisms (see the module docstring)."""

    name: str
    label: str
    mechanism: str  # "sdc", "dp" or "dp+sdc"
    suppression: Any = None  # privacy.policy.SuppressionPolicy for sdc and dp+sdc
    dp: Any = None  # privacy.dp.DPPolicy for dp and dp+sdc
    notes: tuple[str, ...] = field(default=())

    def footnotes(self) -> tuple[str, ...]:
        parts: list[str] = [f"Release policy: {self.label}."]
        if self.suppression is not None and self.mechanism == "sdc":
            parts.append(self.suppression.footnote)
        parts.extend(self.notes)
        parts.append(
            "Percentages and rates are calculated from the published counts; a value whose "
            "numerator or denominator is suppressed is shown as c."
        )
        return tuple(parts)


@dataclass
class ProtectedRelease:
    cells: pd.DataFrame  # the protected cell frame
    policy: ReleasePolicy
    audit: Any = None  # privacy.audit.AuditReport for sdc
    spend: pd.DataFrame | None = None  # area_code, indicator_id, epsilon for dp

    def summary(self) -> dict[str, int]:
        """Counts only: never a cell value."""
        status = self.cells["status"].value_counts()
        summary = {f"cells_{k}": int(v) for k, v in status.items()}
        summary["cell_count"] = len(self.cells)
        if self.audit is not None:
            summary.update({f"audit_{k}": v for k, v in self.audit.summary().items()})
        return summary


def _policies() -> dict[str, ReleasePolicy]:
    from .dp import DPPolicy
    from .policy import DFE, OPENSAFELY_MIDPOINT6, OPENSAFELY_ROUND5

    noise = DPPolicy()
    shares = ", ".join(f"{level} {share:.0%}" for level, share in noise.level_shares.items())
    dp_note = (
        "Counts have differentially private noise added (OpenDP discrete Laplace; privacy loss "
        f"epsilon = {noise.epsilon:g} per local authority, indicator and release, split {shares}), "
        "then were made consistent: whole numbers, not negative, categories add up to their "
        "Total and local authorities to their region and England. Means are not published."
    )
    return {
        "dfe": ReleasePolicy("dfe", "DfE children in need / looked after suppression", "sdc", DFE),
        "opensafely": ReleasePolicy(
            "opensafely", "OpenSAFELY-style redaction and rounding to 5", "sdc", OPENSAFELY_ROUND5
        ),
        "opensafely-midpoint6": ReleasePolicy(
            "opensafely-midpoint6",
            "OpenSAFELY-style redaction and midpoint-6 rounding",
            "sdc",
            OPENSAFELY_MIDPOINT6,
        ),
        "dp": ReleasePolicy(
            "dp", "Differential privacy (noise only)", "dp", dp=noise, notes=(dp_note,)
        ),
        "dp+sdc": ReleasePolicy(
            "dp+sdc",
            "Differential privacy, then small noisy counts suppressed",
            "dp+sdc",
            DFE,
            noise,
            notes=(
                dp_note,
                f"Noisy counts from 1 to {DFE.threshold} are shown as c: they say more about "
                "the noise than about the children.",
            ),
        ),
    }


DEFAULT_POLICY = "dfe"
POLICIES: Mapping[str, ReleasePolicy]


def __getattr__(name: str) -> Any:  # POLICIES is built lazily: policy.py imports pandera
    if name == "POLICIES":
        return _policies()
    raise AttributeError(name)


def policy_by_name(name: str) -> ReleasePolicy:
    policies = _policies()
    try:
        return policies[name]
    except KeyError:
        raise ValueError(
            f"unknown release policy {name!r}; choose one of: {', '.join(sorted(policies))}"
        ) from None


def _attackers(attackers: Sequence[tuple[str, frozenset[str]]]) -> list[Any]:
    from .cells import Attacker

    return [Attacker(name, frozenset(areas)) for name, areas in attackers]


def _protect_part(
    cells: pd.DataFrame,
    structure: Any,
    suppression: Any,
    attackers: list[Any],
    refine: bool = False,
) -> tuple[pd.DataFrame, Any]:
    """Protect and audit one part of a release (whole indicators): ``(protected, report)``.

    ``suppression`` is a SuppressionPolicy, or its fields as a dict when sent to another
    process (its read-only mapping does not pickle)."""
    from . import suppression as sdc
    from .audit import AuditReport, audit
    from .policy import SuppressionPolicy

    if isinstance(suppression, dict):
        suppression = SuppressionPolicy(**suppression)

    # Relations never cross indicators, so each is protected and audited on its own: the
    # audit loop's rounds for a hard cell then cost one indicator, not the whole part.
    # ``refine``: also give back complements the audit does not need (small releases).
    done = []
    reports = []
    for _, one in cells.groupby("indicator_id", sort=True):
        protected = sdc.protect(one, structure, suppression, attackers=attackers, refine=refine)
        # The gate: an independent audit of the finished pattern, whatever produced it.
        reports.append(
            audit(
                protected,
                structure,
                protection_width=suppression.protection_width,
                attackers=attackers,
            )
        )
        done.append(protected)
    report = AuditReport.combine(reports, suppression.protection_width)
    return pd.concat(done, ignore_index=True), report


def _by_indicator(cells: pd.DataFrame) -> list[pd.DataFrame]:
    """One part per indicator, largest first. Relations never cross indicators (sums are
    within an indicator; bounds within one of its cells), so the parts can be protected and
    audited independently and the result is the same as for the whole."""
    parts = [part for _, part in cells.groupby("indicator_id", sort=True)]
    return sorted(parts, key=len, reverse=True)


def _fields(policy: Any) -> dict[str, Any]:
    fields = {f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)}
    fields["round_levels"] = dict(fields["round_levels"])
    return fields


def _workers(wanted: int | None) -> int:
    # A daemonic process (a Celery prefork worker) may not start children: work in-process.
    if multiprocessing.current_process().daemon:
        return 1
    return max(1, wanted if wanted else min(os.cpu_count() or 1, 8))


def _suppress(
    cells: pd.DataFrame,
    structure: Any,
    policy: ReleasePolicy,
    attackers: list[Any],
    workers: int | None = None,
) -> ProtectedRelease:
    from ._complements import REFINE_MAX_CELLS
    from .audit import AuditReport, DisclosureRisk

    workers = _workers(workers)
    # A small release is refined too (fewer complements), as protect does for small frames.
    refine = len(cells) <= REFINE_MAX_CELLS
    if workers > 1 and cells["indicator_id"].nunique() > 1:
        # One task per indicator, largest first, so both cores stay busy to the end.
        parts = _by_indicator(cells)
        context = multiprocessing.get_context("spawn")  # no forked copies of app state
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(
                pool.map(
                    _protect_part,
                    parts,
                    [structure] * len(parts),
                    [_fields(policy.suppression)] * len(parts),
                    [attackers] * len(parts),
                    [refine] * len(parts),
                )
            )
        # Back in indicator order, whatever order the tasks ran in.
        order = np.argsort([str(p["indicator_id"].iloc[0]) for p in parts], kind="stable")
        results = [results[i] for i in order]
    else:
        results = [_protect_part(cells, structure, policy.suppression, attackers, refine)]
    protected = pd.concat([r[0] for r in results], ignore_index=True)
    report = AuditReport.combine([r[1] for r in results], policy.suppression.protection_width)
    if not report.ok:
        raise DisclosureRisk(report)
    return ProtectedRelease(protected, policy, audit=report)


def _noise(
    cells: pd.DataFrame,
    structure: Any,
    policy: ReleasePolicy,
    *,
    catalogue: Any,
    spent: pd.DataFrame | None,
    budgets: Mapping[str, float] | None,
    period: str,
) -> ProtectedRelease:
    from .consistency import make_consistent
    from .dp import add_noise, check_budget, indicator_sensitivities, spend_per_area

    charge = spend_per_area(cells, policy.dp)
    # Refuse before drawing anything: a release over any LA's budget never happens.
    check_budget(
        charge,
        spent,
        budgets if budgets is not None else math.inf,
        period,
        measure=policy.dp.measure,
    )
    sensitivities = indicator_sensitivities(cells, catalogue)
    noisy = add_noise(cells, policy.dp, sensitivities, catalogue=catalogue)
    consistent = make_consistent(noisy, structure.additive_topics, structure.bounds)
    # Both keep the cell frame's rows in order (checked: a mismatch would misplace values).
    protected = cells.reset_index(drop=True).copy()
    same = consistent[["area_code", "indicator_id", "breakdown_topic", "breakdown", "measure"]]
    if not same.equals(protected[same.columns]):  # pragma: no cover - defensive
        raise RuntimeError("noise post-processing reordered the cells")
    protected["published"] = pd.array(consistent["consistent"].to_numpy(), dtype="Int64")
    protected["symbol"] = ""
    protected["status"] = np.where(protected["public"].to_numpy(bool), "public", "noised")
    if policy.mechanism == "dp+sdc" and policy.suppression is not None:
        small = protected["published"].between(1, policy.suppression.threshold).to_numpy(bool)
        small &= ~protected["public"].to_numpy(bool)
        protected.loc[small, "published"] = pd.NA
        protected.loc[small, "symbol"] = "c"
        protected.loc[small, "status"] = "small_noisy"
    return ProtectedRelease(protected, policy, spend=charge)


def protect_release(
    cells: pd.DataFrame,
    structure: Any,
    policy: ReleasePolicy,
    *,
    catalogue: Any,
    attackers: Sequence[tuple[str, frozenset[str]]] = (),
    spent: pd.DataFrame | None = None,
    budgets: Mapping[str, float] | None = None,
    period: str = "",
    workers: int | None = None,
) -> ProtectedRelease:
    """Apply ``policy`` to ``cells`` (see the module docstring).

    ``workers``: processes for suppression (parts of whole indicators are independent);
    None uses every core, 1 works in this process.

    Raises :class:`privacy.audit.DisclosureRisk` when a suppression pattern fails the audit and
    :class:`privacy.dp.BudgetExceeded` when a noisy release would overspend an LA's budget;
    either way nothing is returned to publish.
    """
    if policy.mechanism == "sdc":
        return _suppress(cells, structure, policy, _attackers(attackers), workers)
    return _noise(
        cells,
        structure,
        policy,
        catalogue=catalogue,
        spent=spent,
        budgets=budgets,
        period=period,
    )
