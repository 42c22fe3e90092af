"""The demonstration data set (``exchange demo``): synthetic returns, sharing settings, demo users.

Everything goes through the real actions, as the system actor ``system:demo``, so the demo's
data is exactly what the portal would have made and every step is in the audit log:

* :func:`load_returns` checks and accepts every LA's synthetic return for each period
  (``check_upload`` then ``accept_upload``, one transaction per file). A period an LA already
  has a submission for is left alone, so running it again is quick and changes nothing.
* :func:`apply_sharing` gives every LA that has never set its sharing the demo's settings
  (:data:`SHARING`, with a handful of LAs deciding differently: :data:`SHARING_EXCEPTIONS`).
* :func:`ensure_demo_users` creates one account of each role (:func:`demo_accounts`) under the
  reserved :data:`DEMO_DOMAIN`, with a published password and MFA already set up, and returns
  each account's TOTP secret so a person trying the demo can add it to an authenticator app.
* :func:`demo_code` gives the current TOTP code of a demo account, for trying the demo without an
  app. It refuses any account outside :data:`DEMO_DOMAIN` (``.invalid`` is reserved: no real
  address can end in it), so it can never hand out a real user's second factor.

The demo password alone does not sign anyone in: the second factor is needed too, and only
someone who can run ``exchange demo`` on the server (or read its output) has the secrets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pyotp
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.actions import accounts
from exchange.actions.sharing import update_sharing
from exchange.actions.submissions import accept_upload, check_upload
from exchange.db import one_transaction
from exchange.models.organisation import Organisation, OrganisationKind
from exchange.models.sharing import SharingSetting
from exchange.models.submission import Submission
from exchange.models.user import Role, User
from exchange.security import clock, mfa
from exchange.security.policy import Permission, Principal, Scope, allowed
from exchange.security.principals import system_principal
from schemas.synth import generate
from schemas.synth.files import file_name, frame_to_csv, split_by_upload

__all__ = [
    "DEMO_ACTOR",
    "DEMO_DOMAIN",
    "DEMO_PASSWORD",
    "DEMO_PERIODS",
    "DEMO_SEED",
    "SHARING",
    "SHARING_EXCEPTIONS",
    "DemoAccount",
    "DemoError",
    "DemoLogin",
    "ReturnsLoaded",
    "apply_sharing",
    "demo_accounts",
    "demo_actor",
    "demo_code",
    "ensure_demo_users",
    "is_demo_email",
    "load_returns",
]

DEMO_ACTOR = "system:demo"
# ".invalid" is reserved (RFC 2606): no real mailbox has such an address.
DEMO_DOMAIN = "demo.exchange.invalid"
# Published on purpose (printed by `exchange demo`, in the README): only demo accounts have it.
DEMO_PASSWORD = "benchmark trial 2026"
DEMO_SEED = 20261126
DEMO_PERIODS: tuple[int, ...] = (2022, 2023, 2024, 2025)
TIME_IDENTIFIER = "Reporting year"  # what the synthetic returns are for

# County Durham and North East neighbours, each with a submitter and a viewer.
DEMO_LAS = ("840", "841", "390", "394")

# The demo's sharing: the widely comparable domains nationally, the practice domains with
# alliances (seed 1.2: the LA decides; these are only the demo's choices).
SHARING: dict[str, Scope] = {
    "conditions_culture": Scope.ALLIANCE,
    "reaching_families": Scope.NATIONAL,
    "valued_involved": Scope.ALLIANCE,
    "child_outcomes": Scope.NATIONAL,
}
# A handful of LAs decide differently, so the demo shows that each LA chooses for itself.
SHARING_EXCEPTIONS: dict[str, dict[str, Scope]] = {
    "202": {domain: Scope.PRIVATE for domain in SHARING},  # Camden shares nothing
    "841": {"valued_involved": Scope.PRIVATE},  # Darlington, Durham's neighbour
    "806": {"child_outcomes": Scope.ALLIANCE},  # Middlesbrough
    "330": {"conditions_culture": Scope.PRIVATE},  # Birmingham
    "925": {"reaching_families": Scope.ALLIANCE},  # Lincolnshire
}
# One per-indicator override, to show that an indicator can differ from its domain.
INDICATOR_OVERRIDES: dict[str, dict[str, Scope]] = {
    "840": {"t5_domestic_violence": Scope.ALLIANCE},
}


class DemoError(ValueError):
    """A demo request that cannot be carried out (the message says why, for people)."""


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: Role
    organisation_code: str


@dataclass(frozen=True)
class DemoLogin:
    """A demo account as printed for people trying the demo."""

    email: str
    role: Role
    organisation: str
    totp_secret: str

    @property
    def otpauth_uri(self) -> str:
        return mfa.provisioning_uri(self.totp_secret, self.email)


@dataclass
class ReturnsLoaded:
    """What :func:`load_returns` did: files accepted, (LA, period) pairs already there, files
    the checks refused (``LA code/period``: should never happen with the generator's data)."""

    accepted: int = 0
    existing: int = 0
    rejected: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_actor() -> Principal:
    return system_principal(DEMO_ACTOR)


def is_demo_email(email: str) -> bool:
    return accounts.normalise_email(email).endswith("@" + DEMO_DOMAIN)


def demo_accounts() -> list[DemoAccount]:
    """One account of each role: a submitter and a viewer for County Durham and three North
    East neighbours, a viewer of the North East regional alliance, an analyst, an
    administrator."""
    names = {"840": "County Durham", "841": "Darlington", "390": "Gateshead", "394": "Sunderland"}
    found: list[DemoAccount] = []
    for code in DEMO_LAS:
        for role, kind in ((Role.LA_SUBMITTER, "submitter"), (Role.LA_VIEWER, "viewer")):
            found.append(
                DemoAccount(
                    f"{kind}.{code}@{DEMO_DOMAIN}", f"Demo {kind}, {names[code]}", role, code
                )
            )
    found += [
        DemoAccount(
            f"alliance.north-east@{DEMO_DOMAIN}",
            "Demo viewer, North East regional alliance",
            Role.ALLIANCE_VIEWER,
            "alliance-north-east",
        ),
        DemoAccount(f"analyst@{DEMO_DOMAIN}", "Demo analyst", Role.ANALYST, "national"),
        DemoAccount(f"admin@{DEMO_DOMAIN}", "Demo administrator", Role.ADMINISTRATOR, "platform"),
    ]
    return found


def _authorise(actor: Principal) -> None:
    # The demo creates users and decides for every LA: only the machine itself may.
    if not (actor.is_system and allowed(actor, Permission.ADMINISTER)):
        raise PermissionError("only the system (exchange demo) loads the demo")


# ----------------------------------------------------------------------------------- returns


def _local_authorities(session: Session, codes: Iterable[str] | None) -> dict[str, Organisation]:
    """LA organisations by old code (abolished ones too: they have past returns), limited to
    ``codes`` (old or GSS codes) if given."""
    query = select(Organisation).where(Organisation.kind == OrganisationKind.LOCAL_AUTHORITY)
    if codes is not None:
        codes = list(codes)
        query = query.where(or_(Organisation.code.in_(codes), Organisation.new_la_code.in_(codes)))
    return {org.code: org for org in session.scalars(query)}


def load_returns(
    session: Session,
    actor: Principal,
    *,
    periods: Sequence[int] = DEMO_PERIODS,
    seed: int = DEMO_SEED,
    las: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReturnsLoaded:
    """Check and accept each LA's synthetic return for each period it has none for.

    ``las`` limits the LAs (old or GSS codes; default every LA). Each file is one transaction
    (check, store encrypted, accept as version 1, with their audit events). ``progress`` is
    called with (files done, files to do).
    """
    _authorise(actor)
    started = time.perf_counter()
    result = ReturnsLoaded()
    orgs = _local_authorities(session, las)
    by_id = {org.id: org.code for org in orgs.values()}
    have = {
        (by_id[org_id], period)
        for org_id, period in session.execute(
            select(Submission.organisation_id, Submission.time_period).where(
                Submission.organisation_id.in_(by_id),
                Submission.time_identifier == TIME_IDENTIFIER,
                Submission.time_period.in_([str(p) for p in periods]),
            )
        )
    }
    result.existing = len(have)
    # LAs missing a period. Those whose code was not valid in every period (Cumbria before
    # 2024, Cumberland from 2024…) always are: generating their few returns again is quick.
    wanted = sorted({code for code in orgs if any((code, str(p)) not in have for p in periods)})
    session.rollback()  # end the read transaction before the writes
    uploads = split_by_upload(generate(list(periods), seed, las=wanted)) if wanted else []
    todo = [u for u in uploads if u[1] in orgs and (u[1], str(u[0])) not in have]
    for done, (period, code, name, part) in enumerate(todo, start=1):
        organisation = orgs[code]
        with one_transaction(session):
            _, pending = check_upload(
                session, frame_to_csv(part), file_name(code, name, period), organisation, actor
            )
            if pending is not None:
                accept_upload(session, pending.id, actor)
        if pending is None:
            result.rejected.append(f"{code}/{period}")
        else:
            result.accepted += 1
        if progress is not None:
            progress(done, len(todo))
    result.seconds = time.perf_counter() - started
    return result


# ----------------------------------------------------------------------------------- sharing


def _plan(code: str) -> tuple[dict[str, Scope], dict[str, Scope]]:
    return {**SHARING, **SHARING_EXCEPTIONS.get(code, {})}, INDICATOR_OVERRIDES.get(code, {})


def apply_sharing(session: Session, actor: Principal, las: Sequence[str] | None = None) -> int:
    """Give the demo's sharing settings to every live LA (or those of ``las``) that has no
    setting of its own yet: an LA's own choices are never overwritten. Each LA's settings are
    one transaction with one ``sharing_changed`` event per setting. Returns the number of
    settings changed."""
    _authorise(actor)
    orgs = [org for org in _local_authorities(session, las).values() if org.is_active]
    configured = set(session.scalars(select(SharingSetting.organisation_id).distinct()))
    session.rollback()
    changed = 0
    for org in sorted(orgs, key=lambda o: o.code):
        if org.id in configured:
            continue
        domains, indicators = _plan(org.code)
        changed += update_sharing(session, actor, org.id, domains=domains, indicators=indicators)
    return changed


# ------------------------------------------------------------------------------------- users


def _enrol(session: Session, actor: Principal, user_id: int) -> str:
    """Set up MFA for a demo user with a new TOTP secret (no recovery codes: the secret is
    printed, and ``exchange demo code`` gives codes). Returns the secret."""
    secret = mfa.new_totp_secret()
    with one_transaction(session):
        user = session.get(User, user_id)
        if user is None or not is_demo_email(user.email):
            raise DemoError("only demo accounts are set up by the demo")
        user.totp_secret_encrypted = mfa.seal_totp_secret(secret)
        user.totp_last_step = None
        user.mfa_enrolled_at = clock.now()
        user.session_version += 1
        audit.record_by(
            session,
            "mfa_enrolled",
            actor,
            organisation_id=user.organisation_id,
            target_type="user",
            target_id=user.id,
            details={"method": "demo"},
        )
    return secret


def ensure_demo_users(
    session: Session, actor: Principal, accounts_wanted: Sequence[DemoAccount] | None = None
) -> list[DemoLogin]:
    """Create the demo accounts that do not exist (``accounts.create_user``, with
    :data:`DEMO_PASSWORD`) and set up MFA for any without it; returns every demo account's
    login. Accounts that exist keep their password and secret."""
    _authorise(actor)
    logins = []
    for spec in accounts_wanted or demo_accounts():
        if not is_demo_email(spec.email):
            raise DemoError(f"{spec.email} is not in the demo domain {DEMO_DOMAIN}")
        user = accounts.find_user(session, spec.email)
        if user is None:
            user = accounts.create_user(
                session,
                actor,
                email=spec.email,
                name=spec.name,
                organisation_code=spec.organisation_code,
                role=spec.role,
                password=DEMO_PASSWORD,
            )
        if user.totp_secret_encrypted is None:
            secret = _enrol(session, actor, user.id)
        else:
            secret = mfa.open_totp_secret(user.totp_secret_encrypted)
        logins.append(DemoLogin(user.email, user.role, user.organisation.name, secret))
    session.rollback()
    return logins


def demo_code(session: Session, actor: Principal, email: str) -> str:
    """The TOTP code a demo account can sign in with now. Refuses any account outside
    :data:`DEMO_DOMAIN`. Audited as ``demo_code_issued`` (without the code).

    A code is accepted once, so if this step's code has been used already, the next step's
    code is given (accepted within the clock-drift window); DemoError if that is used too."""
    _authorise(actor)
    if not is_demo_email(email):
        raise DemoError(f"codes are given only for demo accounts (…@{DEMO_DOMAIN})")
    with one_transaction(session):
        user = session.scalars(
            select(User).where(User.email == accounts.normalise_email(email))
        ).one_or_none()
        if user is None or user.totp_secret_encrypted is None:
            raise DemoError(f"{email} is not a demo account with MFA set up: run exchange demo")
        totp = pyotp.TOTP(
            mfa.open_totp_secret(user.totp_secret_encrypted),
            digits=mfa.DIGITS,
            interval=mfa.INTERVAL,
        )
        now_step = totp.timecode(clock.now())
        step = now_step
        if user.totp_last_step is not None and user.totp_last_step >= step:
            step = user.totp_last_step + 1
            if step > now_step + mfa.VALID_WINDOW:
                raise DemoError("this account's codes have all been used: wait 30 seconds")
        audit.record_by(
            session,
            "demo_code_issued",
            actor,
            organisation_id=user.organisation_id,
            target_type="user",
            target_id=user.id,
            details={"ahead": step - now_step},
        )
        return totp.generate_otp(step)
