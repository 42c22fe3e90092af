"""Organisations: every LA (from reference data, boundary history included), alliances of LAs,
the national analysts organisation and the platform administrators."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow


class OrganisationKind(enum.StrEnum):
    LOCAL_AUTHORITY = "local_authority"
    ALLIANCE = "alliance"
    NATIONAL = "national"  # DfE-style analysts
    PLATFORM = "platform"  # the exchange's administrators


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(
        Enum(OrganisationKind, native_enum=False, length=32, validate_strings=True), index=True
    )
    # Stable public code: the LA's 3-digit old code, "alliance-<slug>", "national", "platform".
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    # For LAs: the GSS code the LA uses now, and its region.
    new_la_code: Mapped[str | None] = mapped_column(String(9), index=True)
    region_code: Mapped[str | None] = mapped_column(String(9))
    # Regional alliances are made from the regions; custom ones by administrators.
    is_regional: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # For LAs: the privacy-loss budget (epsilon per indicator and period) differentially private
    # releases may spend; NULL means the configured default (EXCHANGE_DP_BUDGET).
    privacy_budget: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[AllianceMembership]] = relationship(
        foreign_keys="AllianceMembership.alliance_id", back_populates="alliance", lazy="selectin"
    )

    @property
    def is_la(self) -> bool:
        return self.kind is OrganisationKind.LOCAL_AUTHORITY


class AllianceMembership(Base):
    """An LA's membership of an alliance."""

    __tablename__ = "alliance_membership"
    __table_args__ = (UniqueConstraint("alliance_id", "la_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    la_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alliance: Mapped[Organisation] = relationship(
        foreign_keys=[alliance_id], back_populates="memberships"
    )
    la: Mapped[Organisation] = relationship(foreign_keys=[la_id])
