"""Who may read an anonymous file check: the browser (or API client session) that made it.

The file checker (/validate, POST /api/v1/validate) needs no account, and its reports quote the
file's cells. A job id alone is not enough to read them: ids end up in access logs and browser
history. Each check's id is remembered in the signed session cookie of the client that uploaded
it, and only that session may read the job and its report; anyone else gets 404.
"""

from __future__ import annotations

from flask import session

from exchange.jobs import Job

__all__ = ["MAX_REMEMBERED", "may_read_check", "remember_check"]

SESSION_KEY = "file_checks"
# Enough for a working session; the cookie stays small.
MAX_REMEMBERED = 20


def remember_check(job_id: str) -> None:
    ids = [j for j in session.get(SESSION_KEY, []) if j != job_id]
    session[SESSION_KEY] = [*ids[-(MAX_REMEMBERED - 1) :], job_id]


def may_read_check(job: Job) -> bool:
    """An anonymous check made by this session (an LA's submission check never is one)."""
    return job.organisation_id is None and job.id in session.get(SESSION_KEY, [])
