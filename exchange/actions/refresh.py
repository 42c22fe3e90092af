"""The refresh pipeline: after a submission is accepted, bring what others see up to date.

Submission accepted → :func:`request_refresh` queues two jobs:

1. a ``comparisons`` job (the default queue; uploads while one is queued join it): the
   incremental recompute (:func:`exchange.actions.comparisons.recompute_comparisons`) puts the
   LA's new figures into its own comparisons within seconds, against the others' figures of
   the releases that stand;
2. a ``refresh`` job per period (the analytics queue, where long release builds do not hold up
   quick jobs; a second upload for the same period while one is queued joins it), which runs
   :func:`refresh_period`: the national release of the period is rebuilt through its channel's
   privacy policy and audit gate, then the comparisons are recomputed again, now for every LA
   in that year (and the next, whose change moves too).

Each recompute makes one new comparison set current in one switch, so a view shows one
consistent set and says which releases it rests on. Users see the jobs' status (queued,
running, done, failed with a reason) on the jobs pages.

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

__all__ = ["COMPARISONS", "REFRESH", "refresh_period", "request_comparisons", "request_refresh"]

REFRESH = "refresh"
COMPARISONS = "comparisons"


def request_refresh(
    session: Session,
    time_period: str,
    *,
    organisation_id: int | None = None,
    requested_by: int | None = None,
) -> Job | None:
    """Queue the quick recompute of comparisons and the refresh of ``time_period``'s release
    (see the module docstring); returns the refresh job (None when refreshes are switched off).
    """
    if not current_app.config["EXCHANGE"].refresh_after_accept:
        return None
    jobs.enqueue(
        session,
        COMPARISONS,
        {},
        organisation_id=organisation_id,
        requested_by=requested_by,
        dedupe_key=COMPARISONS,
    )
    return jobs.enqueue(
        session,
        REFRESH,
        {"time_period": str(time_period)},
        organisation_id=organisation_id,
        requested_by=requested_by,
        dedupe_key=f"{REFRESH}:{time_period}",
    )


def request_comparisons(
    session: Session, *, organisation_id: int | None = None, requested_by: int | None = None
) -> Job | None:
    """Queue an incremental recompute of the comparisons after a change to what feeds every
    LA's figures (context data, improvement journeys, Ofsted judgements); None when automatic
    refreshes are switched off. Call it once the change is committed."""
    if not current_app.config["EXCHANGE"].refresh_after_accept:
        return None
    return jobs.enqueue(
        session,
        COMPARISONS,
        {},
        organisation_id=organisation_id,
        requested_by=requested_by,
        dedupe_key=COMPARISONS,
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
