"""Background jobs: work handed to a Celery worker, and what became of it.

A :class:`Job` row is written (``queued``) before its task message is sent, so a worker always
finds it; the worker marks it ``running`` (counting attempts: a task redelivered after a worker
died runs again as attempt 2), then ``done`` with its result or ``failed`` with a reason.
Users see their organisation's jobs, administrators all of them
(``exchange.actions.jobs``).

Nothing here holds a cell value: ``params`` are ids and periods, ``result`` counts and ids, and
``reason`` a short sentence naming at most an exception's type (never its message, which may
quote a cell).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from exchange.jobs import JobStatus, new_job_id

from .base import Base, utcnow
from .organisation import Organisation

__all__ = ["Job", "JobStatus"]

# Stored as the status's value ("queued"), which the partial index below names.
_IS_QUEUED = "status = 'queued'"
MAX_REASON_LENGTH = 500


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        # At most one queued job per dedupe key, whatever races the enqueuers lose: the same
        # pending work is never queued twice (a running one may be: it may have read old data).
        Index(
            "uq_job_dedupe_key_queued",
            "dedupe_key",
            unique=True,
            sqlite_where=text(_IS_QUEUED),
            postgresql_where=text(_IS_QUEUED),
        ),
        Index("ix_job_organisation_created", "organisation_id", "created_at"),
    )

    # A UUID4 in canonical text form; also the Celery task id, so worker logs correlate.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_job_id)
    kind: Mapped[str] = mapped_column(String(64), index=True)  # "release_build", "comparisons"
    status: Mapped[JobStatus] = mapped_column(
        Enum(
            JobStatus,
            native_enum=False,
            length=16,
            validate_strings=True,
            values_callable=lambda statuses: [s.value for s in statuses],
        ),
        default=JobStatus.QUEUED,
    )
    # Why it failed, or why it is waiting again (a retry): never a cell value.
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON_LENGTH))
    # Whose job it is (users of that organisation see it); NULL for the system's own jobs.
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and periods only
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # counts/ids
    attempts: Mapped[int] = mapped_column(default=0)
    # Same key, same work: indexed (for queued jobs, uniquely) by uq_job_dedupe_key_queued.
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship()

    @property
    def finished(self) -> bool:
        return self.status.finished
