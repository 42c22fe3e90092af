"""Custom comparison sets in the portal (issue 5): groups of LAs an LA or an alliance defines.

* ``/comparisons/sets``: the signed-in user's LA's own sets and the sets of its alliances. Its
  submitters create a set (``/comparisons/sets/new``), change one
  (``/comparisons/sets/edit?set=<id>``) or delete one after confirming
  (``/comparisons/sets/delete?set=<id>``); its viewers see the page without the buttons.
* ``/admin/comparison-sets``: administrators manage the alliances' sets the same way
  (``new?alliance=<code>``, ``edit?set=<id>``, ``delete?set=<id>``): an alliance's members hold
  no permission to change what the alliance shares.

Members are chosen from GOV.UK checkboxes of the live LAs, grouped by region (one ``<details>``
per region). A set is named in the query string rather than the path; another owner's set
looks exactly like one that does not exist (404). The guard checks each route's permission
(``requires``); every read and write goes through :mod:`exchange.actions.custom_sets`, which
checks again and audits each change. No page holds an indicator value; pages are ``no-store``
all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from exchange.actions.custom_sets import (
    MAX_DESCRIPTION_LENGTH,
    MAX_MEMBERS,
    MAX_NAME_LENGTH,
    CustomSetError,
    Region,
    create_set,
    delete_set,
    get_set,
    may_manage_sets,
    member_choices,
    min_members,
    sets_for,
    update_set,
)
from exchange.extensions import db
from exchange.models import CustomComparisonSet, Organisation, OrganisationKind
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, requires
from privacy.groups import MIN_CONTRIBUTORS

bp = Blueprint("custom_sets", __name__)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SetForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[_strip],
        validators=[
            DataRequired("Enter a name for the set"),
            Length(
                max=MAX_NAME_LENGTH,
                message=f"The name must be {MAX_NAME_LENGTH} characters or fewer",
            ),
        ],
    )
    description = TextAreaField(
        "Description (optional)",
        filters=[_strip],
        validators=[
            Length(
                max=MAX_DESCRIPTION_LENGTH,
                message=f"The description must be {MAX_DESCRIPTION_LENGTH:,} characters or fewer",
            )
        ],
    )
    # The LAs' 3-digit codes; the view checks them against the choices it offers.
    members = SelectMultipleField("Local authorities in the set", validate_choice=False)


class DeleteForm(FlaskForm):
    """The confirmation button: no fields, only the CSRF token."""


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Side:
    """The LA's pages or the administrators': where they live and what they go back to."""

    index: str
    new: str
    edit: str
    delete: str
    admin: bool


LA_SIDE = _Side(".index", ".new", ".edit", ".delete", admin=False)
ADMIN_SIDE = _Side(".admin_index", ".admin_new", ".admin_edit", ".admin_delete", admin=True)


def _principal() -> Principal:
    principal = current_principal()
    if principal is None:
        abort(403)
    return principal


def _own_la(principal: Principal) -> Organisation:
    org = (
        db.session.get(Organisation, principal.organisation_id)
        if principal.organisation_id is not None
        else None
    )
    if org is None or org.kind is not OrganisationKind.LOCAL_AUTHORITY:
        abort(403)
    return org


def _set_id() -> int | None:
    raw = request.args.get("set", "")
    return int(raw) if raw.isdigit() else None


def _managed_set(principal: Principal, side: _Side) -> CustomComparisonSet | None:
    """The set named by ``?set=`` that ``principal`` may change from ``side``; None when the
    query names none; 404 for a set that does not exist or is not theirs to change."""
    set_id = _set_id()
    if set_id is None:
        return None
    try:
        chosen = get_set(db.session, principal, set_id, manage=True)
    except (CustomSetError, PermissionError):
        abort(404)
    owner_is_alliance = chosen.owner.kind is OrganisationKind.ALLIANCE
    if owner_is_alliance is not side.admin:
        abort(404)  # an LA's pages change the LA's sets; the administrators', alliances'
    return chosen


def _sorted_members(chosen: CustomComparisonSet) -> list[Organisation]:
    return sorted((m.organisation for m in chosen.members), key=lambda o: o.name)


def _member_ids(form: SetForm, regions: list[Region]) -> list[int] | None:
    """The organisation ids of the codes ticked, or None with an error on the field."""
    offered = {la.code: la.id for region in regions for la in region.authorities}
    codes = [c for c in (form.members.data or []) if c]
    unknown = [c for c in codes if c not in offered]
    if unknown:
        form.members.errors = [
            *form.members.errors,
            f"Choose local authorities from the list ({', '.join(sorted(unknown)[:5])} "
            "cannot be chosen)",
        ]
        return None
    return [offered[c] for c in codes]


_FIELDS = {"name": "name", "description": "description", "members": "members"}


def _field_error(form: SetForm, error: CustomSetError) -> None:
    """Put an action's refusal on the form field it is about (or the name)."""
    field = form[_FIELDS.get(error.field or "", "name")]
    field.errors = [*field.errors, str(error)]


def _form_page(
    side: _Side,
    owner: Organisation,
    form: SetForm,
    *,
    chosen: CustomComparisonSet | None,
    action: str,
    status: int = 200,
) -> ResponseReturnValue:
    regions = member_choices(db.session, owner)
    ticked = set(form.members.data or [])
    return render_template(
        "custom_sets/form.html",
        form=form,
        owner=owner,
        chosen=chosen,
        regions=regions,
        ticked=ticked,
        action=action,
        cancel=url_for(side.index),
        admin=side.admin,
        fewest=min_members(owner),
        most=MAX_MEMBERS,
        max_name=MAX_NAME_LENGTH,
    ), status


def _save(
    principal: Principal,
    side: _Side,
    owner: Organisation,
    chosen: CustomComparisonSet | None,
    action: str,
) -> ResponseReturnValue:
    """Create (``chosen`` None) or change a set from the posted form."""
    form = SetForm()
    valid = form.validate_on_submit()
    member_ids = _member_ids(form, member_choices(db.session, owner))
    if not valid or member_ids is None:
        return _form_page(side, owner, form, chosen=chosen, action=action, status=400)
    fields = {
        "name": form.name.data or "",
        "description": form.description.data or "",
        "member_ids": member_ids,
    }
    try:
        if chosen is None:
            saved = create_set(db.session, principal, owner.id, **fields)
            verb = "created"
        else:
            saved = update_set(db.session, principal, chosen.id, **fields)
            verb = "saved"
    except CustomSetError as error:
        _field_error(form, error)
        return _form_page(side, owner, form, chosen=chosen, action=action, status=400)
    except PermissionError:
        abort(403)
    count = len(saved.members)
    flash(
        f"{saved.name} {verb} with {count} local authorit{'y' if count == 1 else 'ies'}. Your "
        "comparisons show it once they are next computed.",
        "success",
    )
    return redirect(url_for(side.index), code=303)


def _new(principal: Principal, side: _Side, owner: Organisation) -> ResponseReturnValue:
    action = url_for(side.new, alliance=owner.code) if side.admin else url_for(side.new)
    if not may_manage_sets(principal, owner):
        abort(403)
    if request.method == "POST":
        return _save(principal, side, owner, None, action)
    return _form_page(side, owner, SetForm(formdata=None), chosen=None, action=action)


def _edit(principal: Principal, side: _Side) -> ResponseReturnValue:
    chosen = _managed_set(principal, side)
    if chosen is None:
        return redirect(url_for(side.index), code=303)
    owner = chosen.owner
    action = url_for(side.edit, set=chosen.id)
    if request.method == "POST":
        return _save(principal, side, owner, chosen, action)
    form = SetForm(
        formdata=None,
        data={
            "name": chosen.name,
            "description": chosen.description,
            "members": [o.code for o in _sorted_members(chosen)],
        },
    )
    return _form_page(side, owner, form, chosen=chosen, action=action)


def _delete(principal: Principal, side: _Side) -> ResponseReturnValue:
    chosen = _managed_set(principal, side)
    if chosen is None:
        return redirect(url_for(side.index), code=303)
    form = DeleteForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            name = delete_set(db.session, principal, chosen.id)
        except CustomSetError as error:
            flash(str(error), "error")
        except PermissionError:
            abort(403)
        else:
            flash(f"{name} deleted.", "success")
        return redirect(url_for(side.index), code=303)
    return render_template(
        "custom_sets/delete.html",
        form=form,
        chosen=chosen,
        members=_sorted_members(chosen),
        action=url_for(side.delete, set=chosen.id),
        cancel=url_for(side.index),
        admin=side.admin,
    ), (400 if request.method == "POST" else 200)


# -------------------------------------------------------------------------------- the LA's pages


@bp.get("/comparisons/sets")
@requires(Permission.LA_VIEW)
def index() -> ResponseReturnValue:
    principal = _principal()
    organisation = _own_la(principal)
    try:
        own = sets_for(db.session, principal, organisation.id)
    except (PermissionError, CustomSetError):
        abort(403)
    alliances = db.session.scalars(
        select(Organisation)
        .where(
            Organisation.id.in_(sorted(principal.alliance_ids)),
            Organisation.kind == OrganisationKind.ALLIANCE,
            Organisation.is_active.is_(True),
        )
        .order_by(Organisation.is_regional.desc(), Organisation.name)
    ).all()
    shared = []
    for alliance in alliances:
        try:
            shared.extend(sets_for(db.session, principal, alliance.id))
        except PermissionError:
            continue
    return render_template(
        "custom_sets/index.html",
        organisation=organisation,
        own=own,
        shared=shared,
        can_edit=may_manage_sets(principal, organisation),
        members_of=_sorted_members,
        fewest=min_members(organisation),
        most=MAX_MEMBERS,
        minimum=MIN_CONTRIBUTORS,
    )


@bp.route("/comparisons/sets/new", methods=["GET", "POST"])
@requires(Permission.LA_SUBMIT)
def new() -> ResponseReturnValue:
    principal = _principal()
    return _new(principal, LA_SIDE, _own_la(principal))


@bp.route("/comparisons/sets/edit", methods=["GET", "POST"])
@requires(Permission.LA_SUBMIT)
def edit() -> ResponseReturnValue:
    return _edit(_principal(), LA_SIDE)


@bp.route("/comparisons/sets/delete", methods=["GET", "POST"])
@requires(Permission.LA_SUBMIT)
def delete() -> ResponseReturnValue:
    return _delete(_principal(), LA_SIDE)


# ------------------------------------------------------------------------ the administrators'


@bp.get("/admin/comparison-sets")
@requires(Permission.ADMINISTER)
def admin_index() -> ResponseReturnValue:
    principal = _principal()
    alliances = db.session.scalars(
        select(Organisation)
        .where(Organisation.kind == OrganisationKind.ALLIANCE, Organisation.is_active.is_(True))
        .order_by(Organisation.is_regional.desc(), Organisation.name)
    ).all()
    try:
        by_alliance = [(a, sets_for(db.session, principal, a.id)) for a in alliances]
    except PermissionError:
        abort(403)
    return render_template(
        "custom_sets/admin.html",
        by_alliance=by_alliance,
        members_of=_sorted_members,
        minimum=MIN_CONTRIBUTORS,
    )


@bp.route("/admin/comparison-sets/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_new() -> ResponseReturnValue:
    principal = _principal()
    code = request.args.get("alliance", "")
    alliance = db.session.scalars(
        select(Organisation).where(
            Organisation.code == code,
            Organisation.kind == OrganisationKind.ALLIANCE,
            Organisation.is_active.is_(True),
        )
    ).first()
    if alliance is None:
        if code:
            abort(404)
        return redirect(url_for(".admin_index"), code=303)
    return _new(principal, ADMIN_SIDE, alliance)


@bp.route("/admin/comparison-sets/edit", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_edit() -> ResponseReturnValue:
    return _edit(_principal(), ADMIN_SIDE)


@bp.route("/admin/comparison-sets/delete", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_delete() -> ResponseReturnValue:
    return _delete(_principal(), ADMIN_SIDE)
