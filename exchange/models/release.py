"""Releases: protected tables that leave the LAs' own views, and the privacy-loss ledger.

* :class:`Release` — one immutable, numbered release version of a channel and period
  ("national 2025, release 3"). Its protected table (counts and values with their EES
  symbols, and for differentially private releases the noisy values drawn once at build) is
  stored as one encrypted file (``stored_file``), never recomputed: re-viewing or
  re-downloading a release reads the same bytes, so nobody can average fresh noise away. A
  newer build of the same channel and period supersedes it; both stay for the record.
* :class:`ReleasePolicySetting` — the release policy an administrator chose for a channel.
* :class:`PrivacyLedgerEntry` — what a differentially private release spent of an LA's
  privacy-loss budget, per indicator and period (the unit of privacy is one child in one LA's
  return, so each LA is charged separately).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .organisation import Organisation
from .stored_file import StoredFile

__all__ = ["PrivacyLedgerEntry", "Release", "ReleasePolicySetting", "ReleaseStatus"]


class ReleaseStatus(enum.StrEnum):
    CURRENT = "current"  # the newest release of its channel and period
    SUPERSEDED = "superseded"  # a newer build replaced it; kept for the record


class Release(Base):
    __tablename__ = "release"
    __table_args__ = (UniqueConstraint("channel", "time_period", "time_identifier", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))  # "national"
    time_period: Mapped[str] = mapped_column(String(16))
    time_identifier: Mapped[str] = mapped_column(String(64))
    number: Mapped[int]
    status: Mapped[ReleaseStatus] = mapped_column(
        Enum(ReleaseStatus, native_enum=False, length=16, validate_strings=True)
    )
    policy: Mapped[str] = mapped_column(String(64))  # a name of privacy.release.POLICIES
    mechanism: Mapped[str] = mapped_column(String(16))  # sdc | dp | dp+sdc
    catalogue_version: Mapped[str] = mapped_column(String(32))
    # The protected table (Parquet), encrypted at rest.
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    # Submission versions the release was built from: {organisation code: version id}.
    sources: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Counts only (cells, suppressed, rounded, audited, LAs, indicators): never a cell value.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    footnotes: Mapped[list[str]] = mapped_column(JSON, default=list)
    built_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    built_by_label: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    file: Mapped[StoredFile] = relationship()

    @property
    def period_label(self) -> str:
        return f"{self.time_identifier} {self.time_period}"

    @property
    def label(self) -> str:
        return f"{self.channel} {self.time_period} release {self.number}"


class ReleasePolicySetting(Base):
    """The policy used by ``exchange release build`` for a channel when none is named."""

    __tablename__ = "release_policy_setting"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    policy: Mapped[str] = mapped_column(String(64))
    updated_by_label: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PrivacyLedgerEntry(Base):
    __tablename__ = "privacy_ledger_entry"
    __table_args__ = (
        UniqueConstraint("release_id", "organisation_id", "indicator_id"),
        Index("ix_privacy_ledger_org_period", "organisation_id", "time_period", "time_identifier"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("release.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    indicator_id: Mapped[str] = mapped_column(String(64))
    time_period: Mapped[str] = mapped_column(String(16))
    time_identifier: Mapped[str] = mapped_column(String(64))
    # Pure-DP epsilon (or zCDP rho, per ``measure``) charged to this LA by the release.
    epsilon: Mapped[float] = mapped_column(Float)
    measure: Mapped[str] = mapped_column(String(16), default="epsilon")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()
