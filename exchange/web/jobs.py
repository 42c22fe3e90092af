"""Background jobs, as their users follow them: a list, a page per job and its status as JSON.

A job is shown to the users of the organisation it belongs to, and to administrators (who also
have the full list at ``/admin/jobs``); to anyone else it looks exactly like a job that does not
exist (404). Who may see what is decided by :mod:`exchange.actions.jobs` through the one policy:
the views only call it. A job's page refreshes itself every 2 seconds until the job has finished
(no JavaScript needed); scripts poll ``/jobs/<id>/status.json``.

Jobs hold ids, periods, counts and reasons, never a cell value. Pages are ``no-store``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, url_for
from flask.typing import ResponseReturnValue

from exchange.actions import jobs as job_actions
from exchange.extensions import db
from exchange.models.job import Job, JobStatus
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, requires

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

LIST_LIMIT = 50
STATUS_TAGS = {
    JobStatus.QUEUED: ("Queued", "govuk-tag--grey"),
    JobStatus.RUNNING: ("Running", "govuk-tag--light-blue"),
    JobStatus.DONE: ("Done", "govuk-tag--green"),
    JobStatus.FAILED: ("Failed", "govuk-tag--red"),
}
KIND_LABELS = {
    "ping": "Queue check",
    "refresh": "Release and comparisons refresh",
    "comparisons": "Comparisons update",
}


@bp.app_template_global("job_kind_label")
def kind_label(kind: str) -> str:
    """A job's kind for people: "release_build" -> "Release build"."""
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


@bp.app_template_global("job_status_tag")
def status_tag(status: JobStatus | str) -> tuple[str, str]:
    """A job status's GOV.UK tag: (text, modifier class)."""
    return STATUS_TAGS[JobStatus(status)]


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _visible(background_job_id: str) -> Job:
    """The job if the signed-in user may see it; 404 otherwise (missing or not theirs)."""
    found = job_actions.job(db.session, current_principal(), background_job_id)
    if found is None:
        abort(404)
    return found


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def status_json(job: Job) -> dict[str, object]:
    """What a client polling the job needs: its state and, once done, its result."""
    organisation = job.organisation
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "finished": job.status.finished,
        "reason": job.reason,
        "attempts": job.attempts,
        "organisation": organisation.code if organisation is not None else None,
        "created_at": _when(job.created_at),
        "started_at": _when(job.started_at),
        "finished_at": _when(job.finished_at),
        "result": job.result if job.status is JobStatus.DONE else None,
        "links": {
            "self": url_for(".job_status", background_job_id=job.id),
            "page": url_for(".job_page", background_job_id=job.id),
        },
    }


@bp.get("")
@requires(Permission.SIGNED_IN)
def index() -> ResponseReturnValue:
    principal = current_principal()
    try:
        found = job_actions.jobs(db.session, principal, limit=LIST_LIMIT)
    except PermissionError:
        abort(403)
    return render_template("jobs/list.html", jobs=found, limit=LIST_LIMIT)


@bp.get("/<background_job_id>")
@requires(Permission.SIGNED_IN)
def job_page(background_job_id: str) -> ResponseReturnValue:
    return render_template("jobs/job.html", job=_visible(background_job_id), JobStatus=JobStatus)


@bp.get("/<background_job_id>/status.json")
@requires(Permission.SIGNED_IN)
def job_status(background_job_id: str) -> ResponseReturnValue:
    return jsonify(status_json(_visible(background_job_id)))
