"""Test-only job tasks for tests/integration/test_jobs_worker.py, imported by the test and by the
worker it starts (``jobs_worker``): registering them needs no app."""

from __future__ import annotations

import time
from pathlib import Path

from exchange.models.job import Job
from workers.tasks import job_task

# Long enough for the test to kill the worker mid-run; the retried run does not wait.
FIRST_ATTEMPT_SLEEP = 120.0


@job_task("test_sleep", name="tests.sleep_job")
def sleep_job(job: Job) -> dict[str, int]:
    """Leave a marker per attempt; the first attempt sleeps (to be killed), later ones return.

    ``params["markers"]`` is a folder of the test's: ``started-N`` when attempt N starts,
    ``returned-N`` when it returns its result."""
    markers = Path(job.params["markers"])
    (markers / f"started-{job.attempts}").touch()
    if job.attempts == 1:
        time.sleep(FIRST_ATTEMPT_SLEEP)
    (markers / f"returned-{job.attempts}").touch()
    return {"attempt": job.attempts}
