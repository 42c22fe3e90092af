"""The refresh pipeline: after a submission is accepted, bring what others see up to date.

Submission accepted → :func:`request_refresh` queues one ``refresh`` job per period (a second
upload for the same period while one is queued joins it) → the job (``workers.tasks``) runs
:func:`refresh_period`: the national release of the period is rebuilt through its channel's
privacy policy and audit gate, then every LA's comparisons are recomputed from the current
releases, and the new comparison set becomes current in one switch. Users see the job's status
(queued, running, done, failed with a reason) on the jobs pages.

A refused release (nothing shared nationally, or the audit or a privacy budget says no) is not
a failure of the refresh: the comparisons are recomputed from the releases that stand.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from exchange.actions import jobs
from exchange.actions.comparisons import recompute_comparisons
from exchange.actions.releases import ReleaseError, build_national_release
from exchange.models import Job
from exchange.security.policy import Principal

__all__ = ["REFRESH", "refresh_period", "request_refresh"]

REFRESH = "refresh"


def request_refresh(
    session: Session,
    time_period: str,
    *,
    organisation_id: int | None = None,
    requested_by: int | None = None,
) -> Job | None:
    """Queue the refresh of ``time_period`` (None when refreshes are switched off)."""
    if not current_app.config["EXCHANGE"].refresh_after_accept:
        return None
    return jobs.enqueue(
        session,
        REFRESH,
        {"time_period": str(time_period)},
        organisation_id=organisation_id,
        requested_by=requested_by,
        dedupe_key=f"{REFRESH}:{time_period}",
    )


def refresh_period(
    session: Session, actor: Principal, time_period: str, *, job_id: str | None = None
) -> dict[str, Any]:
    """Rebuild the period's national release, then recompute every LA's comparisons; returns
    counts and ids only (the job's result)."""
    config = current_app.config["EXCHANGE"]
    result: dict[str, Any] = {"time_period": str(time_period)}
    try:
        release = build_national_release(
            session,
            actor,
            time_period=str(time_period),
            dp_budget=config.dp_budget,
            workers=config.release_workers or None,
        )
        result["release"] = release.id
    except ReleaseError:
        # Recorded as release_refused by the action; the standing releases are used.
        result["release"] = None
    comparison = recompute_comparisons(session, actor, job_id=job_id)
    result["comparison_set"] = comparison.id if comparison is not None else None
    return result
