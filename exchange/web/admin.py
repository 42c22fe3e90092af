"""Administration: organisations, alliances, users and roles, and the audit log.

Every page needs ``Permission.ADMINISTER`` (the app-wide guard: anonymous users are sent to sign
in, anyone else gets 403), and every write calls an action in :mod:`exchange.actions`, which
checks the permission again and audits the change in the same transaction. Administrators see
no LA's indicator values here: only organisations, accounts and the audit log, whose details
never hold values.

Reading the audit log is not audited; verifying its chain is (``audit_verified``). Every page
is ``no-store``: a new user's password is shown once, and the lists name people.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

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
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from exchange.actions import accounts
from exchange.actions import jobs as job_actions
from exchange.actions.audit_log import verify_audit_log
from exchange.actions.organisations import (
    OrganisationError,
    create_alliance,
    deactivate_alliance,
    set_alliance_members,
)
from exchange.extensions import db
from exchange.models.audit import AuditEvent
from exchange.models.job import JobStatus
from exchange.models.organisation import AllianceMembership, Organisation, OrganisationKind
from exchange.models.user import Role, User
from exchange.security import clock
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50
KIND_LABELS = {
    OrganisationKind.LOCAL_AUTHORITY: "Local authority",
    OrganisationKind.ALLIANCE: "Alliance",
    OrganisationKind.NATIONAL: "National analysts",
    OrganisationKind.PLATFORM: "Platform administration",
}
# What kind of organisation each role belongs to (the policy grants nothing otherwise).
ROLE_HINTS = {
    Role.LA_SUBMITTER: "In a local authority: uploads returns and sets its sharing.",
    Role.LA_VIEWER: "In a local authority: sees its submissions and settings.",
    Role.ALLIANCE_VIEWER: "In an alliance: compares the alliance's local authorities.",
    Role.ANALYST: "In national analysts: downloads protected national aggregates.",
    Role.ADMINISTRATOR: "In platform administration: manages organisations, users and the log.",
}


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _role_choices() -> list[tuple[str, str]]:
    from exchange.web.auth import ROLE_LABELS

    return [(role.value, ROLE_LABELS[role]) for role in Role]


class AllianceForm(FlaskForm):
    name = StringField(
        "Name of the alliance",
        filters=[_strip],
        validators=[
            DataRequired("Enter a name for the alliance"),
            Length(max=200, message="The name must be 200 characters or fewer"),
        ],
    )
    las = TextAreaField(
        "Local authorities in the alliance",
        validators=[DataRequired("Enter the codes of the alliance's local authorities")],
    )


class MembersForm(FlaskForm):
    las = TextAreaField(
        "Local authorities in the alliance",
        validators=[DataRequired("Enter the codes of the alliance's local authorities")],
    )


class UserForm(FlaskForm):
    email = StringField(
        "Email address", filters=[_strip], validators=[DataRequired("Enter an email address")]
    )
    name = StringField("Full name", filters=[_strip], validators=[DataRequired("Enter a name")])
    # Choices are checked by the action (an unknown code or role is its error to report).
    organisation = SelectField(
        "Organisation", validators=[DataRequired("Select an organisation")], validate_choice=False
    )
    role = RadioField("Role", validators=[DataRequired("Select a role")], validate_choice=False)


class RoleForm(FlaskForm):
    role = RadioField("Role", validators=[DataRequired("Select a role")], validate_choice=False)


class ConfirmForm(FlaskForm):
    """A button that changes something: no fields, only the CSRF token."""


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_template_filter("kind_label")
def kind_label(kind: OrganisationKind | str) -> str:
    return KIND_LABELS.get(OrganisationKind(kind), str(kind))


# ------------------------------------------------------------------------------------- helpers


def _admin() -> Principal:
    """The signed-in administrator. The guard has checked ADMINISTER already; the actions check
    again, so a view that lost its marker still changes nothing."""
    principal = current_principal()
    if principal is None:
        abort(403)
    return principal


def _codes(text: str | None) -> list[str]:
    """LA codes typed one per line, or separated by spaces or commas."""
    return [code for code in re.split(r"[\s,;]+", text or "") if code]


def _sentence(message: str) -> str:
    """An action's message (written to follow "cannot: ...") as a sentence for the page."""
    return message[:1].upper() + message[1:] if message else message


def _organisation(code: str) -> Organisation:
    org = db.session.scalars(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        abort(404)
    return org


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > clock.now()


def _user_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(User.organisation_id, func.count(User.id)).group_by(User.organisation_id)
    )
    return {org_id: n for org_id, n in rows}


def _member_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(AllianceMembership.alliance_id, func.count(AllianceMembership.id)).group_by(
            AllianceMembership.alliance_id
        )
    )
    return {alliance_id: n for alliance_id, n in rows}


# ---------------------------------------------------------------------------------------- home


@bp.get("")
@requires(Permission.ADMINISTER)
def home() -> ResponseReturnValue:
    kinds = dict(
        db.session.execute(
            select(Organisation.kind, func.count(Organisation.id))
            .where(Organisation.is_active.is_(True))
            .group_by(Organisation.kind)
        ).all()
    )
    users = db.session.scalar(select(func.count(User.id))) or 0
    events = db.session.scalar(select(func.count(AuditEvent.id))) or 0
    return render_template("admin/home.html", kinds=kinds, users=users, events=events)


# ------------------------------------------------------------------------------- organisations


@bp.get("/organisations")
@requires(Permission.ADMINISTER)
def organisations() -> ResponseReturnValue:
    kind = request.args.get("kind", "")
    query = select(Organisation).order_by(Organisation.kind, Organisation.name)
    if kind:
        try:
            query = query.where(Organisation.kind == OrganisationKind(kind))
        except ValueError:
            abort(400)
    return render_template(
        "admin/organisations.html",
        organisations=db.session.scalars(query).all(),
        kind=kind,
        kinds=list(OrganisationKind),
        user_counts=_user_counts(),
        member_counts=_member_counts(),
    )


@bp.get("/organisations/<code>")
@requires(Permission.ADMINISTER)
def organisation(code: str) -> ResponseReturnValue:
    org = _organisation(code)
    alliance = aliased(Organisation)
    # An LA's alliances; an alliance's member LAs.
    alliances = db.session.scalars(
        select(alliance)
        .join(AllianceMembership, AllianceMembership.alliance_id == alliance.id)
        .where(AllianceMembership.la_id == org.id)
        .order_by(alliance.is_regional.desc(), alliance.name)
    ).all()
    members = sorted((m.la for m in org.memberships), key=lambda la: la.name)
    users = db.session.scalars(
        select(User).where(User.organisation_id == org.id).order_by(User.email)
    ).all()
    return render_template(
        "admin/organisation.html",
        organisation=org,
        alliances=alliances,
        members=members,
        users=users,
        is_locked=_is_locked,
    )


# ----------------------------------------------------------------------------------- alliances


@bp.get("/alliances")
@requires(Permission.ADMINISTER)
def alliances() -> ResponseReturnValue:
    rows = db.session.scalars(
        select(Organisation)
        .where(Organisation.kind == OrganisationKind.ALLIANCE)
        .order_by(Organisation.is_regional.desc(), Organisation.is_active.desc(), Organisation.name)
    ).all()
    return render_template("admin/alliances.html", alliances=rows, member_counts=_member_counts())


def _alliance_field(message: str) -> str:
    """Which field of the alliance form an action's refusal is about."""
    return "name" if re.search(r"name|reserved|already exists", message) else "las"


@bp.route("/alliances/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def new_alliance() -> ResponseReturnValue:
    form = AllianceForm()
    if form.validate_on_submit():
        try:
            alliance = create_alliance(
                db.session, _admin(), form.name.data or "", _codes(form.las.data)
            )
        except OrganisationError as exc:
            getattr(form, _alliance_field(str(exc))).errors.append(_sentence(str(exc)))
        except PermissionError:
            abort(403)
        else:
            flash(f"{alliance.name} created with {len(alliance.memberships)} members.", "success")
            return redirect(url_for(".organisation", code=alliance.code), code=303)
    status = 400 if form.errors else 200
    return render_template("admin/alliance_form.html", form=form, alliance=None), status


def _editable_alliance(code: str) -> Organisation | None:
    """The custom, active alliance ``code``; None (with a message) for one that cannot change."""
    alliance = _organisation(code)
    if alliance.kind is not OrganisationKind.ALLIANCE:
        abort(404)
    if alliance.is_regional:
        flash(f"{alliance.name} is a regional alliance: its members follow the regions.", "error")
        return None
    if not alliance.is_active:
        flash(f"{alliance.name} has been deactivated.", "error")
        return None
    return alliance


@bp.route("/alliances/<code>/members", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def alliance_members(code: str) -> ResponseReturnValue:
    alliance = _editable_alliance(code)
    if alliance is None:
        return redirect(url_for(".organisation", code=code), code=303)
    form = MembersForm()
    if request.method == "GET":
        form.las.data = "\n".join(sorted(m.la.code for m in alliance.memberships))
    if form.validate_on_submit():
        try:
            changes = set_alliance_members(db.session, _admin(), code, _codes(form.las.data))
        except OrganisationError as exc:
            form.las.errors = [*form.las.errors, _sentence(str(exc))]
        except PermissionError:
            abort(403)
        else:
            flash(
                f"Members of {alliance.name} saved: {len(changes['added'])} added, "
                f"{len(changes['removed'])} removed.",
                "success",
            )
            return redirect(url_for(".organisation", code=code), code=303)
    status = 400 if form.errors else 200
    return render_template("admin/alliance_form.html", form=form, alliance=alliance), status


@bp.route("/alliances/<code>/deactivate", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def deactivate(code: str) -> ResponseReturnValue:
    alliance = _editable_alliance(code)
    if alliance is None:
        return redirect(url_for(".organisation", code=code), code=303)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            deactivate_alliance(db.session, _admin(), code)
        except OrganisationError as exc:
            flash(_sentence(str(exc)), "error")
        except PermissionError:
            abort(403)
        else:
            flash(f"{alliance.name} deactivated: it no longer gives access to anything.", "success")
        return redirect(url_for(".alliances"), code=303)
    return render_template("admin/deactivate.html", form=form, alliance=alliance)


# --------------------------------------------------------------------------------------- users


@bp.get("/users")
@requires(Permission.ADMINISTER)
def users() -> ResponseReturnValue:
    org_code = request.args.get("organisation", "").strip()
    role = request.args.get("role", "")
    query = select(User).join(User.organisation).order_by(Organisation.name, User.email)
    if org_code:
        query = query.where(Organisation.code == org_code)
    if role:
        try:
            query = query.where(User.role == Role(role))
        except ValueError:
            abort(400)
    return render_template(
        "admin/users.html",
        users=db.session.scalars(query).unique().all(),
        organisation=org_code,
        role=role,
        role_choices=_role_choices(),
        is_locked=_is_locked,
    )


def _organisation_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """Active organisations as (kind label, [(code, name)]) groups for the select."""
    orgs = db.session.scalars(
        select(Organisation).where(Organisation.is_active.is_(True)).order_by(Organisation.name)
    ).all()
    groups = []
    for kind in (
        OrganisationKind.LOCAL_AUTHORITY,
        OrganisationKind.ALLIANCE,
        OrganisationKind.NATIONAL,
        OrganisationKind.PLATFORM,
    ):
        choices = [(o.code, f"{o.name} ({o.code})") for o in orgs if o.kind is kind]
        if choices:
            groups.append((KIND_LABELS[kind], choices))
    return groups


def _user_field(message: str) -> str:
    """Which field of the new-user form an action's refusal is about."""
    if "organisation" in message and "cannot belong" not in message:
        return "organisation"
    if "role" in message or "cannot belong" in message:
        return "role"
    if "name is required" in message:
        return "name"
    return "email"


def _new_password() -> str:
    """A strong random password (24 URL-safe characters, 144 bits), shown to the administrator
    once, to pass to the user by a separate channel."""
    return secrets.token_urlsafe(18)


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def new_user() -> ResponseReturnValue:
    form = UserForm()
    groups = _organisation_groups()
    form.organisation.choices = [("", "Select an organisation")] + [
        choice for _, choices in groups for choice in choices
    ]
    form.role.choices = _role_choices()
    if request.method == "GET" and (preset := request.args.get("organisation")):
        form.organisation.data = preset
    if form.validate_on_submit():
        password = _new_password()
        try:
            user = accounts.create_user(
                db.session,
                _admin(),
                email=form.email.data or "",
                name=form.name.data or "",
                organisation_code=form.organisation.data or "",
                role=form.role.data or "",
                password=password,
            )
        except accounts.AccountError as exc:
            getattr(form, _user_field(str(exc))).errors.append(_sentence(str(exc)))
        except PermissionError:
            abort(403)
        else:
            return render_template("admin/user_created.html", user=user, password=password)
    status = 400 if form.errors else 200
    return render_template(
        "admin/user_form.html", form=form, groups=groups, role_hints=ROLE_HINTS
    ), status


def _render_user(user: User, role_form: RoleForm | None = None, status: int = 200) -> Any:
    role_form = role_form or RoleForm(role=user.role.value)
    role_form.role.choices = _role_choices()
    return render_template(
        "admin/user.html",
        user=user,
        role_form=role_form,
        action_form=ConfirmForm(),
        locked=_is_locked(user),
        role_hints=ROLE_HINTS,
    ), status


@bp.get("/users/<int:user_id>")
@requires(Permission.ADMINISTER)
def user(user_id: int) -> ResponseReturnValue:
    return _render_user(_user(user_id))


@bp.post("/users/<int:user_id>/role")
@requires(Permission.ADMINISTER)
def change_role(user_id: int) -> ResponseReturnValue:
    target = _user(user_id)
    form = RoleForm()
    form.role.choices = _role_choices()
    if not form.validate_on_submit():
        return _render_user(target, form, 400)
    old = target.role
    try:
        changed = accounts.set_role(db.session, _admin(), target.email, form.role.data or "")
    except accounts.AccountError as exc:
        form.role.errors = [*form.role.errors, _sentence(str(exc))]
        return _render_user(target, form, 400)
    except PermissionError:
        abort(403)
    if changed.role is old:
        flash(f"{changed.email} already has that role: nothing changed.", "success")
    else:
        flash(f"{changed.email}'s role changed.", "success")
    return redirect(url_for(".user", user_id=user_id), code=303)


def _confirmed_action(user_id: int, action: Any, message: str) -> ResponseReturnValue:
    """Run an account action behind a CSRF-protected button, then back to the user's page."""
    target = _user(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        action(db.session, _admin(), target.email)
    except accounts.AccountError as exc:
        flash(_sentence(str(exc)), "error")
    except PermissionError:
        abort(403)
    else:
        flash(message.format(email=target.email), "success")
    return redirect(url_for(".user", user_id=user_id), code=303)


@bp.post("/users/<int:user_id>/reset-mfa")
@requires(Permission.ADMINISTER)
def reset_mfa(user_id: int) -> ResponseReturnValue:
    return _confirmed_action(
        user_id,
        accounts.reset_mfa,
        "MFA reset for {email}: they set up their authenticator app again at their next "
        "sign-in, and are signed out everywhere now.",
    )


@bp.post("/users/<int:user_id>/unlock")
@requires(Permission.ADMINISTER)
def unlock(user_id: int) -> ResponseReturnValue:
    return _confirmed_action(
        user_id, accounts.unlock_user, "{email} is unlocked and can sign in again."
    )


# ----------------------------------------------------------------------------------- audit log


@dataclass(frozen=True)
class AuditFilters:
    action: str
    organisation: str
    actor: str

    @classmethod
    def from_request(cls) -> AuditFilters:
        args = request.args
        return cls(
            args.get("action", "").strip(),
            args.get("organisation", "").strip(),
            args.get("actor", "").strip(),
        )

    def args(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out), for page links."""
        return {k: v for k, v in vars(self).items() if v}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.get("/audit")
@requires(Permission.ADMINISTER)
def audit_log() -> ResponseReturnValue:
    filters = AuditFilters.from_request()
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400)
    query = select(AuditEvent)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.organisation:
        org_id = db.session.scalar(
            select(Organisation.id).where(Organisation.code == filters.organisation)
        )
        query = query.where(AuditEvent.organisation_id == org_id)  # none match an unknown code
    if filters.actor:
        pattern = f"%{_escape_like(filters.actor.lower())}%"
        query = query.where(func.lower(AuditEvent.actor_label).like(pattern, escape="\\"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / AUDIT_PAGE_SIZE))
    page = min(page, pages)
    events = db.session.scalars(
        query.order_by(AuditEvent.seq.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE)
        .limit(AUDIT_PAGE_SIZE)
    ).all()
    org_ids = {e.organisation_id for e in events if e.organisation_id is not None}
    org_codes = dict(
        db.session.execute(
            select(Organisation.id, Organisation.code).where(Organisation.id.in_(org_ids))
        ).all()
    )
    actions = db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    return render_template(
        "admin/audit.html",
        events=events,
        org_codes=org_codes,
        actions=actions,
        filters=filters,
        page=page,
        pages=pages,
        total=total,
        page_size=AUDIT_PAGE_SIZE,
        verify_form=ConfirmForm(),
    )


@bp.post("/audit/verify")
@requires(Permission.ADMINISTER)
def verify() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        count, broken = verify_audit_log(db.session, _admin())
    except PermissionError:
        abort(403)
    if broken is None:
        flash(f"The audit log is intact: {count:,} entries verified.", "success")
    else:
        flash(f"The audit log is broken at entry {broken.seq:,}: {broken.reason}.", "error")
    return redirect(url_for(".audit_log"), code=303)


# ---------------------------------------------------------------------------------------- jobs

JOBS_LIMIT = 200


@bp.get("/jobs")
@requires(Permission.ADMINISTER)
def jobs() -> ResponseReturnValue:
    """Recent background jobs of every organisation (and the system's own), newest first."""
    status = request.args.get("status", "").strip()
    kind = request.args.get("kind", "").strip()
    org_code = request.args.get("organisation", "").strip()
    if status and status not in {s.value for s in JobStatus}:
        abort(400)
    organisation_id = None
    if org_code:
        organisation_id = _organisation(org_code).id
    try:
        found = job_actions.jobs(
            db.session,
            _admin(),
            organisation_id=organisation_id,
            status=status or None,
            kind=kind or None,
            limit=JOBS_LIMIT,
        )
    except PermissionError:
        abort(403)
    return render_template(
        "admin/jobs.html",
        jobs=found,
        status=status,
        kind=kind,
        organisation=org_code,
        statuses=[s.value for s in JobStatus],
        limit=JOBS_LIMIT,
    )
