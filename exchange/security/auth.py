"""Sessions, the sign-in guard, and who is signed in.

How another blueprint protects its pages (pick one; they are the same check):

* ``protect_blueprint(bp)``: every view of ``bp`` needs a fully signed-in user;
* ``@login_required_mfa`` on one view;
* ``@requires(Permission.X)`` from :mod:`exchange.security.policy` on a view: the app-wide
  guard here signs the user in first and then asks the policy (403 if not allowed).
  ``Permission.PUBLIC`` marks a page anyone may see.

"Fully signed in" means password AND second factor, in a session that is neither idle for
longer than ``Config.session_idle_minutes`` nor older than ``Config.session_absolute_hours``,
of an active user whose ``session_version`` still equals the one the session was started with
(changing the password, resetting MFA or signing out moves it on, ending every session).
A user who has given only their password is *pending*: Flask-Login does not know them at all
(``current_user`` is anonymous), so no protected page can be reached; the guard sends them to
the second step, the only pages open to them with ``/sign-out``.

Who is signed in: :func:`current_account` (the :class:`~exchange.models.user.User`),
:func:`current_organisation`, :func:`current_principal` (for the policy). In templates,
Flask-Login's ``current_user``.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when configured). Signing
in clears it and starts a new one (no fixation); it holds only ids, the session version and
times, never a secret (an enrolment's new TOTP secret is sealed first).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.exceptions import Forbidden

from exchange.extensions import db
from exchange.models.user import Role, User

from . import clock, mfa
from .secrets_box import SealedSecretError

if TYPE_CHECKING:
    from exchange.models.organisation import Organisation
    from exchange.security.policy import Principal

__all__ = [
    "DEFAULT_LANDING_ENDPOINT",
    "PENDING_TIMEOUT",
    "current_account",
    "current_organisation",
    "current_principal",
    "end_session",
    "enrolment_secret",
    "init_app",
    "is_signed_in",
    "landing_endpoint",
    "limiter",
    "login_manager",
    "login_rate_limit",
    "login_required_mfa",
    "pending_started",
    "pending_user",
    "pending_version",
    "protect_blueprint",
    "require_signed_in",
    "safe_next",
    "start_pending",
    "start_session",
    "update_session_version",
]

login_manager = LoginManager()
# Only the sign-in POSTs are limited (per client IP); nothing has a default limit. Behind a
# reverse proxy the app must see the client's address (werkzeug's ProxyFix), or every client
# shares the proxy's budget.
limiter = Limiter(key_func=get_remote_address)

# Where a completed sign-in lands when it was not sent from a protected page: the role's home
# (see landing_endpoint), else the account page.
DEFAULT_LANDING_ENDPOINT = "auth.account"
_ROLE_LANDING = {
    Role.LA_SUBMITTER: "submissions.home",
    Role.LA_VIEWER: "submissions.home",
    Role.ALLIANCE_VIEWER: "alliance.index",
    Role.ADMINISTRATOR: "admin.home",
}
# How long a password-only (pending) sign-in waits for its second factor or MFA set-up.
PENDING_TIMEOUT = timedelta(minutes=15)

# Session keys. Flask-Login keeps "_user_id" (and "_fresh", "_id") beside them.
_VERSION = "auth_version"
_SIGNED_IN_AT = "auth_signed_in_at"
_SEEN_AT = "auth_seen_at"
_PENDING_USER = "auth_pending_user"
_PENDING_VERSION = "auth_pending_version"
_PENDING_AT = "auth_pending_at"
_NEXT = "auth_next"
_ENROL_SECRET = "auth_enrol_secret"

SIGNED_OUT_IDLE = "You were signed out because you had not used the exchange for {minutes} minutes."
SIGNED_OUT_ABSOLUTE = "You were signed out because you signed in more than {hours} hours ago."
SIGNED_OUT_CHANGED = "You were signed out because your account changed. Sign in again."

F = TypeVar("F", bound=Callable[..., Any])


def login_rate_limit() -> str:
    """The sign-in POST limit from the config (a callable, so each app reads its own)."""
    return current_app.config["EXCHANGE"].login_rate_limit


def _now() -> float:
    return clock.now().timestamp()


def _idle_timeout() -> timedelta:
    return timedelta(minutes=current_app.config["EXCHANGE"].session_idle_minutes)


def _absolute_timeout() -> timedelta:
    return timedelta(hours=current_app.config["EXCHANGE"].session_absolute_hours)


# ------------------------------------------------------------------------ who is signed in


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user, or None (anonymous) if the session no longer stands for them."""
    version = session.get(_VERSION)
    if version is None or not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if (
        user is None
        or not user.is_active
        or not user.organisation.is_active
        or user.session_version != version
        or user.mfa_enrolled_at is None
    ):
        return None
    return user


def is_signed_in() -> bool:
    """Whether the request comes from a fully signed-in user (password and second factor)."""
    return bool(current_user.is_authenticated)


def current_account() -> User:
    """The signed-in user (a real model instance, usable in queries and actions).

    Only inside a guarded view; raises RuntimeError elsewhere rather than return nobody.
    """
    if not current_user.is_authenticated:
        raise RuntimeError("current_account() needs a signed-in user: guard the view")
    return current_user._get_current_object()  # type: ignore[no-any-return]


def current_organisation() -> Organisation:
    return current_account().organisation


def current_principal() -> Principal | None:
    """The signed-in user as the policy sees them (None when nobody is signed in)."""
    if not current_user.is_authenticated:
        return None
    if "auth_principal" not in g:
        from .principals import principal_for_user

        g.auth_principal = principal_for_user(db.session, current_account())
    return g.auth_principal


# ------------------------------------------------------------------------------- sessions


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no open redirect to another host), else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def start_pending(user_id: int, session_version: int, next_url: str | None) -> None:
    """Step 1 done: a fresh session holding only the pending sign-in."""
    session.clear()
    session.permanent = True
    session[_PENDING_USER] = user_id
    session[_PENDING_VERSION] = session_version
    session[_PENDING_AT] = _now()
    if next_url := safe_next(next_url):
        session[_NEXT] = next_url


def pending_started() -> bool:
    """Whether this session holds a pending sign-in (valid or not)."""
    return _PENDING_USER in session


def pending_user() -> User | None:
    """The user whose sign-in is pending, if it is still valid (fresh, same account version)."""
    user_id = session.get(_PENDING_USER)
    if user_id is None:
        return None
    if _now() - session.get(_PENDING_AT, 0) > PENDING_TIMEOUT.total_seconds():
        _clear_pending()
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session[_PENDING_VERSION]:
        _clear_pending()
        return None
    return user


def pending_version() -> int:
    return int(session[_PENDING_VERSION])


def _clear_pending() -> None:
    for key in (_PENDING_USER, _PENDING_VERSION, _PENDING_AT, _NEXT, _ENROL_SECRET):
        session.pop(key, None)


def enrolment_secret() -> str:
    """The new TOTP secret of the pending user's MFA set-up: made on the first visit, then
    kept (sealed: the session cookie is signed, not encrypted) until set-up completes, so the
    QR code does not change when the page is reloaded or a code is mistyped."""
    token = session.get(_ENROL_SECRET)
    if token:
        try:
            return mfa.open_totp_secret(base64.b64decode(token))
        except (SealedSecretError, ValueError):
            pass  # sealed under an older SECRET_KEY: start again with a new secret
    secret = mfa.new_totp_secret()
    session[_ENROL_SECRET] = base64.b64encode(mfa.seal_totp_secret(secret)).decode("ascii")
    return secret


def landing_endpoint(user: User) -> str:
    """The endpoint a user starts on: LA staff on their submissions, alliance viewers on their
    alliance's comparisons, administrators on the admin pages, everyone else on their account
    (also when the role's area is not registered)."""
    endpoint = _ROLE_LANDING.get(user.role, DEFAULT_LANDING_ENDPOINT)
    return endpoint if endpoint in current_app.view_functions else DEFAULT_LANDING_ENDPOINT


def start_session(user: User, session_version: int) -> str:
    """Step 2 done: replace the session with a signed-in one; returns where to go next."""
    next_url = safe_next(session.get(_NEXT)) or url_for(landing_endpoint(user))
    session.clear()  # a new session: nothing of the pending one carries over
    session.permanent = True
    login_user(user)
    now = _now()
    session[_VERSION] = session_version
    session[_SIGNED_IN_AT] = now
    session[_SEEN_AT] = now
    g.pop("auth_principal", None)
    return next_url


def update_session_version(session_version: int) -> None:
    """Keep this session signed in after the user changed their own password."""
    session[_VERSION] = session_version


def end_session(message: str | None = None) -> None:
    """Sign out of this browser's session (pending or full); ``message`` shows on sign-in."""
    logout_user()
    session.clear()
    g.pop("auth_principal", None)
    if message:
        flash(message, "auth")


def _check_session() -> None:
    """Before every request: end a session that has timed out or no longer stands for its user,
    and note activity for the idle timeout."""
    if request.endpoint == "static":
        return  # assets neither need a user nor count as activity
    if _SIGNED_IN_AT in session:
        config = current_app.config["EXCHANGE"]
        now = _now()
        if now - session[_SIGNED_IN_AT] > _absolute_timeout().total_seconds():
            end_session(SIGNED_OUT_ABSOLUTE.format(hours=config.session_absolute_hours))
        elif now - session.get(_SEEN_AT, 0) > _idle_timeout().total_seconds():
            end_session(SIGNED_OUT_IDLE.format(minutes=config.session_idle_minutes))
        elif not current_user.is_authenticated:  # version moved on, deactivated, MFA reset
            end_session(SIGNED_OUT_CHANGED)
        else:
            session[_SEEN_AT] = now
    elif "_user_id" in session:
        end_session()  # a Flask-Login session not started here: never trust it


# ---------------------------------------------------------------------------------- guard


def _unauthorised() -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        body = {"error": {"status": 401, "title": "Sign in required", "detail": "Sign in first."}}
        return jsonify(body), 401
    if (user := pending_user()) is not None:
        # Password given, second factor not yet: finish signing in first.
        endpoint = "auth.mfa_setup" if user.totp_secret_encrypted is None else "auth.mfa"
        return redirect(url_for(endpoint))
    next_url = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.sign_in", next=safe_next(next_url)))


def require_signed_in() -> ResponseReturnValue | None:
    """None if a fully signed-in user made the request; otherwise the response to send
    (the sign-in page, the second step for a pending user, or 401 JSON under /api/)."""
    if current_user.is_authenticated:
        return None
    return _unauthorised()


def login_required_mfa(view: F) -> F:
    """Decorate a view that needs a fully signed-in user."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if (refusal := require_signed_in()) is not None:
            return refusal
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def protect_blueprint(bp: Blueprint) -> Blueprint:
    """Make every view of ``bp`` need a fully signed-in user; call before registering it."""
    bp.before_request(require_signed_in)
    return bp


def _enforce_route_policy() -> ResponseReturnValue | None:
    """The app-wide guard for views marked with ``policy.requires``: sign-in, then permission.

    Fail closed: a view with no declared permission is refused (the route-map test in
    tests/integration/test_authorisation_matrix.py names it), except Flask's static files."""
    from .policy import Permission, allowed, permission_of

    if request.endpoint is None or request.endpoint == "static":
        return None  # unknown URLs become 404s; static assets are public
    view = current_app.view_functions.get(request.endpoint)
    permission = permission_of(view) if view is not None else None
    if permission is None:
        raise Forbidden()
    if permission is Permission.PUBLIC:
        return None
    if (refusal := require_signed_in()) is not None:
        return refusal
    if not allowed(current_principal(), permission):
        raise Forbidden()
    return None


def _allowed_to(permission: str) -> bool:
    """In templates: whether the signed-in user has ``permission`` (a Permission value), for
    showing links only; every page still checks for itself."""
    from .policy import Permission, allowed

    return allowed(current_principal(), Permission(permission))


def init_app(app: Flask) -> None:
    app.jinja_env.globals["allowed_to"] = _allowed_to
    login_manager.init_app(app)
    login_manager.unauthorized_handler(_unauthorised)
    limiter.init_app(app)
    # Order matters: timeouts and version checks first, then the route guard.
    app.before_request(_check_session)
    app.before_request(_enforce_route_policy)
