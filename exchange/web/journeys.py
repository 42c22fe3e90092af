"""Improvement journeys and Ofsted judgement history in the portal (seed 4.5.7).

* ``/journey``: the signed-in user's own LA's improvement journey (start date, months since the
  start, trigger, focus areas), its earlier journeys and its Ofsted history. Its submitters
  record a new journey (which ends the current one on the new start date) or end the current
  one; its viewers see the page without the forms.
* ``/admin/ofsted``: administrators list every recorded Ofsted judgement, add one, delete one,
  or load a CSV file of them (every problem listed by row; nothing loaded unless all is well).

The guard checks each route's permission (``requires``); every read and write goes through
:mod:`exchange.actions.journeys`, which checks again and audits each change. No page holds an
indicator value; pages are ``no-store`` all the same, as the administrators' pages are.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.utils import secure_filename
from wtforms import Field, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from exchange.actions.journeys import (
    JUDGEMENTS,
    MAX_FOCUS_AREAS_LENGTH,
    MAX_TRIGGER_LENGTH,
    JourneyError,
    OfstedFileError,
    RowProblem,
    authority,
    delete_ofsted_judgement,
    end_journey,
    journey_of,
    load_ofsted_judgements,
    local_authorities,
    long_date,
    may_record_journey,
    ofsted_judgements,
    record_journey,
    record_ofsted_judgement,
)
from exchange.extensions import db
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, requires

bp = Blueprint("journeys", __name__)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class JourneyForm(FlaskForm):
    start_day = StringField("Day", filters=[_strip])
    start_month = StringField("Month", filters=[_strip])
    start_year = StringField("Year", filters=[_strip])
    trigger = StringField(
        "What triggered the journey",
        filters=[_strip],
        validators=[
            DataRequired("Enter what triggered the journey"),
            Length(
                max=MAX_TRIGGER_LENGTH,
                message=f"The trigger must be {MAX_TRIGGER_LENGTH} characters or fewer",
            ),
        ],
    )
    focus_areas = TextAreaField(
        "Focus areas",
        filters=[_strip],
        validators=[
            DataRequired("Enter the focus areas"),
            Length(
                max=MAX_FOCUS_AREAS_LENGTH,
                message=f"The focus areas must be {MAX_FOCUS_AREAS_LENGTH:,} characters or fewer",
            ),
        ],
    )


class EndForm(FlaskForm):
    end_day = StringField("Day", filters=[_strip])
    end_month = StringField("Month", filters=[_strip])
    end_year = StringField("Year", filters=[_strip])


class JudgementForm(FlaskForm):
    # Choices are the active LAs; the action resolves the code (and says if it is unknown).
    organisation = SelectField(
        "Local authority",
        validators=[DataRequired("Select a local authority")],
        validate_choice=False,
    )
    day = StringField("Day", filters=[_strip])
    month = StringField("Month", filters=[_strip])
    year = StringField("Year", filters=[_strip])
    # Choices are set on each form (as the admin forms do); the action checks the grade.
    judgement = RadioField(
        "Overall effectiveness",
        validators=[DataRequired("Select the judgement")],
        validate_choice=False,
    )


class DeleteForm(FlaskForm):
    judgement_id = HiddenField()


class UploadForm(FlaskForm):
    file = FileField(
        "Upload an Ofsted history file", validators=[FileRequired("Select a CSV file")]
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------- helpers


def _principal() -> Principal:
    principal = current_principal()
    if principal is None:
        abort(403)
    return principal


def _own_la_id(principal: Principal) -> int:
    """The signed-in user's LA (the actions check that they may act for it)."""
    if principal.organisation_id is None:
        abort(403)
    return principal.organisation_id


def _date_of(form: FlaskForm, prefix: str, what: str) -> date | None:
    """The date typed into ``<prefix>day``/``month``/``year``, or None with an error on the day
    field (the error summary links to it), worded as GOV.UK's date input pattern says."""
    day, month, year = (form[f"{prefix}{part}"] for part in ("day", "month", "year"))
    parts = {"day": day.data or "", "month": month.data or "", "year": year.data or ""}
    missing = [name for name, value in parts.items() if not value]
    if len(missing) == 3:
        day.errors = [*day.errors, f"Enter the {what.lower()}"]
        return None
    if missing:
        day.errors = [*day.errors, f"{what} must include a {' and '.join(missing)}"]
        return None
    if not all(value.isdigit() for value in parts.values()) or len(parts["year"]) != 4:
        day.errors = [*day.errors, f"{what} must be a real date"]
        return None
    try:
        return date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        day.errors = [*day.errors, f"{what} must be a real date"]
        return None


def _field_error(form: FlaskForm, fields: dict[str, str], error: JourneyError) -> None:
    """Put an action's refusal on the form field it is about (or the first field)."""
    name = fields.get(error.field or "", next(iter(fields.values())))
    field: Field = form[name]
    field.errors = [*field.errors, str(error)]


# -------------------------------------------------------------------------------- the LA's page


def _journey_page(
    principal: Principal,
    journey_form: JourneyForm | None = None,
    end_form: EndForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    organisation_id = _own_la_id(principal)
    try:
        overview = journey_of(db.session, principal, organisation_id)
    except (PermissionError, JourneyError):
        abort(403)
    return render_template(
        "journeys/journey.html",
        overview=overview,
        can_edit=may_record_journey(principal, organisation_id),
        journey_form=journey_form or JourneyForm(formdata=None),
        end_form=end_form or EndForm(formdata=None),
        long_date=long_date,
        max_trigger=MAX_TRIGGER_LENGTH,
    ), status


@bp.get("/journey")
@requires(Permission.LA_VIEW)
def journey() -> ResponseReturnValue:
    return _journey_page(_principal())


@bp.post("/journey")
@requires(Permission.LA_SUBMIT)
def record() -> ResponseReturnValue:
    principal = _principal()
    form = JourneyForm()
    valid = form.validate_on_submit()
    start = _date_of(form, "start_", "Start date")
    if not valid or start is None:
        return _journey_page(principal, journey_form=form, status=400)
    try:
        made = record_journey(
            db.session,
            principal,
            _own_la_id(principal),
            start_date=start,
            trigger=form.trigger.data or "",
            focus_areas=form.focus_areas.data or "",
        )
    except JourneyError as error:
        _field_error(
            form,
            {"start_date": "start_day", "trigger": "trigger", "focus_areas": "focus_areas"},
            error,
        )
        return _journey_page(principal, journey_form=form, status=400)
    except PermissionError:
        abort(403)
    flash(f"Improvement journey from {long_date(made.start_date)} recorded.", "success")
    return redirect(url_for(".journey"), code=303)


@bp.post("/journey/end")
@requires(Permission.LA_SUBMIT)
def end() -> ResponseReturnValue:
    principal = _principal()
    form = EndForm()
    valid = form.validate_on_submit()
    ended_on = _date_of(form, "end_", "End date")
    if not valid or ended_on is None:
        return _journey_page(principal, end_form=form, status=400)
    try:
        ended = end_journey(db.session, principal, _own_la_id(principal), ended_on=ended_on)
    except JourneyError as error:
        _field_error(form, {"ended_on": "end_day"}, error)
        return _journey_page(principal, end_form=form, status=400)
    except PermissionError:
        abort(403)
    flash(
        f"Improvement journey from {long_date(ended.start_date)} ended on "
        f"{long_date(ended.ended_on or ended.start_date)}.",
        "success",
    )
    return redirect(url_for(".journey"), code=303)


# ------------------------------------------------------------------------ the administrators'


def _ofsted_page(
    admin: Principal,
    *,
    add_form: JudgementForm | None = None,
    upload_form: UploadForm | None = None,
    problems: list[RowProblem] | None = None,
    upload_error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    try:
        judgements = ofsted_judgements(db.session, admin)
        las = local_authorities(db.session, admin)
    except PermissionError:
        abort(403)
    add_form = add_form or JudgementForm(formdata=None)
    add_form.organisation.choices = [("", "Select a local authority")] + [
        (la.code, f"{la.name} ({la.code})") for la in las
    ]
    add_form.judgement.choices = [(j, j) for j in JUDGEMENTS]
    return render_template(
        "journeys/ofsted.html",
        judgements=judgements,
        add_form=add_form,
        upload_form=upload_form or UploadForm(formdata=None),
        delete_form=DeleteForm(formdata=None),
        problems=problems or [],
        upload_error=upload_error,
        long_date=long_date,
    ), status


@bp.get("/admin/ofsted")
@requires(Permission.ADMINISTER)
def ofsted() -> ResponseReturnValue:
    return _ofsted_page(_principal())


@bp.post("/admin/ofsted")
@requires(Permission.ADMINISTER)
def add_judgement() -> ResponseReturnValue:
    admin = _principal()
    form = JudgementForm()
    valid = form.validate_on_submit()
    when = _date_of(form, "", "Inspection date")
    if not valid or when is None:
        return _ofsted_page(admin, add_form=form, status=400)
    try:
        organisation = authority(db.session, form.organisation.data or "")
        recorded = record_ofsted_judgement(
            db.session,
            admin,
            organisation.id,
            inspection_date=when,
            judgement=form.judgement.data or "",
        )
    except JourneyError as error:
        _field_error(
            form,
            {"organisation": "organisation", "inspection_date": "day", "judgement": "judgement"},
            error,
        )
        return _ofsted_page(admin, add_form=form, status=400)
    except PermissionError:
        abort(403)
    flash(
        f"{organisation.name}: {recorded.judgement} on {long_date(recorded.inspection_date)} "
        "recorded.",
        "success",
    )
    return redirect(url_for(".ofsted"), code=303)


@bp.post("/admin/ofsted/delete")
@requires(Permission.ADMINISTER)
def delete_judgement() -> ResponseReturnValue:
    admin = _principal()
    form = DeleteForm()
    if not form.validate_on_submit() or not (form.judgement_id.data or "").isdigit():
        abort(400)  # only a tampered form has no judgement to delete
    try:
        delete_ofsted_judgement(db.session, admin, int(form.judgement_id.data))
    except JourneyError as error:
        flash(str(error), "error")
    except PermissionError:
        abort(403)
    else:
        flash("Ofsted judgement deleted.", "success")
    return redirect(url_for(".ofsted"), code=303)


@bp.post("/admin/ofsted/upload")
@requires(Permission.ADMINISTER)
def upload_judgements() -> ResponseReturnValue:
    admin = _principal()
    form = UploadForm()
    if not form.validate_on_submit():
        return _ofsted_page(admin, upload_form=form, status=400)
    upload: Any = form.file.data
    filename = secure_filename(upload.filename or "") or "upload.csv"
    try:
        counts = load_ofsted_judgements(db.session, admin, upload.read(), filename)
    except OfstedFileError as error:
        return _ofsted_page(
            admin, upload_form=form, problems=error.problems, upload_error=str(error), status=400
        )
    except JourneyError as error:
        form.file.errors = [*form.file.errors, str(error)]
        return _ofsted_page(admin, upload_form=form, status=400)
    except PermissionError:
        abort(403)
    flash(
        f"{filename}: {counts['rows']} judgements for {counts['authorities']} local authorities "
        f"loaded ({counts['added']} added, {counts['replaced']} replaced, "
        f"{counts['unchanged']} unchanged).",
        "success",
    )
    return redirect(url_for(".ofsted"), code=303)
