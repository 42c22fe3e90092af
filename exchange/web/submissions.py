"""An LA's submissions: home, upload, the check's report, accept or discard, history, withdraw.

Every page is for the signed-in user's own LA (the policy's ``requires`` names the permission
the app-wide guard checks; each view checks again through
:func:`exchange.actions.submissions.may`, so the two cannot drift apart silently). An
upload is a validation job (:func:`exchange.actions.validation.submit_validation` with the
organisation): small files are checked in the request, large ones by the worker, and the check
page refreshes itself until the report is ready. A valid file becomes a pending upload, which
its submitter accepts (the next version of its period) or discards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from exchange.actions.audit_log import record_download
from exchange.actions.refresh import request_refresh
from exchange.actions.sharing import sharing_summary
from exchange.actions.submissions import (
    MAX_REASON_LENGTH,
    SubmissionError,
    accept_upload,
    discard_upload,
    history,
    indicators_by_version,
    latest_by_period,
    may,
    pending_uploads,
    withdraw_version,
)
from exchange.actions.validation import report_from_json, submit_validation
from exchange.extensions import db
from exchange.jobs import Job, JobStatus, UnknownJobError, get_job_store
from exchange.models.organisation import Organisation
from exchange.models.submission import (
    PendingUpload,
    PendingUploadStatus,
    SubmissionVersion,
    VersionStatus,
)
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, requires
from exchange.web.validate import report_context
from schemas.catalogue import load_catalogue

bp = Blueprint("submissions", __name__, url_prefix="/submissions")

# The reporting years the LA home lists, whether or not the LA has submitted them.
HOME_PERIODS: tuple[tuple[str, str], ...] = tuple(
    (str(year), "Reporting year") for year in range(2025, 2021, -1)
)
STATUS_TAGS = {
    VersionStatus.CURRENT: ("Current", "govuk-tag--green"),
    VersionStatus.SUPERSEDED: ("Superseded", "govuk-tag--grey"),
    VersionStatus.WITHDRAWN: ("Withdrawn", "govuk-tag--red"),
}


class UploadForm(FlaskForm):
    file = FileField(
        "Upload a file",
        # The validator's report explains a wrong file type better than a form error could.
        validators=[FileRequired("Select a CSV or Excel file")],
    )


class DecisionForm(FlaskForm):
    """Accept or discard a pending upload: no fields, just the CSRF token."""


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why are you withdrawing this version?",
        validators=[
            DataRequired("Enter why you are withdrawing this version"),
            Length(
                max=MAX_REASON_LENGTH,
                message=f"The reason must be {MAX_REASON_LENGTH:,} characters or fewer",
            ),
        ],
    )


@bp.app_template_filter("when")
def when(value: datetime | None) -> str:
    """A UTC time as GOV.UK writes dates: 5 March 2025 at 14:05 (UTC)."""
    if value is None:
        return ""
    return f"{value.day} {value:%B %Y} at {value:%H:%M}"


@bp.app_context_processor
def _status_tags() -> dict[str, object]:
    return {"status_tag": lambda status: STATUS_TAGS[VersionStatus(status)]}


# ------------------------------------------------------------------------------------- helpers


def _own_la(action: str) -> tuple[Principal, Organisation]:
    """The signed-in user's principal and LA, or 403 if they may not ``action`` its
    submissions."""
    principal = current_principal()
    if principal is None or principal.organisation_id is None:
        abort(403)
    if not may(principal, action, principal.organisation_id):
        abort(403)
    organisation = db.session.get(Organisation, principal.organisation_id)
    if organisation is None or not organisation.is_la:
        abort(403)
    return principal, organisation


def _own_job(job_id: str, organisation: Organisation) -> Job:
    """The job, if it is this LA's submission check; 404 otherwise (another LA's job does not
    exist, as far as this user can tell)."""
    try:
        job = get_job_store().get(job_id)
    except UnknownJobError:
        abort(404)
    if job.organisation_id != organisation.id:
        abort(404)
    return job


def _own_pending(pending_id: uuid.UUID, organisation: Organisation) -> PendingUpload:
    pending = db.session.get(PendingUpload, pending_id)
    if pending is None or pending.organisation_id != organisation.id:
        abort(404)
    return pending


def _own_version(version_id: int, organisation: Organisation) -> SubmissionVersion:
    version = db.session.get(SubmissionVersion, version_id)
    if version is None or version.submission.organisation_id != organisation.id:
        abort(404)
    return version


def _no_store(response: Response) -> Response:
    # Reports quote the file's cells: keep them out of shared caches and the browser's disk.
    response.headers["Cache-Control"] = "no-store"
    return response


def _sharing_url() -> str | None:
    """The sharing settings page, if the portal has one."""
    if "sharing.settings" in current_app.view_functions:
        return url_for("sharing.settings")
    return None


def _shared_counts(organisation: Organisation) -> dict[str, int]:
    """How many catalogue indicators the LA shares at each scope (by scope value)."""
    totals: dict[str, int] = {}
    for counts in sharing_summary(db.session, organisation.id).values():
        for scope, n in counts.items():
            totals[str(scope)] = totals.get(str(scope), 0) + n
    return totals


@dataclass(frozen=True)
class DomainCoverage:
    name: str
    returned: int
    total: int

    @property
    def missing(self) -> int:
        return self.total - self.returned


@dataclass(frozen=True)
class PeriodRow:
    time_period: str
    time_identifier: str
    latest: SubmissionVersion | None
    coverage: list[DomainCoverage]

    @property
    def label(self) -> str:
        return f"{self.time_identifier} {self.time_period}"

    @property
    def missing_domains(self) -> list[DomainCoverage]:
        return [c for c in self.coverage if c.returned == 0]


def _period_rows(organisation: Organisation) -> list[PeriodRow]:
    """The home periods (2022-2025) plus any other period the LA has submitted, newest first,
    each with its newest version and, for a current version, the indicators returned by
    domain."""
    latest = latest_by_period(db.session, organisation.id)
    periods = sorted(set(HOME_PERIODS) | set(latest), reverse=True)
    current_ids = [v.id for v in latest.values() if v.status is VersionStatus.CURRENT]
    returned = indicators_by_version(db.session, current_ids)
    catalogue = load_catalogue()
    domains = sorted(catalogue.domains.values(), key=lambda d: d.table)
    rows = []
    for time_period, time_identifier in periods:
        version = latest.get((time_period, time_identifier))
        coverage: list[DomainCoverage] = []
        if version is not None and version.status is VersionStatus.CURRENT:
            ids = returned[version.id]
            for domain in domains:
                members = {i.id for i in catalogue.by_domain(domain.id)}
                coverage.append(DomainCoverage(domain.name, len(members & ids), len(members)))
        rows.append(PeriodRow(time_period, time_identifier, version, coverage))
    return rows


# --------------------------------------------------------------------------------------- pages


@bp.get("")
@requires(Permission.LA_VIEW)
def home() -> ResponseReturnValue:
    principal, organisation = _own_la("view")
    can_submit = may(principal, "upload", organisation.id)
    return render_template(
        "submissions/home.html",
        organisation=organisation,
        periods=_period_rows(organisation),
        pending=pending_uploads(db.session, organisation.id) if can_submit else [],
        can_submit=can_submit,
        sharing_url=_sharing_url(),
        shared=_shared_counts(organisation),
    )


@bp.route("/upload", methods=["GET", "POST"])
@requires(Permission.LA_SUBMIT)
def upload() -> ResponseReturnValue:
    principal, organisation = _own_la("upload")
    form = UploadForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        job = submit_validation(
            upload_file.stream,
            upload_file.filename,
            organisation.code,
            organisation_id=organisation.id,
            actor_user_id=principal.user_id,
            actor_label=principal.label,
        )
        return redirect(url_for(".check_page", job_id=job.id), code=303)
    status = 400 if form.errors else 200
    return render_template("submissions/upload.html", form=form, organisation=organisation), status


@bp.get("/checks/<job_id>")
@requires(Permission.LA_SUBMIT)
def check_page(job_id: str) -> ResponseReturnValue:
    _, organisation = _own_la("upload")
    job = _own_job(job_id, organisation)
    context = report_context(job)
    pending = None
    if job.pending_upload_id is not None:
        pending = db.session.get(PendingUpload, uuid.UUID(job.pending_upload_id))
    page = render_template(
        "submissions/check.html",
        organisation=organisation,
        pending=pending,
        decision_form=DecisionForm(),
        PendingUploadStatus=PendingUploadStatus,
        report_endpoint="submissions.check_page",
        report_csv_endpoint="submissions.report_csv",
        report_json_endpoint="submissions.report_json",
        **context,
    )
    return _no_store(Response(page))


def _report_download(job_id: str, extension: str) -> Response:
    _, organisation = _own_la("upload")
    job = _own_job(job_id, organisation)
    if job.status is not JobStatus.DONE:
        abort(404)
    try:
        text = get_job_store().load_report(job.id)
    except UnknownJobError:
        abort(404)
    if extension == "csv":
        response = Response(report_from_json(text).to_csv(), mimetype="text/csv")
    else:
        response = Response(text, mimetype="application/json")
    record_download(
        db.session,
        current_principal(),  # type: ignore[arg-type]  # the route requires sign-in
        what="validation_report",
        target_id=job.id,
        organisation_id=organisation.id,
        media_type=response.mimetype,
    )
    stem = secure_filename(PurePosixPath(job.filename).stem) or "upload"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{stem}-validation-report.{extension}"'
    )
    return _no_store(response)


@bp.get("/checks/<job_id>/report.csv")
@requires(Permission.LA_SUBMIT)
def report_csv(job_id: str) -> Response:
    return _report_download(job_id, "csv")


@bp.get("/checks/<job_id>/report.json")
@requires(Permission.LA_SUBMIT)
def report_json(job_id: str) -> Response:
    return _report_download(job_id, "json")


@bp.get("/uploads/<uuid:pending_id>")
@requires(Permission.LA_SUBMIT)
def pending_page(pending_id: uuid.UUID) -> ResponseReturnValue:
    _, organisation = _own_la("upload")
    pending = _own_pending(pending_id, organisation)
    # A portal upload's pending id is its job's id: link to the full report if it is kept
    # (a CLI upload has no job).
    try:
        job: Job | None = get_job_store().get(str(pending.id))
    except UnknownJobError:
        job = None
    if job is not None and job.organisation_id != organisation.id:
        job = None
    return render_template(
        "submissions/pending.html",
        organisation=organisation,
        pending=pending,
        job=job,
        decision_form=DecisionForm(),
        PendingUploadStatus=PendingUploadStatus,
    )


@bp.post("/uploads/<uuid:pending_id>/accept")
@requires(Permission.LA_SUBMIT)
def accept(pending_id: uuid.UUID) -> ResponseReturnValue:
    principal, organisation = _own_la("accept")
    pending = _own_pending(pending_id, organisation)
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        with db.transaction() as session:
            version = accept_upload(session, pending.id, principal)
    except SubmissionError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".pending_page", pending_id=pending_id), code=303)
    except PermissionError:
        abort(403)
    flash(
        f"{pending.period_label} accepted as version {version.number} "
        f"({version.row_count:,} rows).",
        "success",
    )
    job = request_refresh(
        db.session,
        pending.time_period,
        organisation_id=organisation.id,
        requested_by=principal.user_id,
    )
    if job is not None:
        flash(
            "Your comparisons will show these figures within seconds; the national release "
            "and everyone else's comparisons are being refreshed after that. Follow both on "
            "your jobs page.",
            "info",
        )
    return redirect(url_for(".history_page", _anchor=f"submission-{version.submission_id}"), 303)


@bp.post("/uploads/<uuid:pending_id>/discard")
@requires(Permission.LA_SUBMIT)
def discard(pending_id: uuid.UUID) -> ResponseReturnValue:
    principal, organisation = _own_la("discard")
    pending = _own_pending(pending_id, organisation)
    if not DecisionForm().validate_on_submit():
        abort(400)
    try:
        with db.transaction() as session:
            discard_upload(session, pending.id, principal)
    except SubmissionError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".pending_page", pending_id=pending_id), code=303)
    except PermissionError:
        abort(403)
    flash(f"{pending.filename} discarded: it was not submitted.", "success")
    return redirect(url_for(".home"), code=303)


@bp.get("/history")
@requires(Permission.LA_VIEW)
def history_page() -> ResponseReturnValue:
    principal, organisation = _own_la("view")
    return render_template(
        "submissions/history.html",
        organisation=organisation,
        submissions=history(db.session, organisation.id),
        can_withdraw=may(principal, "withdraw", organisation.id),
        VersionStatus=VersionStatus,
    )


@bp.route("/versions/<int:version_id>/withdraw", methods=["GET", "POST"])
@requires(Permission.LA_SUBMIT)
def withdraw(version_id: int) -> ResponseReturnValue:
    principal, organisation = _own_la("withdraw")
    version = _own_version(version_id, organisation)
    if version.status is VersionStatus.WITHDRAWN:
        flash(f"Version {version.number} has already been withdrawn.", "error")
        return redirect(url_for(".history_page"), code=303)
    form = WithdrawForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as session:
                withdraw_version(session, version.id, principal, form.reason.data or "")
        except SubmissionError as exc:
            form.reason.errors = [*form.reason.errors, str(exc)]
        except PermissionError:
            abort(403)
        else:
            flash(
                f"Version {version.number} of {version.submission.period_label} withdrawn.",
                "success",
            )
            return redirect(
                url_for(".history_page", _anchor=f"submission-{version.submission_id}"), 303
            )
    status = 400 if form.errors else 200
    return render_template(
        "submissions/withdraw.html", form=form, organisation=organisation, version=version
    ), status
