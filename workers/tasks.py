"""Celery tasks: thin wrappers that receive ids and call an action.

Tasks are acknowledged late and rejected if the worker dies (``Config.celery_mapping``), so a
job may run twice; the actions are safe to repeat. Nothing here logs a cell value: exceptions are
logged by type and frames only, and the task returns just the job's status.

Background jobs (``exchange.models.Job``, queued by ``exchange.actions.jobs.enqueue``) run
through :func:`run_job`, and their tasks are made by :func:`job_task`::

    @job_task("comparisons")
    def comparisons_job(job: Job) -> dict[str, object]:
        ...  # load by the ids in job.params, compute, store; return counts and ids

:func:`run_job` marks the job running (counting the attempt), calls the work, then marks it
done with the work's result or failed with a reason naming the exception's type only (its
message may quote a cell value). A delivery of a job that has already finished does nothing,
so a task redelivered after its worker died mid-run, or after it finished but before the broker
heard so, produces one result. Temporary trouble (``OSError``, a database connection's
``OperationalError``) is retried with exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from celery import Task, shared_task
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from exchange.actions import jobs
from exchange.actions.validation import (
    FAILED_UNEXPECTEDLY,
    UPLOAD_UNREADABLE,
    fail_job,
    log_exception,
    run_validation_job,
)
from exchange.extensions import db
from exchange.models.job import Job
from exchange.models.organisation import Organisation

__all__ = [
    "JOB_TASKS",
    "TRANSIENT_ERRORS",
    "comparisons_job",
    "job_task",
    "job_task_for",
    "ping_job",
    "refresh_job",
    "run_job",
    "schedule_comparisons",
    "validate_upload_job",
]

logger = logging.getLogger(__name__)

MAX_RETRIES = 4


@shared_task(
    bind=True,
    name="exchange.validate_upload",
    ignore_result=True,
    autoretry_for=(OSError,),
    max_retries=MAX_RETRIES,
    retry_backoff=2,  # 2, 4, 8, 16 s (with jitter)
    retry_backoff_max=60,
    retry_jitter=True,
)
def validate_upload_job(self, job_id: str) -> str:  # type: ignore[no-untyped-def]
    """Validate the stored upload of job ``job_id`` and store its report."""
    try:
        return str(run_validation_job(job_id))
    except OSError as exc:
        # Storage trouble may pass: retried with backoff until the last try, then failed.
        if self.request.retries >= self.max_retries:
            log_exception("validation job failed: storage", job_id, exc)
            _fail_quietly(job_id, UPLOAD_UNREADABLE)
        raise
    except Exception as exc:
        # Not retried: the same bytes would fail the same way. Not re-raised either, so Celery
        # does not log the exception's message (it may quote a cell value).
        log_exception("validation job failed", job_id, exc)
        _fail_quietly(job_id, FAILED_UNEXPECTEDLY)
        return "failed"


def _fail_quietly(job_id: str, reason: str) -> None:
    try:
        fail_job(job_id, reason)
    except Exception as exc:
        log_exception("could not mark validation job failed", job_id, exc)


# --------------------------------------------------------------------------- background jobs

# Errors that may pass if the job is tried again later: storage, the network, the database
# connection (OperationalError: the server restarted, a connection dropped, a lock timed out).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OSError, OperationalError)

# Job kind -> its task (filled by job_task), so exchange.actions.jobs.enqueue can send one.
JOB_TASKS: dict[str, Task] = {}

# What a job runs: the job (running, attached to db.session) -> its result (counts and ids).
Work = Callable[[Job], Mapping[str, Any] | None]


def job_task_for(kind: str) -> Task:
    """The task of job ``kind``; ValueError for a kind no task is registered for."""
    try:
        return JOB_TASKS[kind]
    except KeyError:
        raise ValueError(f"no task runs jobs of kind {kind!r}") from None


def run_job(job_id: str, work: Work, *, task: Task | None = None) -> str:
    """Run job ``job_id``: mark it running, call ``work(job)``, mark it done with the returned
    result, or failed with a reason. Returns the job's status as the task's return value.

    ``work`` runs in the task's app context with the job attached to ``db.session``. What it
    writes through that session without committing is committed together with the result by
    ``finish`` (so no partial result is ever visible); what it commits itself must be safe to
    repeat, since a killed worker's job runs again.

    ``task`` is the bound task running it (for its retry count): temporary errors are raised
    again for Celery to retry while retries are left (the job stays running, with a reason
    saying it waits), and fail the job after the last one. Any other error fails it at once,
    without being raised again, so Celery never logs its message.
    """
    session = db.session
    try:
        if not jobs.start(session, job_id):
            logger.info("job %s: already finished (or unknown); nothing to do", job_id)
            return "skipped"
        job = session.get(Job, job_id)
        assert job is not None  # start() found it
        logger.info("job %s (%s) running, attempt %d", job_id, job.kind, job.attempts)
        result = work(job)
        if not jobs.finish(session, job_id, result):
            logger.warning("job %s finished elsewhere first; this run's result is dropped", job_id)
            return "skipped"
    except TRANSIENT_ERRORS as exc:
        session.rollback()
        name = type(exc).__name__
        if task is not None and task.request.retries < (task.max_retries or 0):
            log_exception("job hit a temporary problem; it will be retried", job_id, exc)
            _quietly(
                jobs.note_retry, job_id, f"Waiting to try again after a temporary problem ({name})."
            )
            raise
        log_exception("job failed: a temporary problem persisted", job_id, exc)
        _quietly(jobs.fail, job_id, f"Failed: a temporary problem persisted ({name}).")
        return "failed"
    except Exception as exc:
        session.rollback()
        log_exception("job failed", job_id, exc)
        _quietly(jobs.fail, job_id, f"Failed unexpectedly ({type(exc).__name__}).")
        return "failed"
    logger.info("job %s done", job_id)
    return "done"


def _quietly(action: Callable[[Any, str, str], bool], job_id: str, reason: str) -> None:
    try:
        action(db.session, job_id, reason)
    except Exception as exc:
        log_exception("could not record the job's state", job_id, exc)


def job_task(kind: str, *, name: str | None = None, **options: Any) -> Callable[[Work], Task]:
    """Make ``work`` the task of job ``kind`` (named ``exchange.<kind>_job`` unless ``name``
    is given), run through :func:`run_job`.

    Acknowledged late and requeued if the worker dies (set here as well as globally, so the
    guarantee does not hang on configuration); temporary errors retried with backoff
    (2, 4, 8, 16 s with jitter); no Celery result (the job row holds it).
    """

    def register(work: Work) -> Task:
        settings: dict[str, Any] = {
            "bind": True,
            "name": name or f"exchange.{kind}_job",
            "ignore_result": True,
            "acks_late": True,
            "reject_on_worker_lost": True,
            "autoretry_for": TRANSIENT_ERRORS,
            "max_retries": MAX_RETRIES,
            "retry_backoff": 2,
            "retry_backoff_max": 60,
            "retry_jitter": True,
            **options,
        }

        def run(self: Task, job_id: str) -> str:
            return run_job(job_id, work, task=self)

        run.__name__ = getattr(work, "__name__", run.__name__)
        run.__doc__ = work.__doc__
        run.__module__ = work.__module__
        task: Task = shared_task(**settings)(run)
        JOB_TASKS[kind] = task
        return task

    return register


@job_task("ping")
def ping_job(job: Job) -> dict[str, int]:
    """Count the organisations: a trivial job that shows the queue and a worker are working."""
    return {"organisations": db.session.scalar(select(func.count(Organisation.id))) or 0}


@job_task("comparisons")
def comparisons_job(job: Job) -> dict[str, object]:
    """Bring the comparisons up to date with the current submissions and releases
    (incremental: only what changed is recomputed)."""
    from exchange.actions.comparisons import recompute_comparisons
    from exchange.security.principals import system_principal

    chosen = recompute_comparisons(db.session, system_principal("system:jobs"), job_id=job.id)
    if chosen is None:
        return {"comparison_set": None}
    summary = dict(chosen.summary or {})
    return {
        "comparison_set": chosen.id,
        "mode": summary.get("mode"),
        "recomputed_las": summary.get("recomputed_las"),
    }


@shared_task(name="exchange.schedule_comparisons", ignore_result=True)
def schedule_comparisons() -> str:
    """Celery beat's nightly safety net (``Config.celery_mapping``): queue an incremental
    comparisons job, which does nothing when nothing changed. Returns the job's id."""
    return jobs.enqueue(db.session, "comparisons", {}, dedupe_key="comparisons").id


@job_task("refresh")
def refresh_job(job: Job) -> dict[str, object]:
    """Rebuild the national release of the job's period, then every LA's comparisons."""
    from exchange.actions.refresh import refresh_period
    from exchange.security.principals import system_principal

    return refresh_period(
        db.session,
        system_principal("system:jobs"),
        str(job.params["time_period"]),
        job_id=job.id,
    )
