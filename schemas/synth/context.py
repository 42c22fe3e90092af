"""Synthetic context datasets: one EES context file's rows for every LA and reporting year.

The layout is :mod:`schemas.context`'s (EES time and geography columns, then one column per
context variable), so :func:`context` written as CSV loads through
:func:`schemas.context.read_context` without a problem. Each period has a row for every LA whose
code is valid for it (the same LAs as :func:`schemas.synth.generate`'s returns: Cumbria up to
2023, Cumberland and Westmorland and Furness from 2024, Barnsley and Sheffield under their old
GSS codes up to 2025), so the latest period covers every live LA.

* ``child_population`` is real: the ONS mid-year estimate of the reference data for the year
  (the latest estimate carried forward for later years; a successor's sum or the nearest year
  where the figure is missing, as the returns' denominators are).
* The others are made up but plausible. ``idaci_score`` (0.05 to 0.35) follows the region
  (Inner London and the North East most deprived, the South East least), the kind of authority
  (metropolitan districts above counties) and the LA's published referral rate.
  ``spend_per_child`` (about £600 to £2,500) rises with deprivation and in London, and grows about
  4 % a year. ``uasc_per_10k`` is mostly 0 to 10, higher in London and high for a few port-of-entry
  and gateway authorities (Kent, Croydon, Portsmouth, Hillingdon, Southampton).
  ``inflow_families`` is low except in authorities around London that receive families placed
  from London boroughs (Thurrock, Luton, Slough, Medway, Kent, Essex ...).
* Values vary slowly between periods (an AR(1) wobble per LA and variable, with national
  trends), and are the same for the same seed on every run; an LA's figures do not depend on
  which periods are asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from schemas.context import (
    CHILD_POPULATION,
    CONTEXT_VARIABLES,
    IDACI_SCORE,
    INFLOW_FAMILIES,
    LOCAL_AUTHORITY,
    SPEND_PER_CHILD,
    UASC_PER_10K,
    context_columns,
)
from schemas.reference import INNER_LONDON_CODES, LONDON_REGION_CODE, load_reference

from .generator import (
    COUNTRY_CODE,
    COUNTRY_NAME,
    TIME_IDENTIFIER,
    _all_codes,
    _check_periods,
    _las_for_period,
    _population,
    _rng,
    la_rates,
)

__all__ = ["GATEWAY_LAS", "RECEIVING_LAS", "context"]

# Random streams of the context (the generator's returns use 1 to 3).
_STATIC, _YEAR = 41, 42
_FIRST_YEAR = 2012  # the AR(1) wobble starts here, so any period's value is reproducible

# Average IDACI score by region (E12), Inner and Outer London apart.
_REGION_IDACI = {
    "E12000001": 0.215,  # North East
    "E12000002": 0.205,  # North West
    "E12000003": 0.190,  # Yorkshire and The Humber
    "E12000004": 0.160,  # East Midlands
    "E12000005": 0.195,  # West Midlands
    "E12000006": 0.135,  # East of England
    "E12000008": 0.120,  # South East
    "E12000009": 0.130,  # South West
}
_INNER_LONDON_IDACI, _OUTER_LONDON_IDACI = 0.255, 0.180
_ENTITY_IDACI = {"E08": 0.025, "E10": -0.035}  # metropolitan districts, counties

GATEWAY_LAS: dict[str, float] = {
    # Unaccompanied asylum-seeking children per 10,000: ports of entry and gateway authorities.
    "886": 30.0,  # Kent (Dover)
    "306": 38.0,  # Croydon (the Home Office's asylum intake unit)
    "851": 22.0,  # Portsmouth (ferry port)
    "312": 28.0,  # Hillingdon (Heathrow)
    "852": 15.0,  # Southampton (port)
}
RECEIVING_LAS: dict[str, float] = {
    # Families placed in temporary accommodation by other authorities, per 10,000 children.
    "883": 18.0,  # Thurrock
    "821": 15.0,  # Luton
    "871": 16.0,  # Slough
    "887": 13.0,  # Medway
    "886": 9.0,  # Kent
    "881": 8.0,  # Essex
    "919": 7.0,  # Hertfordshire
    "882": 12.0,  # Southend-on-Sea
    "826": 10.0,  # Milton Keynes
    "301": 14.0,  # Barking and Dagenham
    "308": 12.0,  # Enfield
    "311": 11.0,  # Havering
    "303": 9.0,  # Bexley
    "306": 10.0,  # Croydon
}

# AR(1) wobble: persistence and the size of the wobble of each synthetic variable.
_RHO = 0.8
_WOBBLE = {IDACI_SCORE: 0.004, SPEND_PER_CHILD: 0.03, UASC_PER_10K: 0.15, INFLOW_FAMILIES: 0.12}
_SYNTHETIC = tuple(_WOBBLE)
_SPEND_GROWTH, _UASC_GROWTH = 0.04, 0.05  # a year, from 2022


def _static_levels(seed: int, codes: list[str]) -> dict[str, np.ndarray]:
    """Each LA's (by old code) level of each synthetic variable, for 2022."""
    reference = load_reference()
    rng = _rng(seed, _STATIC)
    noise = rng.standard_normal((len(codes), 4))
    records = [reference.la(c) for c in codes]
    region = np.array(
        [
            (_INNER_LONDON_IDACI if r.new_la_code in INNER_LONDON_CODES else _OUTER_LONDON_IDACI)
            if r.region_code == LONDON_REGION_CODE
            else _REGION_IDACI.get(r.region_code, 0.16)
            for r in records
        ]
    )
    entity = np.array([_ENTITY_IDACI.get(r.new_la_code[:3], 0.0) for r in records])
    london = np.array([r.region_code == LONDON_REGION_CODE for r in records])
    rates = la_rates()["referral_child_rate"]
    referral = np.array([rates.get(c, np.nan) for c in codes], dtype=float)
    known = ~np.isnan(referral)
    z_referral = np.zeros(len(codes))
    z_referral[known] = (referral[known] - referral[known].mean()) / referral[known].std()
    idaci = np.clip(region + entity + 0.02 * z_referral + 0.025 * noise[:, 0], 0.06, 0.34)

    spend = 550.0 + 3_300.0 * idaci + np.where(london, 220.0, 0.0) + 110.0 * noise[:, 1]

    gateway = np.array([GATEWAY_LAS.get(c, np.nan) for c in codes])
    usual = 3.2 * np.where(london, 1.8, 1.0) * np.exp(0.55 * noise[:, 2])
    uasc = np.where(np.isnan(gateway), usual, gateway * np.exp(0.1 * noise[:, 2]))

    receiving = np.array([RECEIVING_LAS.get(c, np.nan) for c in codes])
    usual_inflow = 1.5 * np.exp(0.6 * noise[:, 3])
    inflow = np.where(np.isnan(receiving), usual_inflow, receiving * np.exp(0.1 * noise[:, 3]))
    return {IDACI_SCORE: idaci, SPEND_PER_CHILD: spend, UASC_PER_10K: uasc, INFLOW_FAMILIES: inflow}


def _wobble(seed: int, n: int, period: int) -> np.ndarray:
    """(LAs, synthetic variables) AR(1) states of ``period``: stationary sd 1, persistence
    :data:`_RHO`, each year drawn from its own stream."""
    state = _rng(seed, _YEAR, _FIRST_YEAR).standard_normal((n, len(_SYNTHETIC)))
    innovation = np.sqrt(1.0 - _RHO**2)
    for year in range(_FIRST_YEAR + 1, period + 1):
        step = _rng(seed, _YEAR, year).standard_normal((n, len(_SYNTHETIC)))
        state = _RHO * state + innovation * step
    return state


def _values(seed: int, period: int, codes: list[str]) -> dict[str, np.ndarray]:
    levels = _static_levels(seed, codes)
    wobble = _wobble(seed, len(codes), period)
    years = period - 2022
    scale = {_SYNTHETIC[i]: wobble[:, i] * _WOBBLE[_SYNTHETIC[i]] for i in range(len(_SYNTHETIC))}
    return {
        IDACI_SCORE: np.clip(levels[IDACI_SCORE] + scale[IDACI_SCORE], 0.05, 0.35),
        SPEND_PER_CHILD: np.clip(
            levels[SPEND_PER_CHILD]
            * (1.0 + _SPEND_GROWTH) ** years
            * np.exp(scale[SPEND_PER_CHILD]),
            600.0,
            2_500.0,
        ),
        UASC_PER_10K: np.clip(
            levels[UASC_PER_10K] * (1.0 + _UASC_GROWTH) ** years * np.exp(scale[UASC_PER_10K]),
            0.0,
            60.0,
        ),
        INFLOW_FAMILIES: np.clip(
            levels[INFLOW_FAMILIES] * np.exp(scale[INFLOW_FAMILIES]), 0.0, 40.0
        ),
    }


def _formatted(values: np.ndarray, decimals: int) -> list[str]:
    return [f"{v:.{decimals}f}" for v in values]


def context(seed: int, periods: Sequence[int]) -> pd.DataFrame:
    """Synthetic context rows in the EES wide layout of :mod:`schemas.context`, every cell text
    as written to the file: one ``Local authority`` row per LA valid in each reporting year
    (``periods``, e.g. ``[2024, 2025]``), ordered by period then old LA code.

    Deterministic for ``seed``; see the module docstring for the model.
    """
    reference = load_reference()
    codes = _all_codes(reference)
    index = {c: i for i, c in enumerate(codes)}
    frames = []
    for period in _check_periods(list(periods)):
        las = _las_for_period(period)
        rows = np.array([index[c] for c in las["old_la_code"]], dtype=np.int64)
        synthetic = _values(seed, period, codes)
        region_code = las["region_code"].to_numpy(dtype=object).copy()
        region_name = las["region_name"].to_numpy(dtype=object).copy()
        for i, code in enumerate(las["new_la_code"]):
            sub = reference.london_subregion(code)
            if sub is not None:  # DfE's files name London LAs' Inner or Outer London
                region_code[i] = "E13000001" if sub == "Inner London" else "E13000002"
                region_name[i] = sub
        population = [round(_population(reference, c, period)) for c in las["old_la_code"].tolist()]
        frame = pd.DataFrame(
            {
                "time_period": str(period),
                "time_identifier": TIME_IDENTIFIER,
                "geographic_level": LOCAL_AUTHORITY,
                "country_code": COUNTRY_CODE,
                "country_name": COUNTRY_NAME,
                "region_code": region_code,
                "region_name": region_name,
                "old_la_code": las["old_la_code"].to_numpy(),
                "new_la_code": las["new_la_code"].to_numpy(),
                "la_name": las["la_name"].to_numpy(),
                CHILD_POPULATION: [str(p) for p in population],
            }
        )
        for name, values in synthetic.items():
            frame[name] = _formatted(values[rows], CONTEXT_VARIABLES[name].decimals)
        frames.append(frame)
    columns = context_columns()
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns].astype("str")
