"""Accounts: creating users, roles, passwords, MFA, and every step of signing in.

Every write runs in ONE transaction on the given session (committed on success, rolled back on
any error) together with its audit event, failed attempts included: a failed sign-in commits
its counter and its ``login_failed`` event. Passwords, TOTP codes and recovery codes never
reach an audit detail or a log line; logs name users by id only.

Signing in is two steps, both here so the web layer holds no security logic:

1. :func:`check_password` (email + password) → a *pending* sign-in;
2. :func:`check_second_factor` (TOTP or recovery code), or :func:`enrol_mfa` for a user
   without MFA yet → signed in.

Lockout: :data:`MAX_FAILED_ATTEMPTS` consecutive failures of either step (or of a code asked
for on the account page) lock the account for :data:`LOCKOUT`. Only a completed sign-in
resets the count, so knowing the password does not buy unlimited guesses at the code.

Administration (:func:`create_user`, :func:`set_role`, :func:`reset_mfa`, :func:`unlock_user`)
needs a principal who may administer (an administrator, or the CLI's system principal); a refusal
is audited.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.db import one_transaction
from exchange.models.organisation import Organisation
from exchange.models.user import RecoveryCode, Role, User
from exchange.security import clock, mfa, passwords
from exchange.security.policy import Permission, Principal, allowed

__all__ = [
    "LOCKOUT",
    "MAX_FAILED_ATTEMPTS",
    "AccountError",
    "AccountLockedError",
    "SignInResult",
    "SignInStatus",
    "WeakPasswordError",
    "WrongPasswordError",
    "change_password",
    "check_password",
    "check_second_factor",
    "create_user",
    "enrol_mfa",
    "find_user",
    "list_users",
    "normalise_email",
    "record_logout",
    "regenerate_recovery_codes",
    "reset_mfa",
    "set_role",
    "unlock_user",
    "user_label",
]

logger = logging.getLogger(__name__)

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
UNKNOWN_ACTOR = "unknown"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(ValueError):
    """A request about an account that cannot be carried out (the message is for people)."""


class WeakPasswordError(AccountError):
    """A new password breaks the policy; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class WrongPasswordError(AccountError):
    """The current password given to change it was wrong."""


class AccountLockedError(AccountError):
    def __init__(self, until: datetime) -> None:
        super().__init__("the account is locked")
        self.until = until


class SignInStatus(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"  # wrong credentials, unknown or inactive account: say nothing more
    LOCKED = "locked"  # too many failures: say when to try again
    EXPIRED = "expired"  # the account changed (password, MFA reset) since step 1: start again


@dataclass(frozen=True)
class SignInResult:
    status: SignInStatus
    user_id: int | None = None
    # The user's session_version when the step succeeded: a session carries it, and is signed
    # out when the user's changes (see exchange.security.auth).
    session_version: int | None = None
    needs_enrolment: bool = False
    locked_until: datetime | None = None
    method: str | None = None  # "totp", "recovery_code" or "enrolment"
    recovery_codes_left: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is SignInStatus.OK


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def user_label(user: User) -> str:
    """How a user appears as an actor in the audit log (as ``principal_for_user`` labels it)."""
    return f"user:{user.email}"


def _record(
    session: Session,
    action: str,
    user: User,
    *,
    actor: Principal | None = None,
    outcome: str = "success",
    **details: Any,
) -> None:
    """Audit ``action`` on ``user``: by ``actor``, or by the user themselves."""
    audit.record(
        session,
        action,
        actor_label=actor.label if actor else user_label(user),
        actor_user_id=actor.user_id if actor else user.id,
        organisation_id=user.organisation_id,
        target_type="user",
        target_id=user.id,
        outcome=outcome,
        details=details,
    )


def _locked_user(session: Session, *, user_id: int | None = None, email: str = "") -> User | None:
    """The user, row-locked for this transaction (FOR UPDATE OF the user's row only, as the
    organisation is joined in), freshly read: concurrent sign-ins then count failures and
    consume codes one after the other, never both from the same starting point."""
    query = select(User).with_for_update(of=User).execution_options(populate_existing=True)
    if user_id is not None:
        query = query.where(User.id == user_id)
    else:
        query = query.where(User.email == normalise_email(email))
    return session.execute(query).unique().scalar_one_or_none()


def _is_locked(user: User, now: datetime) -> bool:
    if user.locked_until is None:
        return False
    if user.locked_until > now:
        return True
    user.locked_until = None  # the lock has run out
    return False


def _register_failure(session: Session, user: User, now: datetime) -> SignInResult:
    """Count a failed attempt (already audited by the caller); lock the account on the last."""
    user.failed_logins += 1
    if user.failed_logins < MAX_FAILED_ATTEMPTS:
        return SignInResult(SignInStatus.FAILED)
    user.failed_logins = 0
    user.locked_until = now + LOCKOUT
    _record(
        session,
        "account_locked",
        user,
        failures=MAX_FAILED_ATTEMPTS,
        until=user.locked_until.isoformat(),
    )
    logger.warning("user %s locked after %d failed attempts", user.id, MAX_FAILED_ATTEMPTS)
    return SignInResult(SignInStatus.LOCKED, locked_until=user.locked_until)


def _succeed(user: User, now: datetime) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    codes = mfa.generate_recovery_codes()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=mfa.hash_recovery_code(code)) for code in codes
    )
    session.expire(user, ["recovery_codes"])
    return codes


def _usable(user: User | None, session_version: int | None) -> bool:
    return (
        user is not None
        and user.is_active
        and (session_version is None or user.session_version == session_version)
    )


# ------------------------------------------------------------------------------ signing in


def check_password(session: Session, email: str, password: str) -> SignInResult:
    """Step 1 of signing in. OK means "now ask for the second factor" (or enrolment).

    The answers for an unknown email, a wrong password and an inactive account are the same
    FAILED, and take about as long (an unknown email is checked against a dummy hash).
    """
    now = clock.now()
    with one_transaction(session):
        user = _locked_user(session, email=email)
        if user is None:
            passwords.verify_dummy(password)
            # The address typed is not recorded: it may be a mistyped password or another
            # person's address, and belongs to nobody the exchange knows.
            audit.record(
                session,
                "login_failed",
                actor_label=UNKNOWN_ACTOR,
                outcome="failure",
                details={"reason": "unknown_account"},
            )
            logger.info("sign-in failed: unknown account")
            return SignInResult(SignInStatus.FAILED)
        if _is_locked(user, now):
            passwords.verify_dummy(password)
            _record(session, "login_failed", user, outcome="denied", reason="locked")
            logger.info("sign-in refused: user %s is locked", user.id)
            return SignInResult(SignInStatus.LOCKED, locked_until=user.locked_until)
        if not passwords.verify_password(user.password_hash, password):
            _record(session, "login_failed", user, outcome="failure", reason="password")
            logger.info("sign-in failed: wrong password for user %s", user.id)
            return _register_failure(session, user, now)
        if not user.is_active or not user.organisation.is_active:
            _record(session, "login_failed", user, outcome="denied", reason="inactive")
            logger.info("sign-in refused: user %s is inactive", user.id)
            return SignInResult(SignInStatus.FAILED)
        if passwords.needs_rehash(user.password_hash):
            # The only moment the password is at hand: upgrade the hash to today's parameters.
            user.password_hash = passwords.hash_password(password)
            logger.info("password hash of user %s upgraded", user.id)
        return SignInResult(
            SignInStatus.OK,
            user_id=user.id,
            session_version=user.session_version,
            needs_enrolment=user.totp_secret_encrypted is None,
        )


def _use_recovery_code(session: Session, user: User, code: str, now: datetime) -> int | None:
    """Mark the matching unused recovery code used; the number left, or None if none matched."""
    unused = [c for c in user.recovery_codes if c.used_at is None]
    for candidate in unused:
        if mfa.verify_recovery_code(candidate.code_hash, code):
            candidate.used_at = now
            left = len(unused) - 1
            _record(session, "recovery_code_used", user, remaining=left)
            return left
    return None


def check_second_factor(
    session: Session, user_id: int, session_version: int, code: str
) -> SignInResult:
    """Step 2 of signing in: a TOTP code, or a recovery code (each usable once)."""
    now = clock.now()
    with one_transaction(session):
        user = _locked_user(session, user_id=user_id)
        if not _usable(user, session_version) or user.totp_secret_encrypted is None:
            return SignInResult(SignInStatus.EXPIRED)
        if _is_locked(user, now):
            _record(session, "mfa_failed", user, outcome="denied", reason="locked")
            return SignInResult(SignInStatus.LOCKED, locked_until=user.locked_until)
        method, left = None, None
        if mfa.is_totp_code(code):
            secret = mfa.open_totp_secret(user.totp_secret_encrypted)
            step = mfa.matching_step(secret, code, now, user.totp_last_step)
            if step is not None:
                user.totp_last_step, method = step, "totp"
        else:
            left = _use_recovery_code(session, user, code, now)
            if left is not None:
                method = "recovery_code"
        if method is None:
            _record(session, "mfa_failed", user, outcome="failure", stage="sign_in")
            logger.info("sign-in failed: wrong second factor for user %s", user.id)
            return _register_failure(session, user, now)
        _succeed(user, now)
        _record(session, "login_success", user, method=method)
        logger.info("user %s signed in (%s)", user.id, method)
        return SignInResult(
            SignInStatus.OK,
            user_id=user.id,
            session_version=user.session_version,
            method=method,
            recovery_codes_left=left,
        )


def enrol_mfa(
    session: Session, user_id: int, session_version: int, secret: str, code: str
) -> tuple[SignInResult, list[str]]:
    """Set up TOTP for a user who has none, proven by a code from the new secret.

    Success completes the sign-in (the user has given their password and a code) and returns
    the new recovery codes, to be shown once; they are stored only as hashes. The session
    version moves on, so any other half-finished sign-in of this account must start again.
    """
    now = clock.now()
    with one_transaction(session):
        user = _locked_user(session, user_id=user_id)
        if not _usable(user, session_version) or user.totp_secret_encrypted is not None:
            return SignInResult(SignInStatus.EXPIRED), []
        if _is_locked(user, now):
            _record(session, "mfa_failed", user, outcome="denied", reason="locked")
            return SignInResult(SignInStatus.LOCKED, locked_until=user.locked_until), []
        step = mfa.matching_step(secret, code, now, None)
        if step is None:
            _record(session, "mfa_failed", user, outcome="failure", stage="enrolment")
            return _register_failure(session, user, now), []
        user.totp_secret_encrypted = mfa.seal_totp_secret(secret)
        user.totp_last_step = step
        user.mfa_enrolled_at = now
        user.session_version += 1
        codes = _replace_recovery_codes(session, user)
        _succeed(user, now)
        _record(session, "mfa_enrolled", user, recovery_codes=len(codes))
        _record(session, "login_success", user, method="enrolment")
        logger.info("user %s set up MFA and signed in", user.id)
        result = SignInResult(
            SignInStatus.OK,
            user_id=user.id,
            session_version=user.session_version,
            method="enrolment",
            recovery_codes_left=len(codes),
        )
        return result, codes


def regenerate_recovery_codes(
    session: Session, user_id: int, code: str
) -> tuple[SignInResult, list[str]]:
    """Replace a signed-in user's recovery codes, after a fresh TOTP code (not a recovery
    code: someone holding one old code must not be able to mint ten new ones)."""
    now = clock.now()
    with one_transaction(session):
        user = _locked_user(session, user_id=user_id)
        if not _usable(user, None) or user.totp_secret_encrypted is None:
            return SignInResult(SignInStatus.EXPIRED), []
        if _is_locked(user, now):
            _record(session, "mfa_failed", user, outcome="denied", reason="locked")
            return SignInResult(SignInStatus.LOCKED, locked_until=user.locked_until), []
        secret = mfa.open_totp_secret(user.totp_secret_encrypted)
        step = mfa.matching_step(secret, code, now, user.totp_last_step)
        if step is None:
            _record(session, "mfa_failed", user, outcome="failure", stage="recovery_codes")
            return _register_failure(session, user, now), []
        user.totp_last_step = step
        user.failed_logins = 0
        codes = _replace_recovery_codes(session, user)
        _record(session, "recovery_codes_regenerated", user, recovery_codes=len(codes))
        result = SignInResult(
            SignInStatus.OK,
            user_id=user.id,
            session_version=user.session_version,
            recovery_codes_left=len(codes),
        )
        return result, codes


def record_logout(session: Session, user_id: int) -> None:
    """Sign the user out everywhere: the session is a signed cookie, not a server-side record,
    so a copy taken before signing out would stay valid until it timed out; moving the session
    version on makes every copy, in every browser, worthless at once."""
    with one_transaction(session):
        user = _locked_user(session, user_id=user_id)
        if user is not None:
            user.session_version += 1
            _record(session, "logout", user)


def change_password(
    session: Session, user_id: int, current_password: str, new_password: str
) -> int:
    """A user changes their own password; returns the new session version (every other
    session of the user is signed out). Raises WeakPasswordError, WrongPasswordError (counted
    as a failed attempt) or AccountLockedError."""
    now = clock.now()
    refusal: AccountError | None = None
    with one_transaction(session):
        user = _locked_user(session, user_id=user_id)
        if user is None or not user.is_active:
            raise AccountError("the account does not exist or is inactive")
        if _is_locked(user, now):
            refusal = AccountLockedError(user.locked_until)  # type: ignore[arg-type]
        elif not passwords.verify_password(user.password_hash, current_password):
            _record(session, "password_changed", user, outcome="failure", reason="password")
            failure = _register_failure(session, user, now)
            refusal = (
                AccountLockedError(failure.locked_until)
                if failure.locked_until
                else WrongPasswordError("the current password is wrong")
            )
        else:
            if problems := passwords.password_problems(new_password, email=user.email):
                raise WeakPasswordError(problems)
            user.password_hash = passwords.hash_password(new_password)
            user.session_version += 1
            _record(session, "password_changed", user)
            logger.info("user %s changed their password", user.id)
            version = user.session_version
    # Raised after the commit: the failure counted above must not be rolled back.
    if refusal is not None:
        raise refusal
    return version


# -------------------------------------------------------------------------- administration


def _authorise(session: Session, actor: Principal, action: str, target: str) -> None:
    """Raise PermissionError unless ``actor`` may administer; the refusal is audited."""
    if allowed(actor, Permission.ADMINISTER):
        return
    with one_transaction(session):
        audit.record_by(
            session,
            action,
            actor,
            organisation_id=actor.organisation_id,
            target_type="user",
            outcome="denied",
            details={"email": target},
        )
    raise PermissionError("only administrators manage user accounts")


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise AccountError(f"unknown role {role!r} (roles: {known})") from None


def _check_role_fits(role: Role, organisation: Organisation) -> None:
    # The policy grants nothing to a role in the wrong kind of organisation; refuse to create
    # such an account rather than leave a user who can do nothing.
    probe = Principal("probe", role, organisation.id, organisation.kind)
    if not probe.consistent:
        raise AccountError(
            f"a {role.value} cannot belong to {organisation.code} "
            f"(a {organisation.kind.value} organisation)"
        )


def _user_by_email(session: Session, email: str) -> User:
    user = _locked_user(session, email=email)
    if user is None:
        raise AccountError(f"no user has the email address {normalise_email(email)!r}")
    return user


def create_user(
    session: Session,
    actor: Principal,
    *,
    email: str,
    name: str,
    organisation_code: str,
    role: Role | str,
    password: str,
) -> User:
    """A new user, without MFA: they set it up the first time they sign in."""
    email, name, role = normalise_email(email), (name or "").strip(), _role(role)
    _authorise(session, actor, "user_created", email)
    if not _EMAIL.fullmatch(email) or len(email) > 320:
        raise AccountError(f"{email!r} is not an email address")
    if not name or len(name) > 255:
        raise AccountError("a name is required (at most 255 characters)")
    if problems := passwords.password_problems(password, email=email):
        raise WeakPasswordError(problems)
    with one_transaction(session):
        organisation = session.scalars(
            select(Organisation).where(Organisation.code == organisation_code)
        ).one_or_none()
        if organisation is None:
            raise AccountError(f"no organisation has the code {organisation_code!r}")
        _check_role_fits(role, organisation)
        if session.scalars(select(User.id).where(User.email == email)).first() is not None:
            raise AccountError(f"a user with the email address {email!r} already exists")
        user = User(
            email=email,
            name=name,
            organisation_id=organisation.id,
            role=role,
            password_hash=passwords.hash_password(password),
        )
        session.add(user)
        session.flush()
        _record(
            session,
            "user_created",
            user,
            actor=actor,
            role=role.value,
            organisation=organisation.code,
        )
        logger.info("user %s created", user.id)
        return user


def set_role(session: Session, actor: Principal, email: str, role: Role | str) -> User:
    role = _role(role)
    _authorise(session, actor, "role_changed", normalise_email(email))
    with one_transaction(session):
        user = _user_by_email(session, email)
        _check_role_fits(role, user.organisation)
        old = user.role
        if old is not role:
            user.role = role
            _record(session, "role_changed", user, actor=actor, old=old.value, new=role.value)
        return user


def reset_mfa(session: Session, actor: Principal, email: str) -> User:
    """Remove a user's TOTP secret and recovery codes (a lost phone): they set MFA up again at
    their next sign-in, and every session they have now is signed out."""
    _authorise(session, actor, "mfa_reset", normalise_email(email))
    with one_transaction(session):
        user = _user_by_email(session, email)
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        user.mfa_enrolled_at = None
        user.session_version += 1
        session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        session.expire(user, ["recovery_codes"])
        _record(session, "mfa_reset", user, actor=actor)
        return user


def unlock_user(session: Session, actor: Principal, email: str) -> User:
    """Lift a lockout before it runs out (the person has proved who they are some other way)
    and clear the count of failed attempts. Audited as ``account_unlocked`` even when the
    account was not locked, so the log shows every administrator's intervention."""
    _authorise(session, actor, "account_unlocked", normalise_email(email))
    with one_transaction(session):
        user = _user_by_email(session, email)
        was_locked = user.locked_until is not None and user.locked_until > clock.now()
        user.locked_until = None
        user.failed_logins = 0
        _record(session, "account_unlocked", user, actor=actor, was_locked=was_locked)
        return user


# ----------------------------------------------------------------------------------- reads


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def list_users(session: Session, organisation_code: str | None = None) -> list[User]:
    query = select(User).join(User.organisation).order_by(Organisation.code, User.email)
    if organisation_code is not None:
        query = query.where(Organisation.code == organisation_code)
    return list(session.scalars(query).unique())
