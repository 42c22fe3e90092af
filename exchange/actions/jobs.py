"""Background jobs: queue work for a Celery worker, follow it, and show it to whom it concerns.

Writing (each call is ONE transaction on the given session, committed on success and rolled
back on any error):

* :func:`enqueue` stores a ``queued`` :class:`~exchange.models.Job` with its ``job_queued``
  audit event, commits, and only then sends the task message (task id = job id), so a worker
  always finds the row. With a ``dedupe_key`` it returns the job already queued under that key
  instead, and sends nothing: the same pending work is never queued twice (a unique partial
  index enforces it whatever races the enqueuers lose). A message that cannot be sent fails the
  job at once, so it never waits forever nor blocks its key.
* :func:`start` (the worker, on every delivery) moves a queued job, or a running one whose
  worker died or which waits for a retry, to ``running`` and counts the attempt; it returns
  False for a finished or unknown job, so a redelivered task does nothing twice.
* :func:`finish` stores the result of a running job; :func:`fail` its reason;
  :func:`note_retry` why it waits to be tried again. Each changes only a job in the state it
  expects, so a late duplicate cannot overwrite the first outcome. :func:`finish` commits
  whatever the job's work left uncommitted on the session in the same transaction as the
  result (or rolls it back if the job is no longer running): work that writes through the
  session without committing publishes its rows and its result together, or neither.

Reading: :func:`jobs` and :func:`job` show a principal the jobs of their own organisation, and
administrators (and the system actor: the CLI) every job, through the one policy
(``exchange.security.policy``). Another organisation's job looks exactly like one that does not
exist. Reading is not audited (it would add an event for every status poll).

Nothing here holds a cell value: ``params`` are ids and periods, ``result`` counts and ids
(keys that name values are refused), and reasons name at most an exception's type.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from exchange import audit
from exchange.db import one_transaction
from exchange.models.base import utcnow
from exchange.models.job import MAX_REASON_LENGTH, Job, JobStatus
from exchange.models.user import User
from exchange.security.policy import Permission, Principal, allowed, may_act_for

__all__ = [
    "DEFAULT_LIMIT",
    "ENQUEUED",
    "NOT_QUEUED",
    "enqueue",
    "fail",
    "finish",
    "job",
    "jobs",
    "may_see",
    "note_retry",
    "start",
]

logger = logging.getLogger(__name__)

ENQUEUED = "job_queued"
SYSTEM_ACTOR = "system:jobs"
DEFAULT_LIMIT = 100
_ENQUEUE_TRIES = 3
MAX_LIMIT = 1000
NOT_QUEUED = "The job could not be queued for a worker. Try again in a few minutes."
# Keys that would carry data values (as for audit details): refused in params and results.
_FORBIDDEN_KEYS = frozenset({"value", "values", "numerator", "denominator", "cells", "row"})


def _checked(what: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    data = dict(data or {})
    if leaked := _FORBIDDEN_KEYS & set(data):
        raise ValueError(f"job {what} must hold ids, periods and counts only: {sorted(leaked)}")
    return data


def _reason(text: str) -> str:
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 1] + "…"


def _canonical_id(job_id: str) -> str | None:
    """``job_id`` if it is a UUID in canonical form (as ``new_job_id`` makes), else None."""
    try:
        return job_id if str(uuid.UUID(job_id)) == job_id else None
    except (ValueError, TypeError, AttributeError):
        return None


# ------------------------------------------------------------------------------------ queueing


def _queued(session: Session, dedupe_key: str) -> Job | None:
    return session.scalars(
        select(Job).where(Job.dedupe_key == dedupe_key, Job.status == JobStatus.QUEUED)
    ).first()


def _actor_label(session: Session, requested_by: int | None) -> str:
    if requested_by is None:
        return SYSTEM_ACTOR
    user = session.get(User, requested_by)
    if user is None:
        raise ValueError(f"no user has id {requested_by}")
    return f"user:{user.email}"


def _insert(
    session: Session,
    kind: str,
    params: dict[str, Any],
    *,
    organisation_id: int | None,
    requested_by: int | None,
    dedupe_key: str | None,
) -> Job:
    """Store a queued job and its audit event in one transaction."""
    with one_transaction(session):
        job = Job(
            kind=kind,
            status=JobStatus.QUEUED,
            params=params,
            organisation_id=organisation_id,
            requested_by=requested_by,
            dedupe_key=dedupe_key,
            attempts=0,
            created_at=utcnow(),
        )
        session.add(job)
        session.flush()  # a concurrent enqueue of the same dedupe key loses here
        audit.record(
            session,
            ENQUEUED,
            actor_label=_actor_label(session, requested_by),
            actor_user_id=requested_by,
            organisation_id=organisation_id,
            target_type="job",
            target_id=job.id,
            details={"kind": kind},
        )
    return job


def enqueue(
    session: Session,
    kind: str,
    params: Mapping[str, Any] | None = None,
    *,
    organisation_id: int | None = None,
    requested_by: int | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Queue a job of ``kind`` (a kind registered by ``workers.tasks.job_task``) and send its
    task; returns the job, or the one already queued under ``dedupe_key`` (then nothing is
    written or sent).

    ``params`` are what the task needs to find its inputs (ids, periods), never values.
    ``organisation_id`` is whose job it is (its users see it; None: a system job) and
    ``requested_by`` the user who asked, if any.

    Like every action it commits the session: call it once the data the job will read is
    committed, not inside another action's transaction.
    """
    from workers.tasks import job_task_for

    task = job_task_for(kind)  # an unknown kind raises before anything is written
    checked = _checked("params", params)
    for _ in range(_ENQUEUE_TRIES):
        if dedupe_key is not None and (existing := _queued(session, dedupe_key)) is not None:
            return existing
        try:
            job = _insert(
                session,
                kind,
                checked,
                organisation_id=organisation_id,
                requested_by=requested_by,
                dedupe_key=dedupe_key,
            )
        except IntegrityError:
            if dedupe_key is None:
                raise
            continue  # a concurrent enqueue of the same key won: return its job
        break
    else:
        raise RuntimeError(f"could not queue a {kind} job: its dedupe key is contended")
    try:
        task.apply_async((job.id,), task_id=job.id)
    except Exception as exc:
        # The broker is unreachable: fail the job now rather than leave it queued for ever
        # (and its dedupe key blocked). Logged by type only, as every job error is.
        logger.error("job %s (%s) could not be queued: %s", job.id, kind, type(exc).__name__)
        fail(session, job.id, NOT_QUEUED)
        return job
    logger.info("job %s (%s) queued", job.id, kind)
    return job


# ---------------------------------------------------------------------------------- the worker


class _Unchanged(Exception):
    """The job is not in a state the change applies to: roll back, change nothing."""


def _transition(
    session: Session,
    job_id: str,
    from_statuses: tuple[JobStatus, ...],
    change: Callable[[Job], None],
) -> bool:
    """Apply ``change`` to job ``job_id`` only if it is in one of ``from_statuses``, under a
    row lock (two deliveries of one task queue up here), and commit it with whatever else the
    session holds; True if it changed. Otherwise everything the session holds is rolled back
    (a run whose result is not wanted any more leaves nothing behind) and it returns False."""
    if _canonical_id(job_id) is None:
        return False
    try:
        with one_transaction(session):
            found = session.scalars(
                select(Job)
                .where(Job.id == job_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).first()
            if found is None or found.status not in from_statuses:
                raise _Unchanged
            change(found)
    except _Unchanged:
        return False
    return True


def start(session: Session, job_id: str) -> bool:
    """Mark the job running and count the attempt: from queued, or from running (its worker
    died and the task was redelivered, or it waits for a retry). False if it is done, failed
    or unknown: the task then has nothing to do."""

    def run(found: Job) -> None:
        found.status = JobStatus.RUNNING
        found.attempts += 1
        found.started_at = utcnow()
        found.reason = None

    return _transition(session, job_id, (JobStatus.QUEUED, JobStatus.RUNNING), run)


def finish(session: Session, job_id: str, result: Mapping[str, Any] | None = None) -> bool:
    """Store the result (counts and ids) of a running job and mark it done. False if the job
    is not running (already finished by another delivery: its first outcome stands)."""
    checked = _checked("result", result)

    def done(found: Job) -> None:
        found.status = JobStatus.DONE
        found.result = checked
        found.finished_at = utcnow()
        found.reason = None

    return _transition(session, job_id, (JobStatus.RUNNING,), done)


def fail(session: Session, job_id: str, reason: str) -> bool:
    """Mark a queued or running job failed with ``reason``: words for its users, at most an
    exception's type, never a cell value. False if it had already finished."""

    def failed(found: Job) -> None:
        found.status = JobStatus.FAILED
        found.reason = _reason(reason)
        found.finished_at = utcnow()

    return _transition(session, job_id, (JobStatus.QUEUED, JobStatus.RUNNING), failed)


def note_retry(session: Session, job_id: str, reason: str) -> bool:
    """Say why a running job waits to be tried again (it stays running until the retry
    starts, which clears the reason)."""

    def waiting(found: Job) -> None:
        found.reason = _reason(reason)

    return _transition(session, job_id, (JobStatus.RUNNING,), waiting)


# ------------------------------------------------------------------------------------- reading


def may_see(viewer: Principal | None, organisation_id: int | None) -> bool:
    """Whether ``viewer`` may see a job of ``organisation_id`` (None: a system job):
    administrators and the system actor see every job, users their own organisation's."""
    if allowed(viewer, Permission.ADMINISTER):
        return True
    return organisation_id is not None and may_act_for(
        viewer, organisation_id, Permission.SIGNED_IN
    )


def jobs(
    session: Session,
    viewer: Principal | None,
    *,
    organisation_id: int | None = None,
    status: JobStatus | str | None = None,
    kind: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Job]:
    """The newest jobs ``viewer`` may see (at most ``limit``), optionally only those of one
    organisation, status or kind. Raises PermissionError for a principal who may see none
    (nobody signed in, or an account the policy grants nothing)."""
    if not allowed(viewer, Permission.SIGNED_IN):
        raise PermissionError("sign in to see jobs")
    assert viewer is not None  # allowed() refuses None
    query = select(Job).options(joinedload(Job.organisation))
    if not allowed(viewer, Permission.ADMINISTER):
        if viewer.organisation_id is None:
            return []
        if organisation_id is not None and organisation_id != viewer.organisation_id:
            return []
        organisation_id = viewer.organisation_id
    if organisation_id is not None:
        query = query.where(Job.organisation_id == organisation_id)
    if status is not None:
        try:
            query = query.where(Job.status == JobStatus(status))
        except ValueError:
            raise ValueError(
                f"unknown job status {status!r}: one of {', '.join(s.value for s in JobStatus)}"
            ) from None
    if kind is not None:
        query = query.where(Job.kind == kind)
    limit = max(1, min(int(limit), MAX_LIMIT))
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id).limit(limit)))


def job(session: Session, viewer: Principal | None, job_id: str) -> Job | None:
    """Job ``job_id`` if ``viewer`` may see it; None if it does not exist or is another
    organisation's (the caller cannot tell which)."""
    if _canonical_id(job_id) is None:
        return None
    found = session.scalars(
        select(Job).options(joinedload(Job.organisation)).where(Job.id == job_id)
    ).first()
    if found is None or not may_see(viewer, found.organisation_id):
        return None
    return found
