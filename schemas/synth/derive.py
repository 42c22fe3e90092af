"""Derive the per-LA rates the generator calibrates against from real DfE publications.

The synthetic data's Table 3 indicators that exist in national returns today (referrals leading
to no further action, re-referrals, repeat child protection plans) and the sizes of the referral
and child protection cohorts are set from each LA's published figures, so magnitudes and the
spread between LAs are real. This module turns the two EES downloads in ``../shared/published``
into the small table packaged as ``data/la_rates.csv`` (see ``data/PROVENANCE.md``)::

    python -m schemas.synth.derive ../shared/published schemas/synth/data/la_rates.csv

Rates are pooled over the reporting years ``YEARS`` (sum of numerators / sum of denominators
over the years where both are published as numbers), so one odd year or a suppressed cell does
not decide an LA's level. Rates per 10,000 use the ONS 0-17 population from the reference data
(2024's estimate for 2025, the latest published). Cells published as a symbol (c, x, u, z) are
skipped; an LA with no usable year gets a blank, and the generator falls back to England.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from schemas.reference import ReferenceData, load_reference

__all__ = ["C1_FILE", "D3_FILE", "RATE_COLUMNS", "YEARS", "derive_la_rates", "rates_csv"]

C1_FILE = "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
D3_FILE = "d3_cpps_subsequent_plan_2013_to_2025.csv"
YEARS = (2021, 2022, 2023, 2024, 2025)
RATE_COLUMNS = (
    "referral_child_rate",  # children referred per 10,000 children aged 0-17
    "rereferral_child_pct",  # % of referred children re-referred within 12 months
    "nfa_pct",  # % of referrals leading to no further action
    "not_in_need_pct",  # % of referrals assessed as not in need
    "cpp_start_rate",  # child protection plans starting per 10,000 children
    "cpp_subsequent_pct",  # % of plans starting that were a second or subsequent plan
)


def _numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.where(series.str.fullmatch(r"[0-9]+(\.[0-9]+)?")), errors="coerce")


def _pooled(
    frame: pd.DataFrame, numerator: str, denominator: str, scale: float
) -> tuple[pd.Series, pd.Series]:
    """Per LA: sum(numerator) / sum(denominator) x scale over years with both; and years used."""
    both = frame[numerator].notna() & frame[denominator].notna() & (frame[denominator] > 0)
    used = frame[both]
    grouped = used.groupby("old_la_code")
    rate = grouped[numerator].sum() / grouped[denominator].sum() * scale
    return rate, grouped.size()


def derive_la_rates(published: Path, reference: ReferenceData | None = None) -> pd.DataFrame:
    """One row per LA old code in the published files with the pooled rates of RATE_COLUMNS."""
    reference = reference or load_reference()
    c1 = pd.read_csv(published / C1_FILE, dtype=str, keep_default_na=False)
    d3 = pd.read_csv(published / D3_FILE, dtype=str, keep_default_na=False)
    frames = []
    for raw in (c1, d3):
        rows = raw[
            (raw["geographic_level"] == "Local authority")
            & raw["time_period"].astype(int).isin(YEARS)
        ].copy()
        rows["year"] = rows["time_period"].astype(int)
        frames.append(rows)
    c1, d3 = frames
    for frame in (c1, d3):
        frame["population"] = [
            reference.child_population(code, min(year, 2024))
            for code, year in zip(frame["old_la_code"], frame["year"], strict=True)
        ]
        frame["population"] = pd.to_numeric(frame["population"]).astype("float64")
    for col in (
        "referral_count",
        "referral_child_count",
        "rereferral_child_count",
        "no_further_action_count",
        "not_in_need_count",
    ):
        c1[col] = _numbers(c1[col])
    for col in ("CPP_start", "CPP_subsequent"):
        d3[col] = _numbers(d3[col])
    pairs = {
        "referral_child_rate": (c1, "referral_child_count", "population", 10_000),
        "rereferral_child_pct": (c1, "rereferral_child_count", "referral_child_count", 100),
        "nfa_pct": (c1, "no_further_action_count", "referral_count", 100),
        "not_in_need_pct": (c1, "not_in_need_count", "referral_count", 100),
        "cpp_start_rate": (d3, "CPP_start", "population", 10_000),
        "cpp_subsequent_pct": (d3, "CPP_subsequent", "CPP_start", 100),
    }
    names = c1.drop_duplicates("old_la_code").set_index("old_la_code")["la_name"]
    out = pd.DataFrame(index=pd.Index(sorted(set(c1["old_la_code"]) | set(d3["old_la_code"]))))
    out.index.name = "old_la_code"
    out["la_name"] = names.reindex(out.index)
    for column, (frame, num, den, scale) in pairs.items():
        rate, years = _pooled(frame, num, den, scale)
        out[column] = rate.reindex(out.index).round(2)
        out[f"{column}_years"] = years.reindex(out.index).fillna(0).astype(int)
    ordered = ["la_name"]
    for column in RATE_COLUMNS:
        ordered += [column, f"{column}_years"]
    return out[ordered].reset_index()


def rates_csv(table: pd.DataFrame) -> str:
    """The table as the packaged CSV text (2 decimal places, ``\n`` line endings)."""
    return table.to_csv(index=False, lineterminator="\n", float_format="%.2f")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m schemas.synth.derive PUBLISHED_DIR OUT_CSV", file=sys.stderr)
        return 2
    table = derive_la_rates(Path(argv[0]))
    Path(argv[1]).write_text(rates_csv(table), encoding="utf-8")
    print(f"wrote {len(table)} LAs to {argv[1]}; rates pooled over {YEARS[0]}-{YEARS[-1]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
