"""Fixtures of the browser tests: the portal served over HTTP from a thread, driven by Debian's
headless Chromium through Playwright, and axe-core's accessibility checks.

* ``portal``: the app on a fresh database (PostgreSQL when EXCHANGE_TEST_DATABASE_URL names a
  server, else SQLite), with the demo data of six North East LAs for 2024 and 2025, a national
  release of each year (the ``dp`` policy, quick) and every LA's comparisons, served on
  127.0.0.1 on a free port by werkzeug in a thread: a real HTTP server, CSRF protection on, as in
  production. Celery runs tasks eagerly (in the request). Built once per test module.
* ``browser``: headless Chromium (the executable EXCHANGE_TEST_CHROMIUM names, else
  /usr/bin/chromium; ``eval "$(bash scripts/browser-deps)"`` installs and names it). Playwright
  never downloads a browser of its own here. No display is needed.
* ``signed_in``: a browser context signed in through the real sign-in pages (password, then the
  authenticator code) as County Durham's demo submitter; ``page`` is a new tab in it.
* ``axe``: runs axe-core (node_modules/axe-core, from npm) on a page and fails the test on any
  serious or critical violation, naming each rule, its impact and the elements; the moderate
  and minor ones are listed at the end of the run.

Without Chromium or axe-core the browser tests are skipped, except in CI (``CI`` set), where
that is an error: CI runs them (scripts/test installs both; Playwright is a dev dependency).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from database_support import fresh_database
from flask import Flask

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DEFAULT_CHROMIUM = "/usr/bin/chromium"

LAS = "840,841,806,805,807,808"
PERIODS = ("2024", "2025")
SUBMITTER = "submitter.840@demo.exchange.invalid"  # County Durham's demo submitter
ALLIANCE_VIEWER = "alliance.north-east@demo.exchange.invalid"  # North East alliance's viewer
TIMEOUT_MS = 30_000  # a page or an action; the eager jobs of an upload run in the request
# axe-core impacts that fail a test: all of them (any impact not listed here would only be
# listed after the run).
FAILING_IMPACTS = frozenset({"minor", "moderate", "serious", "critical"})
LESSER_VIOLATIONS = pytest.StashKey[dict[str, set[str]]]()


def missing(what: str) -> None:
    """Skip (locally) or fail (in CI) for something the browser tests need."""
    if os.environ.get("CI"):
        pytest.fail(f"{what}: in CI, scripts/test installs it (scripts/browser-deps, bootstrap)")
    pytest.skip(f'{what}: eval "$(bash scripts/browser-deps)" after scripts/bootstrap --dev')


# ------------------------------------------------------------------------------------ browser


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("EXCHANGE_TEST_CHROMIUM") or DEFAULT_CHROMIUM
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        missing(f"no Chromium at {path} (EXCHANGE_TEST_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    # Module-scoped, like the portal: Playwright's sync API keeps an asyncio loop running on
    # this thread, which must be gone before other test modules run.
    with sync_playwright() as playwright:
        # Debian's Chromium, headless. Playwright passes --no-sandbox itself (chromium_sandbox
        # defaults to False), which Chromium needs when run as root, as in CI.
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, chromium_sandbox=False
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        missing(f"no {AXE_SCRIPT.relative_to(ROOT)} (npm ci installs axe-core)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for rule in violations:
        lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} [{rule['helpUrl']}]")
        for node in rule["nodes"]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def axe(axe_source: str, pytestconfig: pytest.Config) -> Callable[[Page], None]:
    """``axe(page)``: run every axe-core rule on the page as it is now. A violation of any
    impact in FAILING_IMPACTS (all of them) fails the test, and the message lists every
    violation on the page; an impact left out of it would be listed at the end of the run
    (see pytest_terminal_summary).

    axe is evaluated through the DevTools protocol, not added as a <script>: the portal's
    Content-Security-Policy forbids inline scripts, and the tests keep it on."""
    lesser = pytestconfig.stash.setdefault(LESSER_VIOLATIONS, {})

    def check(page: Page) -> None:
        page.evaluate(axe_source)
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        violations = result["violations"]
        failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
        assert not failing, f"axe-core violations on {page.url}:\n" + format_violations(violations)
        path = page.url.split("#", 1)[0].split("//", 1)[-1].split("/", 1)[-1]
        for rule in violations:
            for node in rule["nodes"]:
                target = " ".join(map(str, node["target"]))
                lesser.setdefault(f"{rule['id']} ({rule['impact']}): {target}", set()).add(
                    "/" + path
                )

    return check


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """List the moderate and minor axe-core violations found (they do not fail a test)."""
    lesser: dict[str, set[str]] = config.stash.get(LESSER_VIOLATIONS, {})
    if not lesser:
        return
    terminalreporter.section("axe-core: moderate and minor violations (not failing)")
    for found, paths in sorted(lesser.items()):
        terminalreporter.write_line(f"{found} on {len(paths)} page(s): {', '.join(sorted(paths))}")


# ------------------------------------------------------------------------------------- portal


@dataclass(frozen=True)
class Portal:
    app: Flask
    url: str  # http://127.0.0.1:PORT, no trailing slash

    def invoke(self, *args: str) -> str:
        """Run an ``exchange`` command on the portal's database; returns its output."""
        from exchange.cli import main

        result = self.app.test_cli_runner().invoke(main, list(args))
        assert result.exit_code == 0, result.output
        return result.output


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve the app on 127.0.0.1 (a free port) from a thread; yields its base URL."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # one line per request and asset: noise in a failing test's output

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from exchange.app import create_app
    from exchange.config import load_config
    from exchange.extensions import db
    from exchange.models import Base

    directory = tmp_path_factory.mktemp("portal")
    with fresh_database(directory) as database_url:
        env = {
            "EXCHANGE_INSTANCE_PATH": str(directory / "instance"),
            "EXCHANGE_DATABASE_URL": database_url,
        }
        # No automatic refresh after an upload: the test recomputes the comparisons itself.
        config = load_config(env=env, testing=True, refresh_after_accept=False)
        app = create_app(replace(config, release_workers=1))
        app.extensions["celery"].conf.task_always_eager = True
        with app.app_context():
            Base.metadata.create_all(db.engine)
        portal = Portal(app, "")
        portal.invoke("demo", "--periods", ",".join(PERIODS), "--las", LAS)
        for period in PERIODS:
            portal.invoke("release", "build", "--period", period, "--policy", "dp")
        portal.invoke("comparisons", "recompute")
        try:
            with served(app) as url:
                yield replace(portal, url=url)
        finally:
            with app.app_context():
                db.engine.dispose()


def demo_code_now(app: Flask, email: str) -> str:
    """The demo account's current authenticator code (taken right before it is typed)."""
    from exchange.actions.demo import demo_actor, demo_code
    from exchange.extensions import db

    with app.app_context():
        return demo_code(db.session, demo_actor(), email)


def _signed_in_context(
    browser: Browser, portal: Portal, email: str, landing: str
) -> BrowserContext:
    """A browser context signed in as demo account ``email``, through the sign-in form and the
    authenticator-code form, once on its ``landing`` page (a regular expression)."""
    from playwright.sync_api import expect

    from exchange.actions.demo import DEMO_PASSWORD

    context = browser.new_context(base_url=portal.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/sign-in")
    # CSRF protection is on: the form carries its token, and the POST is refused without it.
    expect(page.locator("form input[name=csrf_token]")).to_have_count(1)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/sign-in/mfa$"))
    page.get_by_label("Code").fill(demo_code_now(portal.app, email))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(landing))
    page.close()
    return context


@pytest.fixture(scope="module")
def signed_in(browser: Browser, portal: Portal) -> Iterator[BrowserContext]:
    """A browser context signed in as County Durham's demo submitter (once per module: each
    code is accepted once). A submitter starts on their submissions."""
    context = _signed_in_context(browser, portal, SUBMITTER, r"/submissions$")
    yield context
    context.close()


@pytest.fixture(scope="module")
def alliance_signed_in(browser: Browser, portal: Portal) -> Iterator[BrowserContext]:
    """A browser context signed in as the North East alliance's demo viewer (who starts on
    their alliance's comparisons)."""
    context = _signed_in_context(browser, portal, ALLIANCE_VIEWER, r"/alliance/$")
    yield context
    context.close()


@pytest.fixture
def page(signed_in: BrowserContext) -> Iterator[Page]:
    tab = signed_in.new_page()
    yield tab
    tab.close()
