"""Context datasets in the portal: administrators load them; every signed-in user reads them.

* ``/admin/context`` (``ADMINISTER``): the datasets loaded, newest first, and a form to upload
  a context file. A file with problems is refused whole and the page lists each problem with
  its row, column, value and rule; ``/admin/context/template.csv`` is the file's header and an
  example row.
* ``/context`` (``SIGNED_IN``): an LA's user sees their own LA's context; anyone else (or an
  LA's user wanting another LA: ``?la=CODE``) chooses an LA.
* ``/context/<la_code>`` (``SIGNED_IN``): one LA's context figures by variable and period, with
  their units and sources. Context figures are published statistics, so any signed-in user may
  see any LA's; an unknown code is a 404.

Every read and write goes through :mod:`exchange.actions.context`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from exchange.actions import context as context_actions
from exchange.extensions import db
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, requires
from schemas.context import CONTEXT_VARIABLES, ContextFileError, context_template
from schemas.reference import UnknownCodeError, load_reference

bp = Blueprint("context", __name__)

PROBLEM_LIMIT = 500
MISSING = "–"


class ContextUploadForm(FlaskForm):
    file = FileField(
        "Upload a context file", validators=[FileRequired("Select a CSV or Excel file")]
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    # The admin pages echo an uploaded file's cells in their problem lists.
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------ administrators


def _admin_page(form: ContextUploadForm, error: ContextFileError | None, status: int) -> Response:
    session = db.session
    page = render_template(
        "context/admin.html",
        form=form,
        datasets=context_actions.datasets(session),
        current=context_actions.current_counts(session),
        error=error,
        problems=error.problems[:PROBLEM_LIMIT] if error else [],
        limit=PROBLEM_LIMIT,
        variables=CONTEXT_VARIABLES,
    )
    return Response(page, status=status)


@bp.route("/admin/context", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin() -> ResponseReturnValue:
    form = ContextUploadForm()
    principal = current_principal()
    if principal is None:
        abort(403)
    if form.validate_on_submit():
        upload = form.file.data
        try:
            dataset = context_actions.load_context(
                db.session, principal, upload.read(), upload.filename or "context.csv"
            )
        except PermissionError:
            abort(403)
        except ContextFileError as error:
            form.file.errors.append(
                f"The file was not loaded: it has {_count(len(error.problems), 'problem')}"
            )
            return _admin_page(form, error, 400)
        flash(
            f"Loaded {dataset.filename}: {_count(dataset.row_count, 'local authority row')} "
            f"for {', '.join(dataset.periods)}.",
            "success",
        )
        return redirect(url_for(".admin"), code=303)
    return _admin_page(form, None, 400 if form.errors else 200)


@bp.get("/admin/context/template.csv")
@requires(Permission.ADMINISTER)
def template() -> ResponseReturnValue:
    return Response(
        context_template(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="context-template.csv"'},
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------------- everyone


@dataclass(frozen=True)
class ContextRow:
    """One variable of an LA's context, a cell per period (None: not available)."""

    name: str
    label: str
    unit: str
    source: str
    cells: list[str | None]


def _number(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def context_rows(frame: pd.DataFrame) -> tuple[list[str], list[ContextRow]]:
    """(periods, one row per variable that has any value) from ``context_for``'s frame."""
    periods = sorted(frame["period"].unique().tolist()) if not frame.empty else []
    rows = []
    for name, spec in CONTEXT_VARIABLES.items():
        mine = frame[frame["variable"] == name]
        if mine.empty:
            continue
        by_period = dict(zip(mine["period"], mine["value"], strict=True))
        cells: list[str | None] = []
        for period in periods:
            value = by_period.get(period)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            cells.append(None if missing else _number(float(value), spec.decimals))
        rows.append(ContextRow(name, spec.label, spec.unit, spec.source, cells))
    return periods, rows


def _la_choices() -> list[tuple[str, str]]:
    las = load_reference().las.sort_values("la_name")
    return [
        (str(code), str(name))
        for code, name in zip(las["new_la_code"], las["la_name"], strict=True)
    ]


@bp.get("/context")
@requires(Permission.SIGNED_IN)
def index() -> ResponseReturnValue:
    chosen = (request.args.get("la") or "").strip()
    if chosen:
        return redirect(url_for(".la", la_code=chosen), code=303)
    own = context_actions.home_la_code(db.session, current_principal())
    if own:
        return _la_page(own)
    return render_template("context/choose.html", choices=_la_choices())


@bp.get("/context/<la_code>")
@requires(Permission.SIGNED_IN)
def la(la_code: str) -> ResponseReturnValue:
    return _la_page(la_code)


def _la_page(code: str) -> ResponseReturnValue:
    try:
        frame = context_actions.context_for(db.session, code)
        current = context_actions.current_la_code(code)
    except UnknownCodeError:
        abort(404)
    periods, rows = context_rows(frame)
    sources = sorted(set(frame["filename"])) if not frame.empty else []
    return render_template(
        "context/la.html",
        la_code=current,
        la_name=load_reference().la_name(current),
        own=context_actions.home_la_code(db.session, current_principal()) == current,
        periods=periods,
        rows=rows,
        sources=sources,
        choices=_la_choices(),
        missing=MISSING,
    )
