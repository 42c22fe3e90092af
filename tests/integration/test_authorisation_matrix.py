"""The authorisation matrix: every route and CLI command × every kind of principal × own,
same-alliance and other LAs' objects (PostgreSQL in CI).

Generated, not hand-written: the routes come from ``app.url_map``, each route's permission from
``policy.permission_of`` on its view, and the expected outcome of every request from
``policy.allowed`` plus who owns the object in the URL. A new route without a permission, a new
URL parameter, a new public page or a new CLI command fails here until it is classified, so the
matrix grows with the portal.

The world: LAs A (County Durham, North East) and B (Bradford, Yorkshire and The Humber) in one
custom alliance, each also in its regional alliance from the reference data; C (Camden, London)
in neither. One user of each kind: A's submitter and viewer, B's and C's submitters, a viewer of
the custom alliance, an analyst, an administrator, and nobody (anonymous). Each LA has an
accepted submission (2024), and a check job whose valid file is a pending upload (2023); one
anonymous file check (the public validator) has a job too.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import uuid
from dataclasses import dataclass

import click
import pandas as pd
import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from exchange.actions import accounts, jobs
from exchange.actions.organisations import (
    alliance_code,
    create_alliance,
    ensure_default_organisations,
)
from exchange.actions.sharing import update_sharing
from exchange.actions.submissions import accept_upload, check_upload
from exchange.actions.validation import submit_validation
from exchange.cli import main
from exchange.extensions import db
from exchange.models import AuditEvent, Organisation, User
from exchange.security.policy import (
    Channel,
    Permission,
    Principal,
    Scope,
    Visibility,
    allowed,
    permission_of,
)
from exchange.security.principals import (
    principal_for_user,
    system_principal,
    visible_value,
    visible_values,
)
from schemas.catalogue import load_catalogue
from schemas.synth import generate

pytestmark = pytest.mark.integration

A, B, C = "840", "380", "202"  # County Durham, Bradford, Camden: three different regions
ALLIANCE_NAME = "Matrix partnership"  # A and B's custom alliance
ALLIANCE_MEMBERS = frozenset({A, B})
PASSWORD = "tangerine kettle orbit swimming"
SEED = 11
SYSTEM = system_principal("system:test")
PUBLIC_VALID_CSV = (  # the anonymous check's file: one row, no distinctive number
    b"time_period,time_identifier,geographic_level,new_la_code,old_la_code,la_name,"
    b"indicator_id,breakdown_topic,breakdown,numerator,denominator,value\n"
    b"2025,Reporting year,Local authority,E06000047,840,County Durham,"
    b"t3_referrals_nfa,Total,Total,10,100,10.0\n"
)

# Routes anyone may use without signing in. A route marked Permission.PUBLIC must be listed
# here (and the reason given), so nothing becomes public by a slip of the decorator.
PUBLIC_ENDPOINTS = frozenset(
    {
        # The sign-in steps themselves; the second step and MFA set-up check the pending
        # (password-only) sign-in in the view and send anyone else back to the first step.
        "auth.sign_in",
        "auth.mfa",
        "auth.mfa_setup",
        # Ends whatever session the browser has (a CSRF-protected POST).
        "auth.sign_out",
        # The published indicator catalogue: definitions only, no LA's data.
        "catalogue.index",
        "catalogue.catalogue_list",
        "catalogue.indicator_detail",
        # The data contract's file check (issue 2): stores nothing but its own job, readable
        # only by the browser session that made it (exchange.security.check_access); it never
        # serves an LA's submission check (those are under /submissions, for the LA only).
        "validate.upload",
        "validate.job_page",
        "validate.report_csv",
        "validate.report_json",
        # The same check for machines (the API has no accounts yet).
        "api_validate.validate",
        "api_validate.get_job",
        "api_validate.get_report",
    }
)
# Requests that end the principal's session: made last, after everything else.
SESSION_ENDING = frozenset({"auth.sign_out"})
# The permissions of an LA's own pages: they serve only the principal's own LA's objects.
LA_PERMISSIONS = frozenset({Permission.LA_VIEW, Permission.LA_SUBMIT})
UNOWNED = "unowned"  # catalogue entries and the like: no tenant, anyone allowed may see them
ANONYMOUS_CHECK = "anonymous check"  # the public validator's job: public routes only
ADMINISTERED = "administered"  # organisations and user accounts: the administrators' pages only
SYSTEM_JOB = "system job"  # a background job of no organisation: administrators only


# ------------------------------------------------------------------------------------ the world


@dataclass(frozen=True)
class Who:
    name: str
    role: str | None  # None: anonymous
    org: str | None  # organisation code
    address: str  # the client's IP: the sign-in rate limit is per address

    @property
    def email(self) -> str:
        return f"{self.name}@matrix.example"


PRINCIPALS = (
    Who("anonymous", None, None, "10.77.0.1"),
    Who("a-submitter", "la_submitter", A, "10.77.0.2"),
    Who("a-viewer", "la_viewer", A, "10.77.0.3"),
    Who("b-submitter", "la_submitter", B, "10.77.0.4"),
    Who("c-submitter", "la_submitter", C, "10.77.0.5"),
    Who("alliance-viewer", "alliance_viewer", alliance_code(ALLIANCE_NAME), "10.77.0.6"),
    Who("analyst", "analyst", "national", "10.77.0.7"),
    Who("administrator", "administrator", "platform", "10.77.0.8"),
)
BY_NAME = {who.name: who for who in PRINCIPALS}


@dataclass(frozen=True)
class Target:
    """A value for a URL parameter: an object of the world (or one that does not exist)."""

    label: str
    value: str
    owner: str | None  # an LA code, UNOWNED, ANONYMOUS_CHECK, ADMINISTERED; None: missing


@dataclass
class World:
    org_ids: dict[str, int]
    user_ids: dict[str, int]
    targets: dict[str, list[Target]]  # URL parameter name -> its values
    tokens: frozenset[str]  # A's distinctive raw numerators


def synthetic(year: int, la: str) -> pd.DataFrame:
    return generate([year], SEED, las=[la])


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def numbers(frame: pd.DataFrame, column: str) -> set[int]:
    return set(pd.to_numeric(frame[column], errors="coerce").dropna().astype(int))


def distinctive_tokens(files: dict[str, list[pd.DataFrame]]) -> frozenset[str]:
    """Numerators of A's files that can only mean A's raw data if they show anywhere: four
    digits or more, not a year, in no other LA's file, not a file's row count."""
    own = set().union(*(numbers(f, "numerator") for f in files[A]))
    others = set().union(
        *(
            numbers(f, col)
            for la in (B, C)
            for f in files[la]
            for col in ("numerator", "denominator")
        )
    )
    rows = {len(f) for frames in files.values() for f in frames}
    tokens = {n for n in own - others - rows if n >= 1000 and not 1900 <= n <= 2100}
    assert len(tokens) >= 10, "A's synthetic files have distinctive numerators to look for"
    found = frozenset(str(n) for n in tokens)
    shown = "".join(f.to_csv(index=False) for f in files[A])
    assert leaked(shown, found) == found, "the leak check finds every token in A's own files"
    return found


def build_world(app: Flask) -> World:
    """Organisations, users, submissions, pending uploads and jobs (through the actions)."""
    files = {la: [synthetic(2024, la), synthetic(2023, la)] for la in (A, B, C)}
    targets: dict[str, list[Target]] = {
        "job_id": [],
        "background_job_id": [],
        "pending_id": [],
        "version_id": [],
        "indicator_id": [
            Target("a catalogue indicator", next(iter(load_catalogue().indicators)), UNOWNED),
            Target("no such indicator", "no_such_indicator", None),
        ],
        # An alliance's code is valid on every route taking a code (organisation and
        # alliance pages); an LA's would be refused by the alliance pages.
        "code": [
            Target("A and B's alliance", alliance_code(ALLIANCE_NAME), ADMINISTERED),
            Target("no such organisation", "no-such-organisation", None),
        ],
        "user_id": [Target("no such user", "999999", None)],
        # Context figures are published statistics: any signed-in user may see any LA's.
        "la_code": [
            Target("an LA's context", "E06000047", UNOWNED),
            Target("no such LA", "E99999999", None),
        ],
    }
    with app.app_context():
        session = db.session
        ensure_default_organisations(session)
        create_alliance(session, SYSTEM, ALLIANCE_NAME, sorted(ALLIANCE_MEMBERS))
        orgs = {o.code: o for o in session.scalars(select(Organisation))}
        # The alliance reasoning below assumes no principal's LA shares a region with another.
        assert len({orgs[la].region_code for la in (A, B, C)}) == 3
        user_ids = {}
        for who in PRINCIPALS:
            if who.role is None:
                continue
            user = accounts.create_user(
                session,
                SYSTEM,
                email=who.email,
                name=who.name,
                organisation_code=who.org or "",
                role=who.role,
                password=PASSWORD,
            )
            user_ids[who.name] = user.id
        # The user the administrators' pages act on (reset MFA ...): nobody the matrix signs in.
        bystander = accounts.create_user(
            session,
            SYSTEM,
            email="bystander@matrix.example",
            name="Bystander",
            organisation_code=C,
            role="la_viewer",
            password=PASSWORD,
        )
        targets["user_id"].insert(0, Target("a user of C", str(bystander.id), ADMINISTERED))
        for la in (A, B, C):
            org = orgs[la]
            with db.transaction() as tx:
                _, pending = check_upload(tx, csv_bytes(files[la][0]), "2024.csv", org, SYSTEM)
                assert pending is not None
                version = accept_upload(tx, pending.id, SYSTEM)
                version_id = version.id
            submitter = BY_NAME[{A: "a-submitter", B: "b-submitter", C: "c-submitter"}[la]]
            job = submit_validation(
                io.BytesIO(csv_bytes(files[la][1])),
                "2023.csv",
                la,
                organisation_id=org.id,
                actor_user_id=user_ids[submitter.name],
                actor_label=f"user:{submitter.email}",
            )
            assert job.pending_upload_id == job.id, "the 2023 file is a valid pending upload"
            targets["job_id"].append(Target(f"{la}'s job", job.id, la))
            targets["pending_id"].append(Target(f"{la}'s pending upload", job.id, la))
            targets["version_id"].append(Target(f"{la}'s version", str(version_id), la))
            background = jobs.enqueue(session, "ping", {}, organisation_id=org.id)
            targets["background_job_id"].append(Target(f"{la}'s background job", background.id, la))
        public = submit_validation(io.BytesIO(PUBLIC_VALID_CSV), "check.csv", None)
        targets["job_id"].append(Target("the anonymous check's job", public.id, ANONYMOUS_CHECK))
        missing = str(uuid.uuid4())
        targets["job_id"].append(Target("no such job", missing, None))
        targets["pending_id"].append(Target("no such pending upload", missing, None))
        targets["version_id"].append(Target("no such version", "999999", None))
        system_job = jobs.enqueue(session, "ping", {})
        targets["background_job_id"].append(Target("a system job", system_job.id, SYSTEM_JOB))
        targets["background_job_id"].append(Target("no such background job", missing, None))
        org_ids = {code: o.id for code, o in orgs.items()}
    return World(org_ids, user_ids, targets, distinctive_tokens(files))


def set_sharing(app: Flask, world: World, la: str, scope: Scope) -> None:
    """Every domain of ``la`` shared at ``scope`` (as the system actor, audited)."""
    with app.app_context():
        domains = dict.fromkeys(load_catalogue().domains, scope)
        update_sharing(db.session, SYSTEM, world.org_ids[la], domains=domains)


# ------------------------------------------------------------------------------------- signing in

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has a form with a CSRF token"
    return match.group(1)


def fresh_csrf(client: FlaskClient, who: Who) -> str:
    """A token for the client's current session (an earlier request may have replaced it)."""
    page = "/sign-in" if who.role is None else "/account"
    return csrf_of(client.get(page).get_data(as_text=True))


def sign_in(app: Flask, who: Who) -> FlaskClient:
    """A client from its own address, fully signed in as ``who`` (password, then MFA set-up)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = who.address
    if who.role is None:
        return client
    token = csrf_of(client.get("/sign-in").get_data(as_text=True))
    data = {"csrf_token": token, "email": who.email, "password": PASSWORD}
    response = client.post("/sign-in", data=data)
    assert response.status_code == 303, f"{who.name}: password accepted"
    html = client.get("/mfa/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
    assert secret, f"{who.name}: the MFA set-up page shows the secret"
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    response = client.post("/mfa/setup", data={"csrf_token": csrf_of(html), "code": code})
    assert response.status_code == 200, f"{who.name}: MFA set up"
    assert client.get("/account").status_code == 200, f"{who.name}: signed in"
    return client


# ------------------------------------------------------------------------- requests and outcomes


@dataclass(frozen=True)
class Request:
    endpoint: str
    permission: Permission
    method: str
    url: str
    targets: tuple[Target, ...]

    def __str__(self) -> str:
        about = ", ".join(t.label for t in self.targets)
        return f"{self.method} {self.url}" + (f" ({about})" if about else "")


def routes(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def requests_for(app: Flask, world: World) -> list[Request]:
    """Every route × every value of its URL parameters × every method, session-ending last."""
    found: list[Request] = []
    for rule in routes(app):
        permission = permission_of(app.view_functions[rule.endpoint])
        assert permission is not None, f"{rule.endpoint} declares a permission"
        unknown = sorted(rule.arguments - set(world.targets))
        assert not unknown, (
            f"{rule.endpoint} ({rule.rule}) takes {unknown}: add its objects to build_world's "
            "targets (own, other LAs', missing) so the matrix covers it"
        )
        names = sorted(rule.arguments)
        for combo in itertools.product(*(world.targets[n] for n in names)):
            with app.test_request_context():
                url = app.url_for(
                    rule.endpoint, **{n: t.value for n, t in zip(names, combo, strict=True)}
                )
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append(Request(rule.endpoint, permission, method, url, combo))
    # GETs first (they change nothing), then the other methods, then sign-out.
    return sorted(found, key=lambda r: (r.endpoint in SESSION_ENDING, r.method != "GET"))


def serves(request: Request, target: Target, who: Who) -> bool:
    """Whether the route shows ``target`` to ``who`` (who is allowed the route's permission):
    public routes only unowned objects and anonymous checks; an LA's pages only its own;
    the administrators' pages organisations and accounts."""
    if target.owner is None:
        return False
    if target.owner == UNOWNED:
        return True
    if target.owner == ADMINISTERED:
        return request.permission is Permission.ADMINISTER
    if request.permission is Permission.PUBLIC:
        # An anonymous check is readable only by the session that made it
        # (exchange.security.check_access); the world's was made outside every principal's.
        return False
    if request.permission in LA_PERMISSIONS:
        return target.owner == who.org
    if request.permission is Permission.SIGNED_IN:
        # A background job (/jobs/...): its organisation's users see it, administrators every
        # job, a system job nobody else (exchange.actions.jobs.may_see).
        return who.role == "administrator" or target.owner == who.org
    raise AssertionError(
        f"{request.endpoint}: no ownership rule for a {request.permission} route with object "
        "parameters; say in serves() whose objects it shows"
    )


def expected(request: Request, who: Who, principal: Principal | None) -> str:
    if request.permission is not Permission.PUBLIC and principal is None:
        return "sign-in"
    if not allowed(principal, request.permission):
        return "forbidden"
    if not all(serves(request, t, who) for t in request.targets):
        return "not found"  # another LA's object looks exactly like one that does not exist
    return "ok"


def problem(request: Request, expectation: str, response: TestResponse) -> str | None:
    """Why ``response`` does not match ``expectation``, or None if it does."""
    status = response.status_code
    api = request.url.startswith("/api/")
    if api and not response.is_json:
        return f"answered {status} {response.mimetype}, not JSON, under /api/"
    if not api and status in (403, 404) and 'class="govuk-template' not in response.text:
        return f"answered {status} without the portal's error page"
    if expectation == "sign-in":
        if api:
            return None if status == 401 else f"answered {status}, not 401"
        location = response.headers.get("Location", "")
        if status in (302, 303) and location.split("?")[0] == "/sign-in":
            return None
        return f"answered {status} {location}, not a redirect to /sign-in"
    wanted = {"forbidden": {403}, "not found": {404}}.get(expectation)
    if wanted is None:  # allowed
        owned = any(t.owner not in (UNOWNED, ANONYMOUS_CHECK) for t in request.targets)
        if request.method == "GET":
            wanted = {200} if owned else set(range(200, 400))
        else:  # a bare form: may be refused as incomplete (400), never an error of ours
            wanted = {*range(200, 400), 400}
    return None if status in wanted else f"answered {status}, expected {expectation}"


def walk(
    client: FlaskClient, who: Who, principal: Principal | None, todo: list[Request]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Make every request as ``who``; returns the mismatches and every (request, body)."""
    mismatches, bodies = [], []
    for request in todo:
        data = None
        if request.method != "GET":
            data = {"csrf_token": fresh_csrf(client, who)}
        response = client.open(request.url, method=request.method, data=data)
        if (why := problem(request, expected(request, who, principal), response)) is not None:
            mismatches.append(f"{who.name}: {request}: {why}")
        bodies.append((str(request), response.get_data(as_text=True)))
    return mismatches, bodies


NOISE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # ids of jobs and uploads
    r'|name="csrf_token" type="hidden" value="[^"]+"'
)
NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b")


def leaked(text: str, tokens: frozenset[str]) -> set[str]:
    """The tokens ``text`` shows as whole numbers (plain or with thousands separators)."""
    found = {n.replace(",", "") for n in NUMBER.findall(NOISE.sub(" ", text))}
    return found & tokens


def principal_of(app: Flask, world: World, who: Who) -> Principal | None:
    if who.role is None:
        return None
    with app.app_context():
        user = db.session.get(User, world.user_ids[who.name])
        assert user is not None
        return principal_for_user(db.session, user)


# ------------------------------------------------------------------------------------------ tests


def test_routes_every_endpoint_declares_a_permission(app: Flask) -> None:
    """A route without ``@requires`` fails here, naming it; so does a public route that is
    not on the commented allow-list."""
    undeclared = sorted(
        f"{rule.endpoint} ({rule.rule})"
        for rule in routes(app)
        if permission_of(app.view_functions[rule.endpoint]) is None
    )
    assert not undeclared, "routes without a permission (add @requires): " + ", ".join(undeclared)
    public = {
        rule.endpoint
        for rule in routes(app)
        if permission_of(app.view_functions[rule.endpoint]) is Permission.PUBLIC
    }
    assert public == PUBLIC_ENDPOINTS, (
        f"public but not on the allow-list: {sorted(public - PUBLIC_ENDPOINTS)}; "
        f"on the allow-list but not public: {sorted(PUBLIC_ENDPOINTS - public)}"
    )


def test_authorisation_matrix_routes_principals_and_objects(db_app: Flask) -> None:
    """Every route × every principal × own / same-alliance / other LAs' / missing objects gets
    the outcome the policy and ownership give, and no page shows A's raw values to anyone
    else, whether A shares privately, with its alliances or nationally."""
    world = build_world(db_app)
    set_sharing(db_app, world, C, Scope.NATIONAL)
    todo = requests_for(db_app, world)
    principals = {who.name: principal_of(db_app, world, who) for who in PRINCIPALS}
    clients = {who.name: sign_in(db_app, who) for who in PRINCIPALS}
    outsiders = [who for who in PRINCIPALS if who.org != A]
    mismatches: list[str] = []
    leaks: list[str] = []
    made = 0

    def check(who: Who, todo: list[Request], scope: Scope) -> None:
        nonlocal made
        found, bodies = walk(clients[who.name], who, principals[who.name], todo)
        made += len(bodies)
        mismatches.extend(found)
        if who in outsiders:
            leaks.extend(
                f"{who.name} ({scope}): {r}: {sorted(t)}"
                for r, b in bodies
                if (t := leaked(b, world.tokens))
            )

    # The pages while A shares privately, then with its alliances (they change nothing) ...
    pages = [r for r in todo if r.method == "GET"]
    for scope in (Scope.PRIVATE, Scope.ALLIANCE):
        set_sharing(db_app, world, A, scope)
        for who in outsiders:
            check(who, pages, scope)
    # ... then everything, for everyone, while A shares nationally; sign-out comes last.
    set_sharing(db_app, world, A, Scope.NATIONAL)
    for who in PRINCIPALS:
        check(who, todo, Scope.NATIONAL)
    assert made > 1000, "the matrix covers every route, principal and object"
    assert not mismatches, f"{len(mismatches)} of {made} requests:\n" + "\n".join(mismatches)
    assert not leaks, "A's raw values shown to others:\n" + "\n".join(leaks)


def relation(who: Who, owner: str) -> str:
    """How ``who`` stands to LA ``owner`` in the world: own, ally (a shared alliance), other."""
    if who.role in ("la_submitter", "la_viewer") and who.org == owner:
        return "own"
    in_alliance = who.org in ALLIANCE_MEMBERS or who.role == "alliance_viewer"
    if in_alliance and owner in ALLIANCE_MEMBERS:
        return "ally"
    return "other"


def expected_visibility(who: Who, owner: str, scope: Scope) -> Visibility:
    """The seed's rule, stated from the world rather than from the policy's code."""
    if who.role in (None, "administrator"):
        return Visibility.NONE  # least privilege: administrators see no LA's values
    how = relation(who, owner)
    if how == "own":
        return Visibility.RAW
    if scope is Scope.NATIONAL or (scope is Scope.ALLIANCE and how == "ally"):
        return Visibility.PROTECTED
    return Visibility.NONE


def test_visible_value_principal_owner_scope(db_app: Flask) -> None:
    """Every principal × A's, B's and C's values × private / alliance / national: the owner
    sees raw values; others protected ones only within the scope; administrators nothing.
    B stays private throughout."""
    world = build_world(db_app)
    indicator = next(iter(load_catalogue().indicators))
    principals = {who.name: principal_of(db_app, world, who) for who in PRINCIPALS}
    wrong: list[str] = []
    for scope in Scope:
        set_sharing(db_app, world, A, scope)
        set_sharing(db_app, world, C, scope)
        with db_app.app_context():
            for who, owner, channel in itertools.product(PRINCIPALS, (A, B, C), Channel):
                owner_scope = Scope.PRIVATE if owner == B else scope
                want = expected_visibility(who, owner, owner_scope)
                principal = principals[who.name]
                owner_id = world.org_ids[owner]
                got = visible_value(db.session, principal, owner_id, indicator, channel)
                many = visible_values(db.session, principal, owner_id, channel)[indicator]
                if got is not want or many is not want:
                    wrong.append(f"{who.name} on {owner} ({owner_scope}, {channel}): {got}/{many}")
            system = visible_value(db.session, SYSTEM, world.org_ids[A], indicator, Channel.EXPORT)
            assert system is Visibility.NONE, "the system actor (CLI, jobs) sees no LA's values"
    assert not wrong, "\n".join(wrong)


# ----------------------------------------------------------------------------------------- the CLI


@dataclass(frozen=True)
class Exports:
    """Prints data from the database, acting (as the system principal) under ``permission``;
    ``args`` is how the test runs it against the world."""

    permission: Permission
    args: tuple[str, ...]


@dataclass(frozen=True)
class NoExport:
    """Prints nothing from the database (``why`` says what it does instead)."""

    why: str


# Every command of ``exchange``: a new one fails test_cli_every_command_is_classified until it
# is added here.
CLI_COMMANDS: dict[str, Exports | NoExport] = {
    "init": NoExport("migrates and loads reference data; prints counts"),
    "db upgrade": NoExport("migrates; prints the revision"),
    "db check": NoExport("compares the schema with the models"),
    "db revision": NoExport("a developer's tool: writes a migration file"),
    "users create": NoExport("prints the new user's one-time password, to the administrator"),
    "users set-role": NoExport("prints the new role"),
    "users reset-mfa": NoExport("prints a confirmation"),
    "users list": Exports(Permission.ADMINISTER, ("users", "list")),
    "upload": NoExport("prints the report of the operator's own file, and the version made"),
    "submissions list": Exports(Permission.LA_VIEW, ("submissions", "list", "--authority", A)),
    "submissions accept": NoExport("prints the version made"),
    "submissions withdraw": NoExport("prints the version withdrawn"),
    "audit verify": Exports(Permission.ADMINISTER, ("audit", "verify")),
    "keys status": Exports(Permission.ADMINISTER, ("keys", "status")),
    "keys rotate": NoExport("prints a generated master key once, to the administrator"),
    "keys retire": NoExport("prints a confirmation"),
    "validate": NoExport("checks a file on the operator's disk; reads no database"),
    "synth": NoExport("writes made-up files; reads no database"),
    "template": NoExport("writes empty upload templates; reads no database"),
    "demo": NoExport(
        "loads synthetic returns (made-up data) and prints the demo accounts' published logins"
    ),
    "demo code": NoExport("prints a demo account's current sign-in code (demo accounts only)"),
    "serve": NoExport("runs the portal and the worker"),
    "release build": NoExport(
        "builds a release through its policy and audit gate; prints counts only"
    ),
    "release list": Exports(Permission.ADMINISTER, ("release", "list")),
    "jobs list": Exports(Permission.ADMINISTER, ("jobs", "list")),
    "jobs show": NoExport("prints one job's status, times, ids and counts: never a cell value"),
    "comparisons recompute": NoExport("recomputes every LA's comparisons; prints counts only"),
    "context load": NoExport(
        "loads a context file of published figures; prints counts, or the file's own problems"
    ),
    "context list": Exports(Permission.ADMINISTER, ("context", "list")),
    "context template": NoExport("prints the context file's header and a made-up example row"),
    "release export": NoExport(
        "writes a stored, already protected release as EES files; prints the paths"
    ),
    "release policy": Exports(Permission.ADMINISTER, ("release", "policy")),
    "release budget": NoExport("shows or sets an LA's privacy-loss budget: no cell values"),
    "journeys list": Exports(Permission.ADMINISTER, ("journeys", "list")),
    "journeys record": NoExport("records an LA's journey (dates and text); prints a confirmation"),
    "journeys end": NoExport("ends an LA's journey; prints a confirmation"),
    "ofsted list": Exports(Permission.ADMINISTER, ("ofsted", "list")),
    "ofsted record": NoExport("records an Ofsted judgement; prints a confirmation"),
    "ofsted load": NoExport(
        "loads the operator's Ofsted history file; prints counts or its rows' problems"
    ),
    "sets list": Exports(Permission.ADMINISTER, ("sets", "list")),
    "run": NoExport("Flask's development server"),
    "routes": NoExport("Flask's route list: no data"),
    "limiter limits": NoExport("Flask-Limiter's configured limits: no data"),
    "limiter config": NoExport("Flask-Limiter's configuration: no data"),
    "limiter clear": NoExport("resets the sign-in rate limits of a client address"),
    "shell": NoExport(
        "Flask's interactive shell for the server's administrator, who can read the database "
        "anyway: it prints only what they ask for"
    ),
}


def cli_commands(app: Flask) -> dict[str, click.Command]:
    """Every leaf command of ``exchange`` by its path ("users list")."""
    found: dict[str, click.Command] = {}

    def visit(group: click.Group, ctx: click.Context, prefix: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            path = f"{prefix} {name}".strip()
            if not isinstance(command, click.Group) or command.invoke_without_command:
                found[path] = command  # a group that runs on its own is a command too
            if isinstance(command, click.Group):
                visit(command, click.Context(command, parent=ctx, info_name=name), path)

    with click.Context(main, obj=ScriptInfo(create_app=lambda: app)) as ctx:
        visit(main, ctx, "")
    return found


def test_cli_every_command_is_classified(app: Flask) -> None:
    commands = set(cli_commands(app))
    assert commands - set(CLI_COMMANDS) == set(), (
        "classify these commands in CLI_COMMANDS (Exports or NoExport)"
    )
    assert set(CLI_COMMANDS) - commands == set(), "CLI_COMMANDS names commands that are gone"


def test_cli_exports_print_no_cell_values(db_app: Flask) -> None:
    """Every exporting command runs under a permission the system principal holds, and prints
    no LA's cell values; nor does the audit log hold any."""
    world = build_world(db_app)
    runner = CliRunner()
    for path, kind in CLI_COMMANDS.items():
        if not isinstance(kind, Exports):
            continue
        assert allowed(SYSTEM, kind.permission), path
        result = runner.invoke(main, list(kind.args), obj=ScriptInfo(create_app=lambda: db_app))
        assert result.exit_code == 0, f"{path}: {result.output}"
        assert result.output.strip(), f"{path} printed something to check"
        assert not leaked(result.output, world.tokens), f"{path} printed A's values"
    with db_app.app_context():
        details = [json.dumps(e.details) for e in db.session.scalars(select(AuditEvent))]
    assert details, "the world's actions were audited"
    assert not any(leaked(d, world.tokens) for d in details), "no cell value in the audit log"
