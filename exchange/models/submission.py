"""Submissions: an LA's uploads awaiting acceptance, its accepted versions and their values.

* :class:`PendingUpload` — a file that passed validation and waits for its submitter to accept
  (or discard) it. Its raw bytes are already stored encrypted (``stored_file``).
* :class:`Submission` — one per organisation and period; it holds the versions.
* :class:`SubmissionVersion` — one accepted file. Never overwritten and never deleted: a
  correction adds the next version (the previous current one becomes superseded) and a withdrawal
  is a recorded state, so every version and its values stay for the history.
* :class:`IndicatorValue` — the version's rows, normalised for querying.

How cells are stored (documented in docs/upload-format.md's terms):

* counts (``numerator``, ``denominator``, ``respondents``, ``n``) as integers and ``value``/``sd``
  as floats; a blank cell is NULL;
* a cell given as an EES symbol (``c``, ``x``, ``z``, ``u``, ``low``) is NULL in its column and
  named in ``symbols`` as ``{column: symbol}`` (``symbols`` is NULL when the row has none), so a
  suppressed figure is never confused with a missing one;
* a yes/no indicator's ``value`` is 1.0 for yes and 0.0 for no (its measure type in the catalogue
  says how to read it); ``symbols`` holds only EES symbols.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .organisation import Organisation
from .user import User

__all__ = [
    "IndicatorValue",
    "PendingUpload",
    "PendingUploadStatus",
    "Submission",
    "SubmissionVersion",
    "VersionStatus",
]


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, validate_strings=True)


class PendingUploadStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DISCARDED = "discarded"


class VersionStatus(enum.StrEnum):
    CURRENT = "current"  # the version in use for its period
    SUPERSEDED = "superseded"  # replaced by a correction
    WITHDRAWN = "withdrawn"  # taken out of use by its LA; kept for the record


class PendingUpload(Base):
    """A valid upload for exactly one period, waiting for its submitter's decision."""

    __tablename__ = "pending_upload"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # NULL for a system actor (the CLI); the label says who, for users and systems alike.
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_by_label: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    # The raw bytes as uploaded, encrypted (exchange.actions.files).
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    time_period: Mapped[str] = mapped_column(String(16))
    time_identifier: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
    catalogue_version: Mapped[str] = mapped_column(String(32))
    # ValidationReport.summary() plus coverage counts: counts only, never a cell value.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[PendingUploadStatus] = mapped_column(
        _enum(PendingUploadStatus), default=PendingUploadStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()

    @property
    def period_label(self) -> str:
        return f"{self.time_identifier} {self.time_period}"


class Submission(Base):
    """An organisation's return for one period: the container of its versions."""

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("organisation_id", "time_period", "time_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    time_period: Mapped[str] = mapped_column(String(16))
    time_identifier: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    # Newest first: the history reads top down.
    versions: Mapped[list[SubmissionVersion]] = relationship(
        back_populates="submission",
        order_by="SubmissionVersion.number.desc()",
        lazy="selectin",
    )

    @property
    def period_label(self) -> str:
        return f"{self.time_identifier} {self.time_period}"

    @property
    def latest(self) -> SubmissionVersion | None:
        """The newest version, whatever its status (a withdrawn one is not replaced by the
        version before it: withdrawing v2 does not bring v1 back)."""
        return self.versions[0] if self.versions else None

    @property
    def current(self) -> SubmissionVersion | None:
        return next((v for v in self.versions if v.status is VersionStatus.CURRENT), None)


# The Enum column stores the member's *name* (CURRENT), not its value.
_IS_CURRENT = "status = 'CURRENT'"


class SubmissionVersion(Base):
    """One accepted file of a submission (v1, v2, ...)."""

    __tablename__ = "submission_version"
    __table_args__ = (
        UniqueConstraint("submission_id", "number"),
        # At most one current version per submission, whatever races the application loses.
        Index(
            "uq_submission_version_one_current",
            "submission_id",
            unique=True,
            sqlite_where=text(_IS_CURRENT),
            postgresql_where=text(_IS_CURRENT),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(_enum(VersionStatus))
    # The pending upload it came from: unique, so accepting the same upload twice cannot
    # make two versions even when two requests race.
    pending_upload_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pending_upload.id"), unique=True
    )
    file_id: Mapped[int] = mapped_column(ForeignKey("stored_file.id"))
    filename: Mapped[str] = mapped_column(String(255))
    row_count: Mapped[int]
    catalogue_version: Mapped[str] = mapped_column(String(32))
    accepted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    accepted_by_label: Mapped[str] = mapped_column(String(255))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    withdrawn_by_label: Mapped[str | None] = mapped_column(String(255))
    withdrawn_at: Mapped[datetime | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    submission: Mapped[Submission] = relationship(back_populates="versions")
    accepted_by_user: Mapped[User | None] = relationship(foreign_keys=[accepted_by])
    withdrawn_by_user: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by])


class IndicatorValue(Base):
    """One row of an accepted file: an indicator's measures for one breakdown category.

    Rows are written in bulk (``insert()`` with a list of parameter sets), never one ORM
    object per row, and never updated: a correction is a new version with its own rows.
    """

    __tablename__ = "indicator_value"
    __table_args__ = (
        UniqueConstraint("version_id", "indicator_id", "breakdown_topic", "breakdown"),
        Index("ix_indicator_value_indicator_version", "indicator_id", "version_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_version.id"))
    indicator_id: Mapped[str] = mapped_column(String(64))
    breakdown_topic: Mapped[str] = mapped_column(String(64))
    breakdown: Mapped[str] = mapped_column(String(128))
    numerator: Mapped[int | None] = mapped_column(BigInteger)
    denominator: Mapped[int | None] = mapped_column(BigInteger)
    respondents: Mapped[int | None] = mapped_column(BigInteger)
    n: Mapped[int | None] = mapped_column(BigInteger)
    value: Mapped[float | None]
    sd: Mapped[float | None]
    # {column: EES symbol} for the cells given as a symbol; NULL when there are none.
    symbols: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
