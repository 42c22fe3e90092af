"""Check a file: upload it, then read its validation report (portal pages).

A POST creates a validation job (:mod:`exchange.actions.validation`) and redirects to the job's
page, which shows the report when the job is done, refreshes itself while it is queued or
running, and says why when it failed.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import PurePosixPath

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import SelectField

from exchange.actions.validation import report_from_json, submit_validation
from exchange.jobs import Job, JobStatus, UnknownJobError, get_job_store
from exchange.security.check_access import may_read_check, remember_check
from exchange.security.policy import Permission, requires
from schemas.reference import load_reference
from schemas.upload import Problem

bp = Blueprint("validate", __name__, url_prefix="/validate")

PAGE_SIZE = 500


def authority_choices() -> list[tuple[str, str]]:
    """Every LA, by name; the value is the old (3-digit) code, stable across GSS re-coding."""
    las = load_reference().las.sort_values("la_name")
    return [("", "Not selected")] + [
        (str(code), str(name))
        for code, name in zip(las["old_la_code"], las["la_name"], strict=True)
    ]


@bp.app_template_filter("filesize")
def filesize(n: int) -> str:
    """A byte count as people read it: 200 bytes, 512 KB, 2 MB, 1.5 MB (binary units)."""
    if n < 1024:
        return f"{n} byte{'s' if n != 1 else ''}"
    size = float(n)
    for unit in ("KB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size / 1024:.1f}".removesuffix(".0") + " GB"


class ValidateForm(FlaskForm):
    file = FileField(
        "Upload a file",
        # The file's type is checked by the validator, whose report explains what is wrong
        # (a PDF, a macro-enabled workbook ...) better than a form error could.
        validators=[FileRequired("Select a CSV or Excel file")],
    )
    authority = SelectField("Your local authority (optional)", default="")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.authority.choices = authority_choices()


@bp.route("", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
def upload() -> ResponseReturnValue:
    form = ValidateForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        job = submit_validation(
            upload_file.stream, upload_file.filename, form.authority.data or None
        )
        remember_check(job.id)
        return redirect(url_for(".job_page", job_id=job.id), code=303)
    status = 400 if form.errors else 200
    return render_template("validate/upload.html", form=form), status


def _get_job(job_id: str) -> Job:
    try:
        job = get_job_store().get(job_id)
    except UnknownJobError:
        abort(404)
    if not may_read_check(job):
        # Another browser's check, or an LA's submission check (only its own pages show it).
        abort(404)
    return job


def _no_store(response: Response) -> Response:
    # Reports quote the file's cells: keep them out of shared caches and the browser's disk.
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_numbers(current: int, last: int) -> list[int | None]:
    """Page links to show: first, last, and the neighbours of the current page; None = gap."""
    wanted = {1, last, current - 1, current, current + 1}
    pages: list[int | None] = []
    previous = 0
    for n in sorted(p for p in wanted if 1 <= p <= last):
        if previous and n - previous > 1:
            pages.append(None)
        pages.append(n)
        previous = n
    return pages


@bp.get("/jobs/<job_id>")
@requires(Permission.PUBLIC)
def job_page(job_id: str) -> ResponseReturnValue:
    context = report_context(_get_job(job_id))
    return _no_store(Response(render_template("validate/job.html", **context)))


def report_context(job: Job) -> dict[str, object]:
    """What the report templates (validate/_report_*.html) need for ``job``, with the
    ``rule`` filter and ``page`` of the request; 404 for an unknown rule or page."""
    context: dict[str, object] = {"job": job, "JobStatus": JobStatus}
    if job.status is JobStatus.DONE:
        report = report_from_json(get_job_store().load_report(job.id))
        problems = report.sorted_problems()
        rules = sorted({p.rule for p in problems})
        rule = request.args.get("rule") or None
        if rule is not None:
            if rule not in rules:
                abort(404)
            problems = [p for p in problems if p.rule == rule]
        last_page = max(1, math.ceil(len(problems) / PAGE_SIZE))
        page = request.args.get("page", 1, type=int)
        if not 1 <= page <= last_page:
            abort(404)
        start = (page - 1) * PAGE_SIZE
        context.update(
            report=report,
            summary=report.summary(),
            warnings_by_rule=_count_by_rule(report.warnings),
            rule=rule,
            problems=problems[start : start + PAGE_SIZE],
            total=len(problems),
            first_shown=start + 1,
            last_shown=min(start + PAGE_SIZE, len(problems)),
            page=page,
            last_page=last_page,
            page_numbers=_page_numbers(page, last_page),
        )
    return context


def _count_by_rule(problems: list[Problem]) -> dict[str, int]:
    return dict(sorted(Counter(p.rule for p in problems).items()))


def _download_name(job: Job, extension: str) -> str:
    stem = secure_filename(PurePosixPath(job.filename).stem) or "upload"
    return f"{stem}-validation-report.{extension}"


def _report_text(job_id: str) -> tuple[Job, str]:
    job = _get_job(job_id)
    if job.status is not JobStatus.DONE:
        abort(404)
    try:
        return job, get_job_store().load_report(job_id)
    except UnknownJobError:
        abort(404)


@bp.get("/jobs/<job_id>/report.csv")
@requires(Permission.PUBLIC)
def report_csv(job_id: str) -> Response:
    job, text = _report_text(job_id)
    body = report_from_json(text).to_csv()
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{_download_name(job, "csv")}"'
    return _no_store(response)


@bp.get("/jobs/<job_id>/report.json")
@requires(Permission.PUBLIC)
def report_json(job_id: str) -> Response:
    job, text = _report_text(job_id)
    response = Response(text, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{_download_name(job, "json")}"'
    )
    return _no_store(response)
