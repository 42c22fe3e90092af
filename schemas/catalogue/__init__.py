"""The indicator catalogue: every indicator of the outcomes framework as validated data.

The catalogue is the single source of truth for what an upload may contain. It lives as YAML
beside this module (``catalogue.yaml`` for the shared vocabularies, ``table2.yaml`` …
``table5.yaml`` for the indicators of each table of La Valle et al., 2019) and is validated with
pydantic when it is loaded, so a malformed catalogue fails at start-up rather than at the first
upload that touches it.
The format is documented in ``docs/catalogue.md``.
"""

from __future__ import annotations

import enum
from functools import cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

__all__ = [
    "BreakdownDimension",
    "Catalogue",
    "CatalogueError",
    "Domain",
    "Indicator",
    "MeasureType",
    "Outcome",
    "Polarity",
    "load_catalogue",
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

TOTAL = "Total"


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (raised at load time)."""


class Polarity(enum.StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"
    # Seed 4.5.7: some indicators legitimately move "the wrong way" during improvement (more CP
    # plans as assessment improves, temporary staff turnover), so no direction is "good".
    CONTEXT_DEPENDENT = "context_dependent"


class ReferencePeriod(enum.StrEnum):
    PAST_YEAR = "past_year"
    PREVIOUS_6_MONTHS = "previous_6_months"
    CHANGE_VS_PREVIOUS_6_MONTHS = "change_vs_previous_6_months"
    POINT_IN_TIME = "point_in_time"


class SourceType(enum.StrEnum):
    """The four types of data of figure 4 of the seed."""

    ORGANISATION_WORKFORCE = "organisation_workforce"
    SNAPSHOT = "snapshot"
    USERS_VIEWS = "users_views"
    LONGITUDINAL = "longitudinal"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeasureType(_Model):
    """How an indicator is measured, and so which measure columns an upload row must carry."""

    id: Identifier
    label: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    # Columns holding counts of children/staff/respondents: non-negative integers.
    counts: tuple[str, ...] = ()
    # What the ``value`` column holds. For derived values (percentage, rate) the value, if
    # supplied, must agree with value_numerator / value_denominator x value_scale.
    value_kind: Literal["percentage", "rate", "number", "yes_no"]
    value_numerator: str | None = None
    value_denominator: str | None = None
    value_scale: int = 100
    # Whether a negative value is meaningful (a mean score change can fall).
    value_may_be_negative: bool = False


class BreakdownDimension(_Model):
    id: Identifier
    label: str
    values: tuple[str, ...]
    # True for dimensions whose categories partition the cohort, so categories must sum to Total.
    additive: bool = True

    @model_validator(mode="after")
    def _no_total_value(self) -> BreakdownDimension:
        if TOTAL in self.values:
            raise ValueError(f"breakdown {self.id}: 'Total' is implicit, do not list it")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"breakdown {self.id}: duplicate values")
        return self


class Domain(_Model):
    id: Identifier
    table: int
    name: str
    description: str


class Outcome(_Model):
    domain: Identifier
    number: int
    name: str
    note: str | None = None


class Indicator(_Model):
    id: Identifier
    domain: Identifier
    table: int
    outcome: int
    text: str = Field(min_length=10)
    measure_type: Identifier
    unit: str
    decimals: int = Field(ge=0, le=4)
    polarity: Polarity
    polarity_note: str | None = None
    cohort: str
    reference_period: ReferencePeriod
    source_type: SourceType
    # Where the indicator exists in national data today (e.g. "CIN census"); empty when new.
    national_sources: tuple[str, ...] = ()
    breakdowns: tuple[Identifier, ...] = ()
    # Breakdowns every return must include (e.g. the change categories of a distribution).
    required_breakdowns: tuple[Identifier, ...] = ()
    triangulation: tuple[Identifier, ...] = ()
    note: str | None = None

    @property
    def is_new(self) -> bool:
        return not self.national_sources


class _CatalogueFile(_Model):
    version: str
    domains: tuple[Domain, ...]
    outcomes: tuple[Outcome, ...]
    measure_types: tuple[MeasureType, ...]
    breakdowns: tuple[BreakdownDimension, ...]
    national_sources: tuple[str, ...]


class _TableFile(_Model):
    table: int
    domain: Identifier
    # Indicators take their table and domain from the file they are in.
    indicators: tuple[dict[str, object], ...]


class Catalogue(_Model):
    version: str
    domains: dict[str, Domain]
    outcomes: tuple[Outcome, ...]
    measure_types: dict[str, MeasureType]
    breakdowns: dict[str, BreakdownDimension]
    national_sources: tuple[str, ...]
    indicators: dict[str, Indicator]

    @model_validator(mode="after")
    def _cross_references(self) -> Catalogue:
        problems: list[str] = []
        outcome_keys = {(o.domain, o.number) for o in self.outcomes}
        for ind in self.indicators.values():
            where = f"indicator {ind.id}"
            domain = self.domains.get(ind.domain)
            if domain is None:
                problems.append(f"{where}: unknown domain {ind.domain!r}")
            elif domain.table != ind.table:
                problems.append(f"{where}: table {ind.table} but domain is table {domain.table}")
            if (ind.domain, ind.outcome) not in outcome_keys:
                problems.append(f"{where}: unknown outcome {ind.outcome} in {ind.domain}")
            if ind.measure_type not in self.measure_types:
                problems.append(f"{where}: unknown measure type {ind.measure_type!r}")
            for b in (*ind.breakdowns, *ind.required_breakdowns):
                if b not in self.breakdowns:
                    problems.append(f"{where}: unknown breakdown {b!r}")
            if not set(ind.required_breakdowns) <= set(ind.breakdowns):
                problems.append(f"{where}: required_breakdowns must also be in breakdowns")
            for t in ind.triangulation:
                if t not in self.indicators:
                    problems.append(f"{where}: triangulation link to unknown indicator {t!r}")
                elif t == ind.id:
                    problems.append(f"{where}: triangulation link to itself")
            for s in ind.national_sources:
                if s not in self.national_sources:
                    problems.append(f"{where}: unknown national source {s!r}")
        if problems:
            raise CatalogueError("invalid catalogue:\n  " + "\n  ".join(problems))
        return self

    def outcome(self, domain: str, number: int) -> Outcome:
        for o in self.outcomes:
            if o.domain == domain and o.number == number:
                return o
        raise KeyError((domain, number))

    def by_table(self, table: int) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.table == table]

    def by_domain(self, domain: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.domain == domain]

    def triangulation_group(self, indicator_id: str) -> list[str]:
        """Indicators to read together with ``indicator_id`` (links are symmetric)."""
        linked = set(self.indicators[indicator_id].triangulation)
        linked |= {i.id for i in self.indicators.values() if indicator_id in i.triangulation}
        return sorted(linked)


TABLE_FILES = ("table2.yaml", "table3.yaml", "table4.yaml", "table5.yaml")


def _read_yaml(name: str) -> object:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _errors(exc: ValidationError) -> str:
    """The messages of a pydantic error, without the (large) input values it would repeat."""
    parts = []
    for e in exc.errors():
        # Our own validators raise ValueError; pydantic prefixes "Value error, " to its message.
        msg = str(e["ctx"]["error"]) if e["type"] == "value_error" and "ctx" in e else e["msg"]
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


@cache
def load_catalogue() -> Catalogue:
    """Load and validate the packaged catalogue (cached: it is immutable data).

    Raises CatalogueError for any problem in the data. (Pydantic turns errors raised inside
    validators into ValidationError, so they are converted back here.)
    """
    try:
        meta = _CatalogueFile.model_validate(_read_yaml("catalogue.yaml"))
    except ValidationError as exc:
        raise CatalogueError(f"catalogue.yaml: {_errors(exc)}") from exc
    indicators: dict[str, Indicator] = {}
    for name in TABLE_FILES:
        try:
            table = _TableFile.model_validate(_read_yaml(name))
        except ValidationError as exc:
            raise CatalogueError(f"{name}: {_errors(exc)}") from exc
        for raw in table.indicators:
            try:
                ind = Indicator.model_validate(
                    {**raw, "table": table.table, "domain": table.domain}
                )
            except ValidationError as exc:
                raise CatalogueError(
                    f"{name}: indicator {raw.get('id')!r}: {_errors(exc)}"
                ) from exc
            if ind.id in indicators:
                raise CatalogueError(f"{name}: duplicate indicator id {ind.id}")
            indicators[ind.id] = ind
    try:
        return Catalogue(
            version=meta.version,
            domains={d.id: d for d in meta.domains},
            outcomes=meta.outcomes,
            measure_types={m.id: m for m in meta.measure_types},
            breakdowns={b.id: b for b in meta.breakdowns},
            national_sources=meta.national_sources,
            indicators=indicators,
        )
    except ValidationError as exc:
        raise CatalogueError(_errors(exc)) from exc
