"""Reference data in the database: the LA boundary history, regions, statistical neighbours and
child population, copied from the packaged ``schemas.reference`` tables.

``schemas.reference`` stays the source of truth (it validates the published files); these tables
exist so that queries can join on them. They are replaced wholesale by
``exchange.actions.reference.load_reference_data`` and never edited row by row.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ReferenceRegion(Base):
    """An English region (E12), or the ONS Inner/Outer London areas (E13) with London as parent."""

    __tablename__ = "ref_region"

    region_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    region_name: Mapped[str] = mapped_column(String(100))
    parent_region_code: Mapped[str | None] = mapped_column(String(9))


class ReferenceLocalAuthority(Base):
    """One GSS code of an LA from the boundary history, live or terminated.

    An old 3-digit code can have several GSS codes over time (Barnsley 370: E08000016 until
    2025-04-30, then E08000038). Five county codes that ended in 2009 have no old code.
    """

    __tablename__ = "ref_local_authority"

    new_la_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    old_la_code: Mapped[str | None] = mapped_column(String(3), index=True)
    la_name: Mapped[str] = mapped_column(String(255))
    region_code: Mapped[str] = mapped_column(ForeignKey("ref_region.region_code"), index=True)
    entity_code: Mapped[str] = mapped_column(String(3))
    entity_description: Mapped[str] = mapped_column(String(100))
    date_of_operation: Mapped[date]
    date_of_termination: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16))  # "live" or "terminated"


class StatisticalNeighbour(Base):
    """One ranked neighbour of an LA in DfE's 2021 or 2025 list (both keyed by old codes)."""

    __tablename__ = "ref_statistical_neighbour"

    edition: Mapped[int] = mapped_column(primary_key=True)
    la_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    neighbour_code: Mapped[str] = mapped_column(String(3))
    closeness: Mapped[str] = mapped_column(String(32))


class ChildPopulation(Base):
    """ONS mid-year estimate of children aged 0-17 for England, a region or an LA in a year.

    ``population`` is None where the figure is published as "x" (an area that did not exist in
    that form). LAs are identified by ``old_la_code`` as well as their GSS ``area_code``.
    """

    __tablename__ = "ref_child_population"

    year: Mapped[int] = mapped_column(primary_key=True)
    area_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    geographic_level: Mapped[str] = mapped_column(String(32))
    area_name: Mapped[str] = mapped_column(String(255))
    old_la_code: Mapped[str | None] = mapped_column(String(3), index=True)
    region_code: Mapped[str | None] = mapped_column(String(9))
    population: Mapped[int | None]
