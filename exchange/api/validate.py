"""``/api/v1``: check a file and read validation jobs (JSON).

``POST /api/v1/validate`` takes a multipart form with ``file`` (CSV or XLSX) and an optional
``authority`` (old or new LA code). A small file is validated in the request: 200 with the report
(``summary.valid`` says whether the file passed; an invalid file is still a successful check).
A large one is queued: 202 with ``Location: /api/v1/jobs/<id>`` to poll.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from exchange.actions.validation import submit_validation
from exchange.jobs import Job, JobStatus, UnknownJobError, get_job_store
from exchange.security.check_access import may_read_check, remember_check
from exchange.security.policy import Permission, requires
from schemas.reference import UnknownCodeError, load_reference

bp = Blueprint("api_validate", __name__, url_prefix="/api/v1")


def _error(status: int, title: str, detail: str) -> ResponseReturnValue:
    return jsonify({"error": {"status": status, "title": title, "detail": detail}}), status


def _links(job: Job) -> dict[str, str]:
    links = {"self": url_for(".get_job", job_id=job.id)}
    if job.status is JobStatus.DONE:
        links |= {
            "report": url_for(".get_report", job_id=job.id),
            "report_csv": url_for("validate.report_csv", job_id=job.id),
            "page": url_for("validate.job_page", job_id=job.id),
        }
    return links


def _job_json(job: Job) -> dict[str, object]:
    return {**job.to_dict(), "links": _links(job)}


@bp.post("/validate")
@requires(Permission.PUBLIC)
def validate() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _error(400, "No file", "Send the file as multipart/form-data in the field 'file'.")
    authority = (request.form.get("authority") or "").strip() or None
    if authority is not None:
        try:
            load_reference().la(authority)
        except UnknownCodeError:
            return _error(400, "Unknown authority", "'authority' is not a known LA code.")
    job = submit_validation(upload.stream, upload.filename, authority)
    remember_check(job.id)  # only this client's session may read the job and its report
    if job.status is JobStatus.QUEUED:
        location = url_for(".get_job", job_id=job.id)
        return jsonify(_job_json(job)), 202, {"Location": location}
    if job.status is JobStatus.FAILED:
        return jsonify(_job_json(job)), 500
    report = json.loads(get_job_store().load_report(job.id))
    return jsonify({"job": _job_json(job), **report}), 200


@bp.get("/jobs/<job_id>")
@requires(Permission.PUBLIC)
def get_job(job_id: str) -> ResponseReturnValue:
    try:
        job = get_job_store().get(job_id)
    except UnknownJobError:
        return _error(404, "Not found", "There is no job with this id.")
    if not may_read_check(job):  # another client's check, or an LA's submission check
        return _error(404, "Not found", "There is no job with this id.")
    return jsonify(_job_json(job))


@bp.get("/jobs/<job_id>/report")
@requires(Permission.PUBLIC)
def get_report(job_id: str) -> ResponseReturnValue:
    store = get_job_store()
    try:
        job = store.get(job_id)
    except UnknownJobError:
        return _error(404, "Not found", "There is no job with this id.")
    if not may_read_check(job):  # another client's check, or an LA's submission check
        return _error(404, "Not found", "There is no job with this id.")
    if job.status is not JobStatus.DONE:
        return _error(409, "No report", f"The job is {job.status}; it has no report.")
    response = Response(store.load_report(job_id), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
