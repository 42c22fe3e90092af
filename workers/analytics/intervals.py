"""Confidence intervals, funnel-plot control limits and significance, the PHE/OHID way.

Issue 5 compares every LA with England and with its neighbour group "at 95 % and 99.8 %
(Spiegelhalter 2005; Wilson score intervals for proportions, Byar's method for rates with >= 10
events and exact Poisson below)". These are the methods of the Public Health England (now OHID)
Fingertips technical guidance ("Confidence intervals", "Funnel plots") and of its reference
implementation, the PHEindicatormethods R package (and its Python port PHStatsMethods), so that our
figures match the ones PHE publishes:

* **Proportions** (``value_kind == "percentage"``): the Wilson score interval (Wilson 1927;
  recommended by Newcombe 1998 and Newcombe & Altman 2000) -- PHE's ``wilson_lower/upper``::

      (2O + z^2 -/+ z * sqrt(z^2 + 4 O q)) / (2 (n + z^2)),   q = 1 - O/n

* **Rates** (``value_kind == "rate"``): Poisson limits for the count O, divided by the
  denominator and multiplied by the scale. For O >= :data:`MIN_BYAR_EVENTS` Byar's approximation
  (Breslow & Day 1987)::

      O_lower = O (1 - 1/(9 O) - z / (3 sqrt O))^3
      O_upper = (O + 1) (1 - 1/(9 (O + 1)) + z / (3 sqrt(O + 1)))^3

  and below it the exact chi-square limits (Armitage & Berry 2002; Garwood 1936)::

      O_lower = chi2_{alpha/2}(2 O) / 2,   O_upper = chi2_{1 - alpha/2}(2 O + 2) / 2

  computed here as gamma quantiles (chi2_p(2k) / 2 is the p quantile of Gamma(k)).

* **Significance against a comparator** (Fingertips' "compared with England" colours): an LA is
  significantly *higher* when the lower limit of its interval is above the comparator value,
  *lower* when the upper limit is below it, and *similar* otherwise.

* **Funnel plots** (Spiegelhalter 2005, "Funnel plots for comparing institutional performance",
  Stat Med 24:1185-1202): control limits around a target (England's or the group's value) as a
  function of the denominator, at 95 % (about 2 SD) and 99.8 % (about 3 SD).

  - Proportions use PHE's formula (``sigma_adjustment`` in PHEindicatormethods), which simplifies
    to the normal approximation to the binomial *at the target*, ``t +/- z sqrt(t (1 - t) / n)``,
    clipped to [0, scale]. We use it, rather than Spiegelhalter's exact binomial quantiles with
    interpolation, because (a) it reproduces PHE's published funnels exactly, (b) a value lies
    outside these limits exactly when its Wilson score interval excludes the target (the Wilson
    interval is the inversion of this very score test), so the funnel and the Wilson-interval
    significance can never disagree, and (c) it is closed-form, hence cheap to vectorise. Its
    known weakness -- small n with a target near 0 % or 100 % -- is the same as PHE's.
  - Rates use PHE's Poisson funnel (the Fingertips funnel plot tool for rates, and
    ``calculate_funnel_limits(statistic = "rate")``): at denominator N the expected count is
    mu = target x N / scale, and the lower (upper) limit is the count whose exact upper (lower)
    Poisson confidence limit equals mu, divided by N. This is the exact Poisson funnel with the
    continuous interpolation given by the gamma distribution, and a value lies outside it exactly
    when its exact Poisson interval excludes the target.

Everything is vectorised (numpy/scipy ufuncs over whole columns, no Python loops over rows):
inputs are scalars or array-likes (numpy arrays, pandas Series) that broadcast together, outputs
are numpy arrays. Where a figure cannot be computed (missing or suppressed inputs, a zero
denominator, a count above its denominator, a value kind without an interval) the result is NaN,
or "" for the labels.
"""

from __future__ import annotations

import functools
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.interpolate import CubicSpline

__all__ = [
    "ABOVE_95",
    "ABOVE_998",
    "BELOW_95",
    "BELOW_998",
    "BETTER",
    "HIGHER",
    "LEVELS",
    "LOWER",
    "MIN_BYAR_EVENTS",
    "NOT_COMPUTED",
    "NOT_JUDGED",
    "SIMILAR",
    "WITHIN",
    "WORSE",
    "byar_interval",
    "exact_poisson_interval",
    "funnel_limits",
    "funnel_significance",
    "judge",
    "rate_interval",
    "significance",
    "value_interval",
    "wilson_interval",
    "z_value",
]

FloatArray = NDArray[np.float64]
Interval = tuple[FloatArray, FloatArray]

LEVELS: Final[tuple[float, float]] = (0.95, 0.998)
"""The two confidence levels every comparison is made at, as in Fingertips and Spiegelhalter's
funnel plots: 95 % (about 2 standard deviations; 1 in 40 in-control LAs falls outside each side by
chance) and 99.8 % (about 3 standard deviations; 1 in 1000 each side). Two-sided: each tail holds
(1 - level) / 2."""

MIN_BYAR_EVENTS: Final[int] = 10
"""Rates use Byar's approximation for counts of at least this many events and the exact
(chi-square / gamma) Poisson limits below it, the PHE rule: Byar's method is within 0.2 % of the
exact limits from 10 events at 95 %, but inaccurate for fewer (its lower limit can even go
negative at 99.8 %)."""

# Significance against a comparator (the LA's interval versus a single value).
HIGHER: Final = "higher"
LOWER: Final = "lower"
SIMILAR: Final = "similar"
NOT_COMPUTED: Final = ""
"""The label wherever a comparison cannot be made (missing value, interval or comparator)."""

# Funnel-plot position (the value versus the control limits at its denominator).
ABOVE_998: Final = "above 99.8%"
ABOVE_95: Final = "above 95%"
WITHIN: Final = "within"
BELOW_95: Final = "below 95%"
BELOW_998: Final = "below 99.8%"

# Judgement by polarity.
BETTER: Final = "better"
WORSE: Final = "worse"
NOT_JUDGED: Final = "not judged"
"""For context-dependent indicators (seed 4.5.7): a difference is reported, never called good or
bad."""

_PERCENTAGE = "percentage"
_RATE = "rate"

_DIRECTIONS: Final[dict[str, str]] = {
    HIGHER: HIGHER,
    LOWER: LOWER,
    SIMILAR: SIMILAR,
    NOT_COMPUTED: NOT_COMPUTED,
    ABOVE_998: HIGHER,
    ABOVE_95: HIGHER,
    WITHIN: SIMILAR,
    BELOW_95: LOWER,
    BELOW_998: LOWER,
}
"""Every label :func:`judge` accepts, mapped to the direction it means."""

_POLARITIES: Final = ("higher_is_better", "lower_is_better", "context_dependent")

# Labels are computed as small integer codes into these tuples and turned into strings last
# (the pipeline builds its string columns from the codes, never from millions of objects).
_SIGNIFICANCE_LABELS: Final = (HIGHER, LOWER, SIMILAR, NOT_COMPUTED)
_JUDGEMENT_ROWS: Final = {label: code for code, label in enumerate(_SIGNIFICANCE_LABELS)}
_FUNNEL_LABELS: Final = (NOT_COMPUTED, WITHIN, ABOVE_95, BELOW_95, ABOVE_998, BELOW_998)
_FUNNEL_CODE: Final = {label: code for code, label in enumerate(_FUNNEL_LABELS)}
_JUDGEMENT_LABELS: Final = (BETTER, WORSE, NOT_JUDGED, SIMILAR, NOT_COMPUTED)
_B, _W, _N, _S, _X = range(len(_JUDGEMENT_LABELS))
_JUDGEMENT_CODES: Final = np.array(
    [
        # higher_is_better, lower_is_better, context_dependent
        [_B, _W, _N],  # higher
        [_W, _B, _N],  # lower
        [_S, _S, _S],  # similar
        [_X, _X, _X],  # no direction
    ],
    dtype=np.int8,
)
_JUDGEMENTS: Final = np.array(_JUDGEMENT_LABELS, dtype=object)[_JUDGEMENT_CODES]
"""The judgement of each direction (row) under each polarity (column, in _POLARITIES order)."""

_SHAPE_GRID: Final = (1e-6, 1e9, 6000)
"""Rate funnel limits (see :func:`_poisson_shape`): the exact inverse is tabulated at this many
expected counts, evenly spaced in log between these bounds, and interpolated by a cubic spline
(relative error below 1e-10, checked against the exact solver at both levels and both sides;
PHE's own bisection stops near 1e-7). Expected counts outside the grid are solved exactly."""


# --------------------------------------------------------------------------------------------
# Helpers


def z_value(level: float) -> float:
    """The two-sided standard normal quantile for a confidence level: 1.959964 at 95 %,
    3.090232 at 99.8 % (PHE's ``qnorm(level + (1 - level) / 2)``)."""
    _check_level(level)
    return float(special.ndtri(0.5 + level / 2))


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be strictly between 0 and 1, got {level!r}")


def _floats(*values: ArrayLike) -> list[FloatArray]:
    """The arguments as float arrays broadcast to one shape (copies, safe to write to).

    pandas objects are taken positionally (no index alignment); their missing values (None,
    pd.NA in nullable dtypes) become NaN.
    """
    arrays = [_as_float(v) for v in values]
    return [np.array(a, dtype=float) for a in np.broadcast_arrays(*arrays)]


def _as_float(value: ArrayLike) -> FloatArray:
    if isinstance(value, pd.Series | pd.Index):
        return value.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(value, dtype=float)


def _kinds(value_kind: ArrayLike, shape: tuple[int, ...]) -> tuple[NDArray, NDArray]:
    """Boolean masks (percentage, rate) for a scalar or per-element value kind.

    Missing kinds (None, pd.NA) are neither.
    """
    if isinstance(value_kind, pd.Series) and isinstance(value_kind.dtype, pd.CategoricalDtype):
        value_kind = value_kind.array
    if isinstance(value_kind, pd.Categorical):
        # Already factorised: match the few categories, then index by code (-1, missing, last).
        categories = np.asarray(value_kind.categories, dtype=object)
        return tuple(  # type: ignore[return-value]
            np.broadcast_to(np.append(categories == wanted, False)[value_kind.codes], shape)
            for wanted in (_PERCENTAGE, _RATE)
        )
    kind = np.asarray(value_kind, dtype=object)
    codes, uniques = pd.factorize(kind.ravel())
    masks = []
    for wanted in (_PERCENTAGE, _RATE):
        matches = np.flatnonzero(np.asarray(uniques, dtype=object) == wanted)
        mask = np.isin(codes, matches).reshape(kind.shape)
        masks.append(np.broadcast_to(mask, shape))
    return masks[0], masks[1]


def _broadcast_shape(*values: ArrayLike) -> tuple[int, ...]:
    return np.broadcast_shapes(*(np.shape(v) for v in values))


def _as_labels(labels: tuple[str, ...], codes: NDArray) -> NDArray:
    """The object array ``labels[codes]``, in the codes' shape (0-d included)."""
    return np.array(labels, dtype=object)[codes.ravel()].reshape(codes.shape)


# --------------------------------------------------------------------------------------------
# Confidence intervals


def wilson_interval(k: ArrayLike, n: ArrayLike, level: float = 0.95) -> Interval:
    """Wilson score interval for the proportion k/n, as proportions in [0, 1].

    NaN where n is missing or not positive, or k is missing, negative or above n.
    """
    z = z_value(level)
    k, n = _floats(k, n)
    valid = (n > 0) & (k >= 0) & (k <= n)
    k = np.where(valid, k, np.nan)
    n = np.where(valid, n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = 2 * k + z * z
        spread = z * np.sqrt(z * z + 4 * k * (1 - k / n))
        denominator = 2 * (n + z * z)
        lower = (centre - spread) / denominator
        upper = (centre + spread) / denominator
    # At k = 0 (k = n) the lower (upper) limit is exactly 0 (1) in exact arithmetic; rounding can
    # leave it a few ulps outside [0, 1].
    return np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def byar_interval(events: ArrayLike, level: float = 0.95) -> Interval:
    """Byar's approximate Poisson confidence limits for an observed count (as counts).

    Meant for counts of at least :data:`MIN_BYAR_EVENTS` (see :func:`rate_interval`); for
    smaller counts the formula is computed anyway, with a negative lower limit clipped to 0 and
    the lower limit of 0 events set to 0. NaN for missing or negative counts.
    """
    z = z_value(level)
    (o,) = _floats(events)
    o = np.where(o >= 0, o, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
        upper = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    lower = np.where(o == 0, 0.0, np.maximum(lower, 0.0))
    return np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)


def exact_poisson_interval(events: ArrayLike, level: float = 0.95) -> Interval:
    """Exact (Garwood) Poisson confidence limits for an observed count (as counts).

    ``chi2_{alpha/2}(2 O) / 2`` and ``chi2_{1 - alpha/2}(2 O + 2) / 2``, i.e. gamma quantiles;
    the lower limit of 0 events is 0. NaN for missing or negative counts. Non-integer counts are
    accepted (the gamma distribution interpolates).
    """
    _check_level(level)
    tail = (1 - level) / 2
    (o,) = _floats(events)
    lower = np.full(o.shape, np.nan)
    upper = np.full(o.shape, np.nan)
    valid = o >= 0
    positive = o > 0
    lower[valid & ~positive] = 0.0
    lower[positive] = special.gammaincinv(o[positive], tail)
    upper[valid] = special.gammaincinv(o[valid] + 1, 1 - tail)
    return lower, upper


def rate_interval(
    events: ArrayLike, denominator: ArrayLike, scale: ArrayLike, level: float = 0.95
) -> Interval:
    """Confidence interval of the rate ``events / denominator x scale``, PHE's ``phe_rate``.

    Per element: Byar's method from :data:`MIN_BYAR_EVENTS` events, exact Poisson below. NaN
    where the count is missing or negative or the denominator missing or not positive.
    """
    _check_level(level)
    o, d, s = _floats(events, denominator, scale)
    valid = (o >= 0) & (d > 0)
    byar = valid & (o >= MIN_BYAR_EVENTS)
    exact = valid & ~byar
    lower = np.full(o.shape, np.nan)
    upper = np.full(o.shape, np.nan)
    lower[byar], upper[byar] = byar_interval(o[byar], level)
    lower[exact], upper[exact] = exact_poisson_interval(o[exact], level)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = s / d
    return lower * per, upper * per


def value_interval(
    numerator: ArrayLike,
    denominator: ArrayLike,
    value_kind: ArrayLike,
    value_scale: ArrayLike,
    level: float = 0.95,
) -> Interval:
    """The confidence interval of an indicator value, in the value's own units.

    ``value_kind`` (scalar or per element, the catalogue's measure-type ``value_kind``):
    "percentage" -> Wilson x ``value_scale`` (100 for a percentage); "rate" -> :func:`rate_interval`
    per ``value_scale`` (e.g. per 10,000 children); "number" and "yes_no" -> NaN (a mean or a fact
    has no count-based interval here).
    """
    _check_level(level)
    k, n, scale = _floats(numerator, denominator, value_scale)
    is_percentage, is_rate = _kinds(value_kind, k.shape)
    lower = np.full(k.shape, np.nan)
    upper = np.full(k.shape, np.nan)
    p_low, p_high = wilson_interval(k[is_percentage], n[is_percentage], level)
    lower[is_percentage] = p_low * scale[is_percentage]
    upper[is_percentage] = p_high * scale[is_percentage]
    lower[is_rate], upper[is_rate] = rate_interval(k[is_rate], n[is_rate], scale[is_rate], level)
    return lower, upper


# --------------------------------------------------------------------------------------------
# Funnel plots


def funnel_limits(
    target: ArrayLike,
    denominator: ArrayLike,
    value_kind: ArrayLike,
    value_scale: ArrayLike,
    level: float = 0.95,
) -> Interval:
    """Funnel-plot control limits (lower, upper) around ``target`` at each ``denominator``.

    ``target`` is in the value's units (a percentage, or a rate per ``value_scale``), as are the
    limits. Proportions: ``t +/- z sqrt(t (1 - t) / n)`` clipped to [0, scale] (PHE's method; see
    the module docstring for why it is preferred to exact binomial limits). Rates: PHE's exact
    Poisson funnel, the counts whose exact confidence limits equal the expected count
    ``target x denominator / scale``. NaN where the target or denominator is missing, the
    denominator is not positive, the target is outside its range, or the kind has no funnel.
    """
    _check_level(level)
    target, n, scale = _floats(target, denominator, value_scale)
    is_percentage, is_rate = _kinds(value_kind, target.shape)
    lower = np.full(target.shape, np.nan)
    upper = np.full(target.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = target / scale

    pct = is_percentage & (n > 0) & (t >= 0) & (t <= 1)
    sd = np.sqrt(t[pct] * (1 - t[pct]) / n[pct])
    z = z_value(level)
    lower[pct] = np.clip(t[pct] - z * sd, 0.0, 1.0) * scale[pct]
    upper[pct] = np.clip(t[pct] + z * sd, 0.0, 1.0) * scale[pct]

    rate = is_rate & (n > 0) & (t >= 0) & (scale > 0)
    mu = t[rate] * n[rate]
    tail = (1 - level) / 2
    # Lower limit: the count x whose exact upper limit Gamma_{1-tail}(x + 1) is mu; 0 where even
    # 0 events are not significantly low, i.e. mu <= -ln(tail), the exact upper limit of 0.
    # Upper limit: the count x whose exact lower limit Gamma_{tail}(x) is mu. (x + 1 and x are
    # gamma shapes.)
    low_count = np.zeros(mu.shape)
    reaches = mu > -np.log(tail)
    low_count[reaches] = np.maximum(_poisson_shape(mu[reaches], 1 - tail) - 1, 0.0)
    high_count = _poisson_shape(mu, tail)
    lower[rate] = low_count / n[rate] * scale[rate]
    upper[rate] = high_count / n[rate] * scale[rate]
    return lower, upper


def _poisson_shape(mu: FloatArray, p: float) -> FloatArray:
    """The gamma shape a with P(Gamma(a, 1) <= mu) = p, elementwise (0 where mu is 0).

    scipy's ``gdtrib`` solves this exactly but costs ~2 microseconds an element, too slow for
    millions of rows, so it is tabulated once per p (:func:`_shape_spline`) and interpolated;
    it is called directly only for expected counts outside the table.
    """
    low, high, _ = _SHAPE_GRID
    out = np.zeros(mu.shape)
    inside = (mu >= low) & (mu <= high)
    out[inside] = np.exp(_shape_spline(p)(np.log(mu[inside])))
    outside = (mu > 0) & ~inside
    out[outside] = special.gdtrib(1.0, p, mu[outside])
    return out


@functools.lru_cache(maxsize=16)
def _shape_spline(p: float) -> CubicSpline:
    """log(shape) as a cubic spline in log(mu): smooth, so the spline is accurate to ~1e-11."""
    low, high, points = _SHAPE_GRID
    log_mu = np.linspace(np.log(low), np.log(high), points)
    return CubicSpline(log_mu, np.log(special.gdtrib(1.0, p, np.exp(log_mu))))


def funnel_significance(
    value: ArrayLike,
    denominator: ArrayLike,
    target: ArrayLike,
    value_kind: ArrayLike,
    value_scale: ArrayLike,
) -> NDArray:
    """Where each value lies on the funnel around ``target``: "above 99.8%", "above 95%",
    "within", "below 95%", "below 99.8%", or "" when not computable.

    Identical to comparing ``value`` with :func:`funnel_limits` at :data:`LEVELS` (strictly
    outside is outside, as in PHE's ``assign_funnel_significance``), but computed from tail
    probabilities so that no limit has to be solved for: a proportion's score
    ``(p - t) / sqrt(t (1 - t) / n)``; a rate's Poisson tails ``P(X <= x)``, ``P(X >= x)`` for
    x = value x denominator / scale events expected mu = target x denominator / scale.

    For proportions this is exactly PHE's ``assign_funnel_significance``. For rates PHE's function
    compares the area's Byar (>= 10 events) or exact interval with the average rather than the
    plotted exact limits; we use the plotted limits, so a label always agrees with where the
    point sits on the chart. The two differ only within Byar's approximation error (under 0.2 %
    of the limit at 95 %), i.e. for values on the edge of a limit.
    """
    codes = _funnel_codes(value, denominator, target, value_kind, value_scale)
    return _as_labels(_FUNNEL_LABELS, codes)


def _funnel_codes(
    value: ArrayLike,
    denominator: ArrayLike,
    target: ArrayLike,
    value_kind: ArrayLike,
    value_scale: ArrayLike,
) -> NDArray[np.int8]:
    """:func:`funnel_significance` as codes into :data:`_FUNNEL_LABELS`."""
    v, n, target, scale = _floats(value, denominator, target, value_scale)
    is_percentage, is_rate = _kinds(value_kind, v.shape)
    out = np.full(v.shape, _FUNNEL_CODE[NOT_COMPUTED], dtype=np.int8)
    ok = np.isfinite(v) & np.isfinite(target) & (n > 0) & (scale > 0) & (v >= 0) & (target >= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, t = v / scale, target / scale
    (narrow, wide) = sorted(LEVELS)
    above = {}
    below = {}

    pct = ok & is_percentage & (p <= 1) & (t <= 1)
    sd = np.sqrt(t[pct] * (1 - t[pct]) / n[pct])
    diff = p[pct] - t[pct]
    for level in LEVELS:
        # Compare the difference with z * sd rather than dividing by sd, which is 0 at a target
        # of 0 % or 100 % (where any other value is outside).
        edge = z_value(level) * sd
        above[level] = _scatter(pct, diff > edge)
        below[level] = _scatter(pct, diff < -edge)

    rate = ok & is_rate
    x = p[rate] * n[rate]
    mu = t[rate] * n[rate]
    # P(X <= x | mu) = Q(x + 1, mu) and P(X >= x | mu) = P(x, mu) (regularised incomplete
    # gammas); at x = 0 the upper tail is 1 (nothing is below 0 events).
    low_tail = special.gammaincc(x + 1, mu)
    high_tail = np.ones(x.shape)
    positive = x > 0
    high_tail[positive] = special.gammainc(x[positive], mu[positive])
    for level in LEVELS:
        tail = (1 - level) / 2
        above[level] |= _scatter(rate, high_tail < tail)
        below[level] |= _scatter(rate, low_tail < tail)

    judged = pct | rate
    out[judged] = _FUNNEL_CODE[WITHIN]
    out[above[narrow]] = _FUNNEL_CODE[ABOVE_95]
    out[below[narrow]] = _FUNNEL_CODE[BELOW_95]
    out[above[wide]] = _FUNNEL_CODE[ABOVE_998]
    out[below[wide]] = _FUNNEL_CODE[BELOW_998]
    return out


def _scatter(mask: NDArray, values: NDArray) -> NDArray:
    """A full-shape boolean array: ``values`` at ``mask``, False elsewhere."""
    out = np.zeros(mask.shape, dtype=bool)
    out[mask] = values
    return out


# --------------------------------------------------------------------------------------------
# Significance and judgement


def significance(
    value: ArrayLike, lower: ArrayLike, upper: ArrayLike, comparator: ArrayLike
) -> NDArray:
    """The LA's value against a comparator, judged by the LA's confidence interval.

    "higher" where the lower limit is above the comparator, "lower" where the upper limit is
    below it, "similar" otherwise (Fingertips' rule: touching counts as similar), and "" where
    the value, either limit or the comparator is missing.
    """
    return _as_labels(_SIGNIFICANCE_LABELS, _significance_codes(value, lower, upper, comparator))


def _significance_codes(
    value: ArrayLike, lower: ArrayLike, upper: ArrayLike, comparator: ArrayLike
) -> NDArray[np.int8]:
    """:func:`significance` as codes into :data:`_SIGNIFICANCE_LABELS` (which are the rows of
    :data:`_JUDGEMENT_CODES`)."""
    v, lo, hi, c = _floats(value, lower, upper, comparator)
    out = np.full(v.shape, _JUDGEMENT_ROWS[NOT_COMPUTED], dtype=np.int8)
    ok = np.isfinite(v) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(c)
    out[ok] = _JUDGEMENT_ROWS[SIMILAR]
    out[ok & (lo > c)] = _JUDGEMENT_ROWS[HIGHER]
    out[ok & (hi < c)] = _JUDGEMENT_ROWS[LOWER]
    return out


def judge(direction: ArrayLike, polarity: ArrayLike) -> NDArray:
    """Turn a direction into a judgement by the indicator's polarity.

    ``direction``: "higher"/"lower"/"similar"/"" from :func:`significance`, or a funnel label from
    :func:`funnel_significance` ("above ..." means higher, "within" similar, "below ..." lower).
    ``polarity``: "higher_is_better", "lower_is_better" or "context_dependent" (scalar or per
    element; the catalogue's Polarity members work too). Result: "better", "worse", "similar",
    "not judged" (a difference on a context-dependent indicator) or "" (no direction). Unknown
    or missing labels raise ValueError.
    """
    shape = _broadcast_shape(direction, polarity)
    # Factorise, judge the few distinct labels, then index: one hash pass over each column.
    row = _label_codes(
        direction,
        [_JUDGEMENT_ROWS[meaning] for meaning in _DIRECTIONS.values()],
        list(_DIRECTIONS),
        "direction",
    )
    column = _label_codes(polarity, list(range(len(_POLARITIES))), list(_POLARITIES), "polarity")
    row, column = np.broadcast_arrays(row, column)
    return np.asarray(_JUDGEMENTS[row, column], dtype=object).reshape(shape)


def _label_codes(
    labels: ArrayLike, codes: list[int], vocabulary: list[str], what: str
) -> NDArray[np.intp]:
    """Each label's code (``codes[i]`` for ``vocabulary[i]``), in the labels' own shape."""
    flat = np.asarray(labels, dtype=object)
    found, uniques = pd.factorize(flat.ravel())
    unknown = [str(u) for u in uniques if u not in vocabulary]
    if unknown or (found < 0).any():
        raise ValueError(f"unknown {what} label(s): {sorted(unknown) or ['<missing>']}")
    lookup = np.array([codes[vocabulary.index(u)] for u in uniques], dtype=np.intp)
    return lookup[found].reshape(flat.shape)
