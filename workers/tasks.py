"""Celery tasks: thin wrappers that receive ids and call an action.

Tasks are acknowledged late and rejected if the worker dies (``Config.celery_mapping``), so a
job may run twice; the actions are safe to repeat. Nothing here logs a cell value: exceptions are
logged by type and frames only, and the task returns just the job's status.
"""

from __future__ import annotations

from celery import shared_task

from exchange.actions.validation import (
    FAILED_UNEXPECTEDLY,
    UPLOAD_UNREADABLE,
    fail_job,
    log_exception,
    run_validation_job,
)

__all__ = ["validate_upload_job"]

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
