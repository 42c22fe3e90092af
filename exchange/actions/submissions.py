"""Submissions: check an LA's upload, accept it as a new version, discard it, withdraw a version.

The same path serves the portal, the CLI (``exchange upload``) and the worker (large files):

1. :func:`check_upload` validates the file for the uploading LA. An invalid file stores nothing
   but a ``validation_failed`` audit event (counts by rule, never a cell). A valid one, for
   exactly one period, is stored encrypted with a :class:`PendingUpload` and an
   ``upload_validated`` event.
2. :func:`accept_upload` turns a pending upload into the next :class:`SubmissionVersion` of its
   period (the previous current version becomes superseded) with all its
   :class:`IndicatorValue` rows, read back from the encrypted file that was validated.
   :func:`discard_upload` drops it instead.
3. :func:`withdraw_version` records a withdrawal: the version and its values stay.

Every write function works in the caller's transaction (``with db.transaction() as session:``)
and records its audit event in it, so a submission and its audit event land whole or not at
all. Who may do what is decided by :func:`may`, the one function to swap when the policy
module takes over; :func:`authorise` raises PermissionError on a refusal and audits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions.files import read_file, store_file
from exchange.actions.organisations import lock_organisation
from exchange.actions.validation import clean_filename
from exchange.models.base import utcnow
from exchange.models.organisation import Organisation, OrganisationKind
from exchange.models.submission import (
    IndicatorValue,
    PendingUpload,
    PendingUploadStatus,
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.policy import Permission, Principal, may_act_for
from schemas.catalogue import load_catalogue
from schemas.upload import (
    EES_SYMBOLS,
    IDENTITY_COLUMNS,
    MEASURE_COLUMNS,
    Problem,
    ValidationReport,
    validate_upload,
)
from schemas.upload.reading import ROW_COLUMN, read_upload
from schemas.upload.validate import HEADER_ALIASES

__all__ = [
    "DENIED_ACTION",
    "ONE_PERIOD_RULE",
    "VALUE_BATCH_SIZE",
    "SubmissionError",
    "SubmissionNotFound",
    "SubmissionStateError",
    "accept_upload",
    "authorise",
    "check_upload",
    "discard_upload",
    "history",
    "indicators_by_version",
    "latest_by_period",
    "may",
    "pending_uploads",
    "withdraw_version",
]

# Rule id of the report problem for a file that covers more than one period.
ONE_PERIOD_RULE = "one_period_per_file"
# Rows per INSERT of indicator values (one executemany each; a 125-indicator return is ~1,750).
VALUE_BATCH_SIZE = 5_000
MAX_REASON_LENGTH = 2_000
UPLOAD_PURPOSE = "submission_raw"
# The audit action of a refused attempt (its details name what was attempted).
DENIED_ACTION = "submission_denied"

_COUNT_COLUMNS = ("numerator", "denominator", "respondents", "n")
_XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SubmissionError(Exception):
    """A submission request that cannot be carried out; the message says why, for the user."""


class SubmissionNotFound(SubmissionError, LookupError):
    """No pending upload or version has this id."""


class SubmissionStateError(SubmissionError):
    """The upload or version is not in a state that allows this (already accepted, say)."""


# ------------------------------------------------------------------------------ who may do what


_PERMISSION_FOR = {
    "view": Permission.LA_VIEW,
    "upload": Permission.LA_SUBMIT,
    "accept": Permission.LA_SUBMIT,
    "discard": Permission.LA_SUBMIT,
    "withdraw": Permission.LA_SUBMIT,
}


def may(actor: Principal | None, action: str, organisation_id: int) -> bool:
    """Whether ``actor`` may ``action`` ("view", "upload", "accept", "discard", "withdraw") the
    submissions of LA ``organisation_id``: only the LA's own submitters change them, its
    viewers may look, and system actors (the CLI) may do anything. The one rule every function
    here applies (swap it for the central policy's answer when that takes over)."""
    return may_act_for(actor, organisation_id, _PERMISSION_FOR[action])


def authorise(session: Session, actor: Principal, action: str, organisation_id: int) -> None:
    """Raise PermissionError unless :func:`may`. The refusal is audited
    (``submission_denied``, outcome ``denied``) and committed on its own: the caller's unit of
    work is rolled back first, as it would be anyway when the error reaches its transaction."""
    if may(actor, action, organisation_id):
        return
    session.rollback()
    audit.record_by(
        session,
        DENIED_ACTION,
        actor,
        organisation_id=organisation_id,
        target_type="organisation",
        target_id=organisation_id,
        outcome="denied",
        details={"attempted": action},
    )
    session.commit()
    raise PermissionError(f"not allowed to {action} this organisation's submissions")


# ------------------------------------------------------------------------------- reading a file


@dataclass
class _Rows:
    """A valid file's rows, typed for :class:`IndicatorValue` (one Python list per column)."""

    periods: list[tuple[str, str, int]]  # (time_period, time_identifier, first row) in file order
    count: int
    columns: dict[str, list[Any]]
    symbols: list[dict[str, str] | None]

    def records(self, version_id: int) -> Iterator[dict[str, Any]]:
        names = list(self.columns)
        for i, cells in enumerate(zip(*self.columns.values(), strict=True)):
            record = dict(zip(names, cells, strict=True))
            record["version_id"] = version_id
            record["symbols"] = self.symbols[i]
            yield record


def _stripped(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([""] * len(frame), index=frame.index, dtype="str")
    return frame[column].astype("str").str.strip()


def _read_rows(data: bytes, filename: str) -> _Rows:
    """Read a file that passed validation into typed columns.

    Blank cells become None; EES symbols become None in their column and are named in the row's
    ``symbols``; yes/no become 1.0/0.0; counts are integers.
    """
    read = read_upload(data, filename, header_hint=frozenset(IDENTITY_COLUMNS))
    frame = read.frame.rename(
        columns={c: HEADER_ALIASES[c] for c in read.columns if c in HEADER_ALIASES}
    )
    n = len(frame)
    columns: dict[str, list[Any]] = {
        name: _stripped(frame, name).tolist()
        for name in ("indicator_id", "breakdown_topic", "breakdown")
    }
    symbols: list[dict[str, str] | None] = [None] * n
    for name in MEASURE_COLUMNS:
        text = _stripped(frame, name)
        lower = text.str.lower()
        is_symbol = lower.isin(list(EES_SYMBOLS)).to_numpy()
        numbers = pd.to_numeric(
            text.where(~lower.isin(["", "yes", "no", *EES_SYMBOLS])), errors="coerce"
        )
        numbers = numbers.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        if name == "value":
            numbers[(lower == "yes").to_numpy()] = 1.0
            numbers[(lower == "no").to_numpy()] = 0.0
        missing = np.isnan(numbers)
        if name in _COUNT_COLUMNS:
            cells: list[Any] = [
                None if m else int(v) for v, m in zip(numbers.tolist(), missing, strict=True)
            ]
        else:
            cells = [None if m else v for v, m in zip(numbers.tolist(), missing, strict=True)]
        columns[name] = cells
        for i in np.flatnonzero(is_symbol).tolist():
            row_symbols = symbols[i] if symbols[i] is not None else {}
            row_symbols[name] = lower.iat[i]
            symbols[i] = row_symbols
    periods: dict[tuple[str, str], int] = {}
    rows = frame[ROW_COLUMN].tolist()
    for tp, ti, row in zip(
        _stripped(frame, "time_period").tolist(),
        _stripped(frame, "time_identifier").tolist(),
        rows,
        strict=True,
    ):
        periods.setdefault((tp, ti), row)
    return _Rows(
        periods=[(tp, ti, row) for (tp, ti), row in periods.items()],
        count=n,
        columns=columns,
        symbols=symbols,
    )


def _one_period_problem(rows: _Rows) -> Problem | None:
    if len(rows.periods) <= 1:
        return None
    (tp, ti, _), (other_tp, other_ti, other_row) = rows.periods[0], rows.periods[1]
    labels = ", ".join(f"{i} {p}" for p, i, _ in rows.periods[:5])
    more = f" and {len(rows.periods) - 5} more" if len(rows.periods) > 5 else ""
    return Problem(
        ONE_PERIOD_RULE,
        f"a submission covers exactly one period, but this file has rows for {labels}{more}. "
        f"Row {other_row} is for {other_ti} {other_tp}, the rows before it for {ti} {tp}: "
        "upload one file for each period",
        other_row,
        "time_period",
        other_tp,
    )


def _media_type(data: bytes) -> str:
    return _XLSX_MEDIA_TYPE if data.startswith(b"PK\x03\x04") else "text/csv"


def _coverage(rows: _Rows) -> dict[str, Any]:
    """Counts for the upload's summary: indicators in all and by domain, and cells given as
    EES symbols (never a cell value)."""
    catalogue = load_catalogue()
    ids = rows.columns["indicator_id"]
    indicators = set(ids)
    by_domain: dict[str, int] = {}
    for indicator_id in indicators:
        domain = catalogue.indicators[indicator_id].domain
        by_domain[domain] = by_domain.get(domain, 0) + 1
    return {
        "indicators": len(indicators),
        "indicators_by_domain": dict(sorted(by_domain.items())),
        "symbol_cells": sum(len(s) for s in rows.symbols if s),
    }


# ------------------------------------------------------------------------------------- actions


def check_upload(
    session: Session,
    data: bytes,
    filename: str,
    organisation: Organisation,
    actor: Principal,
    *,
    upload_id: uuid.UUID | None = None,
) -> tuple[ValidationReport, PendingUpload | None]:
    """Validate ``data`` as ``organisation``'s upload; store it for acceptance if it is valid.

    Invalid (including a file covering more than one period): only a ``validation_failed``
    audit event is added. Valid: the encrypted file, a :class:`PendingUpload` and an
    ``upload_validated`` event. ``upload_id`` names the pending upload (the worker passes its
    job id, so running the same job twice stores the file once).
    """
    authorise(session, actor, "upload", organisation.id)
    if organisation.kind is not OrganisationKind.LOCAL_AUTHORITY:
        raise SubmissionError("only a local authority submits indicator files")
    filename = clean_filename(filename)
    report = validate_upload(data, filename, authority=organisation.code)
    rows = _read_rows(data, filename) if report.ok else None
    if rows is not None and (problem := _one_period_problem(rows)) is not None:
        report.problems.append(problem)
    if upload_id is not None and (existing := session.get(PendingUpload, upload_id)) is not None:
        return report, existing
    summary = report.summary()
    if rows is None or not report.ok:
        audit.record_by(
            session,
            "validation_failed",
            actor,
            organisation_id=organisation.id,
            target_type="organisation",
            target_id=organisation.id,
            outcome="failure",
            details={
                "filename": report.filename,
                "rows": summary["rows"],
                "errors": summary["errors"],
                "warnings": summary["warnings"],
                "errors_by_rule": summary["errors_by_rule"],
            },
        )
        return report, None

    stored = store_file(
        session,
        data,
        filename=report.filename,
        media_type=_media_type(data),
        purpose=UPLOAD_PURPOSE,
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        organisation_id=organisation.id,
    )
    time_period, time_identifier, _ = rows.periods[0]
    pending = PendingUpload(
        id=upload_id or uuid.uuid4(),
        organisation_id=organisation.id,
        uploaded_by=actor.user_id,
        uploaded_by_label=actor.label,
        filename=report.filename,
        file_id=stored.id,
        time_period=time_period,
        time_identifier=time_identifier,
        row_count=rows.count,
        catalogue_version=report.catalogue_version or "",
        summary={**summary, **_coverage(rows)},
        status=PendingUploadStatus.PENDING,
    )
    session.add(pending)
    session.flush()
    audit.record_by(
        session,
        "upload_validated",
        actor,
        organisation_id=organisation.id,
        target_type="pending_upload",
        target_id=str(pending.id),
        details={
            "filename": pending.filename,
            "file_id": stored.id,
            "time_period": time_period,
            "time_identifier": time_identifier,
            "rows": pending.row_count,
            "warnings": summary["warnings"],
            "catalogue_version": pending.catalogue_version,
        },
    )
    return report, pending


def _pending(session: Session, pending_id: uuid.UUID | str) -> PendingUpload:
    try:
        key = pending_id if isinstance(pending_id, uuid.UUID) else uuid.UUID(str(pending_id))
    except ValueError:
        raise SubmissionNotFound("there is no such upload") from None
    pending = session.get(PendingUpload, key)
    if pending is None:
        raise SubmissionNotFound("there is no such upload")
    return pending


def _require_pending(pending: PendingUpload) -> None:
    if pending.status is not PendingUploadStatus.PENDING:
        raise SubmissionStateError(f"this upload has already been {pending.status}")


def _insert_batch(session: Session, batch: list[dict[str, Any]]) -> None:
    # One executemany per batch (SQLAlchemy's insertmanyvalues): no ORM object per row.
    session.execute(insert(IndicatorValue), batch)


def _insert_values(session: Session, rows: _Rows, version_id: int) -> int:
    batch: list[dict[str, Any]] = []
    written = 0
    for record in rows.records(version_id):
        batch.append(record)
        if len(batch) >= VALUE_BATCH_SIZE:
            _insert_batch(session, batch)
            written += len(batch)
            batch = []
    if batch:
        _insert_batch(session, batch)
        written += len(batch)
    return written


def accept_upload(
    session: Session, pending_id: uuid.UUID | str, actor: Principal
) -> SubmissionVersion:
    """Make the pending upload the next version of its period's submission, with its values.

    The values are read back from the stored (encrypted) file, so what lands is exactly what
    was validated. Raises SubmissionNotFound, SubmissionStateError, PermissionError.
    """
    pending = _pending(session, pending_id)
    authorise(session, actor, "accept", pending.organisation_id)
    # One change to an LA's submissions at a time (accept, discard, withdraw): two racing first
    # versions of a period cannot both create its submission, version numbers are taken one
    # after the other, and an upload cannot be decided twice.
    lock_organisation(session, pending.organisation_id)
    session.refresh(pending)  # as it is now that no other change for this LA can run
    _require_pending(pending)
    catalogue_version = load_catalogue().version
    if pending.catalogue_version != catalogue_version:
        raise SubmissionStateError(
            "the indicator catalogue has changed since this file was checked: upload it again"
        )
    rows = _read_rows(read_file(session, pending.file_id), pending.filename)

    submission = session.execute(
        select(Submission).where(
            Submission.organisation_id == pending.organisation_id,
            Submission.time_period == pending.time_period,
            Submission.time_identifier == pending.time_identifier,
        )
    ).scalar_one_or_none()
    if submission is None:
        submission = Submission(
            organisation_id=pending.organisation_id,
            time_period=pending.time_period,
            time_identifier=pending.time_identifier,
        )
        session.add(submission)
        session.flush()
    now = utcnow()
    previous = session.execute(
        select(SubmissionVersion).where(
            SubmissionVersion.submission_id == submission.id,
            SubmissionVersion.status == VersionStatus.CURRENT,
        )
    ).scalar_one_or_none()
    if previous is not None:
        previous.status = VersionStatus.SUPERSEDED
        previous.superseded_at = now
        session.flush()  # before the new current version: at most one current at any time
    last = session.execute(
        select(func.max(SubmissionVersion.number)).where(
            SubmissionVersion.submission_id == submission.id
        )
    ).scalar_one()
    version = SubmissionVersion(
        submission_id=submission.id,
        number=(last or 0) + 1,
        status=VersionStatus.CURRENT,
        pending_upload_id=pending.id,
        file_id=pending.file_id,
        filename=pending.filename,
        row_count=rows.count,
        catalogue_version=pending.catalogue_version,
        accepted_by=actor.user_id,
        accepted_by_label=actor.label,
        accepted_at=now,
    )
    session.add(version)
    session.flush()
    written = _insert_values(session, rows, version.id)
    pending.status = PendingUploadStatus.ACCEPTED
    pending.decided_at = now
    audit.record_by(
        session,
        "submission_accepted",
        actor,
        organisation_id=pending.organisation_id,
        target_type="submission_version",
        target_id=version.id,
        details={
            "submission_id": submission.id,
            "version": version.number,
            "rows": written,
            "time_period": submission.time_period,
            "time_identifier": submission.time_identifier,
            "superseded_version": previous.number if previous is not None else None,
            "pending_upload_id": str(pending.id),
            "file_id": pending.file_id,
        },
    )
    session.flush()
    session.expire(submission, ["versions"])
    return version


def discard_upload(
    session: Session, pending_id: uuid.UUID | str, actor: Principal
) -> PendingUpload:
    """Drop a pending upload: it will not become a version. Its stored file is kept (encrypted)
    with the record of the upload."""
    pending = _pending(session, pending_id)
    authorise(session, actor, "discard", pending.organisation_id)
    lock_organisation(session, pending.organisation_id)
    session.refresh(pending)
    _require_pending(pending)
    pending.status = PendingUploadStatus.DISCARDED
    pending.decided_at = utcnow()
    audit.record_by(
        session,
        "upload_discarded",
        actor,
        organisation_id=pending.organisation_id,
        target_type="pending_upload",
        target_id=str(pending.id),
        details={"time_period": pending.time_period, "time_identifier": pending.time_identifier},
    )
    return pending


def withdraw_version(
    session: Session, version_id: int, actor: Principal, reason: str
) -> SubmissionVersion:
    """Record that a version is withdrawn. It and its values stay (for the history and the
    audit); no other version becomes current in its place."""
    reason = (reason or "").strip()
    if not reason:
        raise SubmissionError("give a reason for withdrawing the submission")
    if len(reason) > MAX_REASON_LENGTH:
        raise SubmissionError(f"the reason must be at most {MAX_REASON_LENGTH:,} characters")
    version = session.get(SubmissionVersion, version_id)
    if version is None:
        raise SubmissionNotFound("there is no such submission version")
    submission = version.submission
    authorise(session, actor, "withdraw", submission.organisation_id)
    lock_organisation(session, submission.organisation_id)
    session.refresh(version)
    if version.status is VersionStatus.WITHDRAWN:
        raise SubmissionStateError("this version has already been withdrawn")
    previous_status = version.status
    version.status = VersionStatus.WITHDRAWN
    version.withdrawn_by = actor.user_id
    version.withdrawn_by_label = actor.label
    version.withdrawn_at = utcnow()
    # The reason is the submitter's free text: kept on the version, not copied into the audit
    # log, which must never carry anything that could be a data value.
    version.withdrawal_reason = reason
    audit.record_by(
        session,
        "submission_withdrawn",
        actor,
        organisation_id=submission.organisation_id,
        target_type="submission_version",
        target_id=version.id,
        details={
            "submission_id": submission.id,
            "version": version.number,
            "previous_status": str(previous_status),
            "time_period": submission.time_period,
            "time_identifier": submission.time_identifier,
        },
    )
    session.flush()
    return version


# --------------------------------------------------------------------------------------- reads


def history(session: Session, organisation_id: int) -> list[Submission]:
    """The organisation's submissions, newest period first, each with its versions newest
    first (who accepted and withdrew each is on the version)."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.organisation_id == organisation_id)
            .order_by(Submission.time_period.desc(), Submission.time_identifier)
        )
    )


def latest_by_period(
    session: Session, organisation_id: int
) -> dict[tuple[str, str], SubmissionVersion]:
    """(time_period, time_identifier) -> the period's newest version, whatever its status: a
    withdrawn newest version means the period currently has no data in use."""
    return {
        (s.time_period, s.time_identifier): s.latest
        for s in history(session, organisation_id)
        if s.latest is not None
    }


def pending_uploads(session: Session, organisation_id: int) -> list[PendingUpload]:
    """Valid uploads still awaiting a decision, newest first."""
    return list(
        session.scalars(
            select(PendingUpload)
            .where(
                PendingUpload.organisation_id == organisation_id,
                PendingUpload.status == PendingUploadStatus.PENDING,
            )
            .order_by(PendingUpload.created_at.desc())
        )
    )


def indicators_by_version(session: Session, version_ids: list[int]) -> dict[int, set[str]]:
    """The indicators each version has rows for (for coverage: what is missing)."""
    found: dict[int, set[str]] = {v: set() for v in version_ids}
    if not version_ids:
        return found
    rows = session.execute(
        select(IndicatorValue.version_id, IndicatorValue.indicator_id)
        .where(IndicatorValue.version_id.in_(version_ids))
        .distinct()
    )
    for version_id, indicator_id in rows:
        found[version_id].add(indicator_id)
    return found
