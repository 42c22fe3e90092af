"""Sign in (password, then a code), MFA set-up, sign out, and the user's account page.

Thin: every decision is in :mod:`exchange.actions.accounts` (credentials, lockout, audit) and
:mod:`exchange.security.auth` (sessions, the guard). Every page here is ``no-store``: some show
a QR code, a TOTP secret or recovery codes.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import (
    Blueprint,
    Response,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from exchange.actions import accounts
from exchange.actions.accounts import SignInResult, SignInStatus
from exchange.extensions import db
from exchange.models.user import Role
from exchange.security import mfa
from exchange.security.auth import (
    SIGNED_OUT_CHANGED,
    current_account,
    end_session,
    enrolment_secret,
    is_signed_in,
    landing_endpoint,
    limiter,
    login_rate_limit,
    login_required_mfa,
    pending_started,
    pending_user,
    pending_version,
    safe_next,
    start_pending,
    start_session,
    update_session_version,
)
from exchange.security.policy import Permission, requires

bp = Blueprint("auth", __name__)

GENERIC_ERROR = "Enter a correct email address and password"
WRONG_CODE = "Enter a correct code: the 6-digit code your authenticator app shows now"
WRONG_CODE_OR_RECOVERY = (
    "Enter a correct code: the 6-digit code your authenticator app shows now, or one of your "
    "recovery codes"
)
PENDING_EXPIRED = "Your sign-in timed out. Sign in again."

ROLE_LABELS = {
    Role.LA_SUBMITTER: "Local authority submitter",
    Role.LA_VIEWER: "Local authority viewer",
    Role.ALLIANCE_VIEWER: "Alliance viewer",
    Role.ANALYST: "Analyst",
    Role.ADMINISTRATOR: "Administrator",
}


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        filters=[_strip],
        validators=[DataRequired("Enter your email address")],
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])


class CodeForm(FlaskForm):
    code = StringField("Code", filters=[_strip], validators=[DataRequired("Enter the code")])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password")]
    )
    new_password = PasswordField("New password", validators=[DataRequired("Enter a new password")])
    confirm_password = PasswordField(
        "Confirm new password",
        validators=[
            DataRequired("Enter the new password again"),
            EqualTo("new_password", "The new passwords do not match"),
        ],
    )


@bp.app_template_filter("role_label")
def role_label(role: Role | str) -> str:
    return ROLE_LABELS.get(Role(role), str(role))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(TooManyRequests)
def _too_many_requests(exc: TooManyRequests) -> ResponseReturnValue:
    return render_template(
        "error.html",
        title="Too many attempts",
        body="You have tried to sign in too many times in a short time. Wait a minute, then try "
        "again.",
        status=429,
    ), 429


def _london() -> tzinfo:
    try:
        return ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:  # no time zone database on this machine
        return UTC


def locked_message(until: datetime | None) -> str:
    local = (until or datetime.now(UTC)).astimezone(_london())
    when = f"{local.hour % 12 or 12}:{local.minute:02d}{'am' if local.hour < 12 else 'pm'}"
    return (
        "Your account is locked because of too many failed attempts to sign in. "
        f"Try again after {when}."
    )


def _refusal(result: SignInResult) -> ResponseReturnValue | None:
    """Leave the sign-in when a step says the account is locked or changed underneath it."""
    if result.status is SignInStatus.LOCKED:
        end_session(locked_message(result.locked_until))
    elif result.status is SignInStatus.EXPIRED:
        end_session(SIGNED_OUT_CHANGED)
    else:
        return None
    return redirect(url_for(".sign_in"), code=303)


def _messages() -> list[str]:
    return get_flashed_messages(category_filter=["auth"])


# ------------------------------------------------------------------------------ sign in


def _without_pending_sign_in() -> ResponseReturnValue | None:
    """Where to go instead of the second step when there is no valid pending sign-in."""
    if is_signed_in():
        return redirect(url_for(landing_endpoint(current_account())))
    started = pending_started()
    if pending_user() is not None:
        return None
    end_session(PENDING_EXPIRED if started else None)
    return redirect(url_for(".sign_in"), code=303)


@bp.route("/sign-in", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
@limiter.limit(login_rate_limit, methods=["POST"])
def sign_in() -> ResponseReturnValue:
    next_url = safe_next(request.args.get("next"))
    if is_signed_in():
        return redirect(next_url or url_for(landing_endpoint(current_account())))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        result = accounts.check_password(db.session, form.email.data, form.password.data)
        if result.ok:
            assert result.user_id is not None
            assert result.session_version is not None
            start_pending(result.user_id, result.session_version, next_url)
            step = ".mfa_setup" if result.needs_enrolment else ".mfa"
            return redirect(url_for(step), code=303)
        if result.status is SignInStatus.LOCKED:
            error = locked_message(result.locked_until)
        else:
            error = GENERIC_ERROR
    status = 400 if form.errors or error else 200
    return render_template(
        "auth/sign_in.html", form=form, error=error, next_url=next_url, messages=_messages()
    ), status


@bp.route("/sign-in/mfa", methods=["GET", "POST"], endpoint="mfa")
@requires(Permission.PUBLIC)
@limiter.limit(login_rate_limit, methods=["POST"])
def mfa_code() -> ResponseReturnValue:
    if (leave := _without_pending_sign_in()) is not None:
        return leave
    user = pending_user()
    assert user is not None
    if user.totp_secret_encrypted is None:
        return redirect(url_for(".mfa_setup"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        result = accounts.check_second_factor(
            db.session, user.id, pending_version(), form.code.data
        )
        if result.ok:
            assert result.session_version is not None
            return redirect(start_session(user, result.session_version), code=303)
        if (refusal := _refusal(result)) is not None:
            return refusal
        error = WRONG_CODE_OR_RECOVERY
    status = 400 if form.errors or error else 200
    return render_template("auth/mfa.html", form=form, error=error), status


@bp.route("/mfa/setup", methods=["GET", "POST"])
@requires(Permission.PUBLIC)
def mfa_setup() -> ResponseReturnValue:
    if (leave := _without_pending_sign_in()) is not None:
        return leave
    user = pending_user()
    assert user is not None
    if user.totp_secret_encrypted is not None:
        return redirect(url_for(".mfa"))
    secret = enrolment_secret()
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        result, codes = accounts.enrol_mfa(
            db.session, user.id, pending_version(), secret, form.code.data
        )
        if result.ok:
            assert result.session_version is not None
            next_url = start_session(user, result.session_version)
            return render_template(
                "auth/recovery_codes.html", codes=codes, continue_url=next_url, first_time=True
            )
        if (refusal := _refusal(result)) is not None:
            return refusal
        error = WRONG_CODE
    status = 400 if form.errors or error else 200
    uri = mfa.provisioning_uri(secret, user.email)
    return render_template(
        "auth/mfa_setup.html",
        form=form,
        error=error,
        # segno's SVG of a URI we built: markup with no script and no user-supplied text.
        qr_svg=Markup(mfa.qr_svg(uri)),
        secret=mfa.format_secret(secret),
    ), status


@bp.post("/sign-out")
@requires(Permission.PUBLIC)
def sign_out() -> ResponseReturnValue:
    # CSRFProtect has already refused a POST without a valid token (400).
    if is_signed_in():
        accounts.record_logout(db.session, current_account().id)
    end_session("You have signed out.")
    return redirect(url_for(".sign_in"), code=303)


# ------------------------------------------------------------------------------ account


def _render_account(form: CodeForm, error: str | None = None) -> ResponseReturnValue:
    user = current_account()
    codes_left = sum(1 for c in user.recovery_codes if c.used_at is None)
    status = 400 if form.errors or error else 200
    return render_template(
        "auth/account.html",
        user=user,
        organisation=user.organisation,
        codes_left=codes_left,
        form=form,
        error=error,
        messages=get_flashed_messages(category_filter=["account"]),
    ), status


@bp.get("/account")
@requires(Permission.SIGNED_IN)
@login_required_mfa
def account() -> ResponseReturnValue:
    return _render_account(CodeForm())


@bp.post("/account/recovery-codes")
@requires(Permission.SIGNED_IN)
@login_required_mfa
def regenerate_recovery_codes() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        return _render_account(form)
    result, codes = accounts.regenerate_recovery_codes(
        db.session, current_account().id, form.code.data
    )
    if result.ok:
        return render_template(
            "auth/recovery_codes.html",
            codes=codes,
            continue_url=url_for(".account"),
            first_time=False,
        )
    if (refusal := _refusal(result)) is not None:
        return refusal
    return _render_account(form, WRONG_CODE)


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Permission.SIGNED_IN)
@login_required_mfa
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    problems: list[str] = []
    current_error = None
    if form.validate_on_submit():
        try:
            version = accounts.change_password(
                db.session,
                current_account().id,
                form.current_password.data,
                form.new_password.data,
            )
        except accounts.AccountLockedError as exc:
            end_session(locked_message(exc.until))
            return redirect(url_for(".sign_in"), code=303)
        except accounts.WrongPasswordError:
            current_error = "Enter your correct current password"
        except accounts.WeakPasswordError as exc:
            problems = exc.problems
        else:
            update_session_version(version)
            flash("Your password has been changed.", "account")
            return redirect(url_for(".account"), code=303)
    status = 400 if form.errors or problems or current_error else 200
    return render_template(
        "auth/change_password.html",
        form=form,
        problems=problems,
        current_error=current_error,
    ), status
