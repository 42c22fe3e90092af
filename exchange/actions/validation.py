"""Checking an upload file: the one path shared by the portal, the API and the worker.

Every check is a job (:mod:`exchange.jobs`). A file no larger than
``Config.inline_validation_bytes`` is validated in the request and its job is done before the
response; a larger one is stored and handed to the ``validate_upload_job`` Celery task by id.
Either way the report is stored as JSON, so the report page and its CSV/JSON downloads work the
same for both.

Logs name jobs by id and give counts only: never a cell value (a message from a failed parse
may quote one, so exceptions are logged by type and stack frames, not by message).
"""

from __future__ import annotations

import json
import logging
import os
import traceback
import uuid
from pathlib import PurePosixPath
from typing import BinaryIO

from flask import current_app

from exchange.jobs import Job, JobStatus, UnknownJobError, get_job_store, new_job_id
from schemas.upload import Problem, ValidationReport, validate_upload

__all__ = [
    "FAILED_UNEXPECTEDLY",
    "UPLOAD_UNREADABLE",
    "fail_job",
    "log_exception",
    "report_from_json",
    "run_validation_job",
    "submit_validation",
]

logger = logging.getLogger(__name__)

FAILED_UNEXPECTEDLY = (
    "Something went wrong while checking the file. Try again; if it happens again, contact the "
    "exchange team quoting the job reference."
)
UPLOAD_UNREADABLE = "The uploaded file could not be read back from storage. Upload it again."
NOT_QUEUED = "The file could not be queued for checking. Try again in a few minutes."


def clean_filename(filename: str | None) -> str:
    """The file's own name (no folders from the browser), for display and its type."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    return name[-200:] or "upload"


def _stream_size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def log_exception(message: str, job_id: str, exc: BaseException) -> None:
    """Log an exception by type and stack frames only: its message may quote a cell value."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s (job %s): %s\n%s", message, job_id, type(exc).__name__, frames)


def submit_validation(
    stream: BinaryIO,
    filename: str | None,
    authority: str | None,
    *,
    organisation_id: int | None = None,
    actor_user_id: int | None = None,
    actor_label: str | None = None,
) -> Job:
    """Start checking an uploaded file; returns its job (done, failed or queued).

    ``stream`` must be seekable (Werkzeug's uploaded files are). With ``organisation_id`` the
    check is that LA's submission (``exchange.actions.submissions.check_upload``, as the actor
    given): a valid file is stored as a pending upload whose id the job records.
    """
    config = current_app.config["EXCHANGE"]
    store = get_job_store()
    job_id = new_job_id()
    name = clean_filename(filename)
    size = _stream_size(stream)
    submission = {
        "organisation_id": organisation_id,
        "actor_user_id": actor_user_id,
        "actor_label": actor_label,
    }
    if size <= config.inline_validation_bytes:
        data = stream.read()
        store.create(
            Job(
                id=job_id,
                filename=name,
                size=size,
                authority=authority,
                status=JobStatus.RUNNING,
                **submission,  # type: ignore[arg-type]
            )
        )
        try:
            return _validate_and_store(job_id, data)
        except Exception as exc:
            log_exception("inline validation failed", job_id, exc)
            return fail_job(job_id, FAILED_UNEXPECTEDLY)

    store.save_upload(job_id, stream)
    job = store.create(
        Job(id=job_id, filename=name, size=size, authority=authority, **submission)  # type: ignore[arg-type]
    )
    try:
        from workers.tasks import validate_upload_job

        # The Celery task id is the job id, so worker logs and job files correlate.
        validate_upload_job.apply_async((job_id,), task_id=job_id)
    except Exception as exc:
        log_exception("could not queue validation", job_id, exc)
        store.delete_upload(job_id)
        return fail_job(job_id, NOT_QUEUED)
    logger.info("validation job %s queued (%d bytes)", job_id, size)
    return job


def _check_submission(job: Job, data: bytes) -> tuple[ValidationReport, str | None]:
    """An LA's submission check, in one transaction; the actor is re-read from the database,
    so a user who lost the right to submit since the upload is refused here too."""
    from exchange.actions.submissions import check_upload
    from exchange.extensions import db
    from exchange.models import Organisation, User
    from exchange.security.principals import principal_for_user, system_principal

    with db.transaction() as session:
        organisation = session.get(Organisation, job.organisation_id)
        if organisation is None:
            raise PermissionError("the job's organisation no longer exists")
        if job.actor_user_id is None:
            actor = system_principal(job.actor_label or "system:portal")
        else:
            user = session.get(User, job.actor_user_id)
            if user is None:
                raise PermissionError("the job's user no longer exists")
            actor = principal_for_user(session, user)
        report, pending = check_upload(
            session, data, job.filename, organisation, actor, upload_id=uuid.UUID(job.id)
        )
        return report, None if pending is None else str(pending.id)


def _validate_and_store(job_id: str, data: bytes) -> Job:
    store = get_job_store()
    job = store.get(job_id)
    pending_upload_id = None
    if job.organisation_id is not None:
        report, pending_upload_id = _check_submission(job, data)
    else:
        report = validate_upload(data, job.filename, authority=job.authority)
    store.save_report(job_id, report.to_json())
    summary = report.summary()
    logger.info(
        "validation job %s done: %s rows, %s errors, %s warnings",
        job_id,
        summary["rows"],
        summary["errors"],
        summary["warnings"],
    )
    return store.update(
        job_id,
        status=JobStatus.DONE,
        summary=summary,
        error=None,
        pending_upload_id=pending_upload_id,
    )


def run_validation_job(job_id: str) -> JobStatus:
    """Validate a stored upload (the worker's side). Safe to run again for the same job.

    OSError (storage) propagates so the task can retry; the caller marks any other exception
    as a failure.
    """
    store = get_job_store()
    try:
        job = store.get(job_id)
    except UnknownJobError:
        logger.warning("validation job %s does not exist; nothing to do", job_id)
        return JobStatus.FAILED
    if job.status.finished:
        store.delete_upload(job_id)
        return job.status
    store.update(job_id, status=JobStatus.RUNNING)
    data = store.load_upload(job_id)
    job = _validate_and_store(job_id, data)
    store.delete_upload(job_id)
    return job.status


def fail_job(job_id: str, reason: str) -> Job:
    """Mark the job failed with a reason for the uploader, and drop its stored bytes."""
    store = get_job_store()
    store.delete_upload(job_id)
    job = store.update(job_id, status=JobStatus.FAILED, error=reason)
    logger.warning("validation job %s failed", job_id)
    return job


def report_from_json(text: str) -> ValidationReport:
    """Rebuild a stored report (``ValidationReport.to_json()``) for rendering and export."""
    payload = json.loads(text)
    summary = payload["summary"]
    return ValidationReport(
        filename=summary["file"],
        rows=summary["rows"],
        sheet=summary.get("sheet"),
        catalogue_version=summary.get("catalogue_version"),
        problems=[Problem(**p) for p in payload["problems"]],
    )
