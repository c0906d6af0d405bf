"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Screenshots of every page a journey visits go to ``artifacts/screenshots/`` for people
to look at. On CI (CI=true) a missing browser is a failure, not a skip.

Journeys open pages with ``open_page`` (``new_page`` plus a watch: the test fails if a page
logged a console error, threw, or asked for anything outside the live server) and sign in
with ``sign_in`` (allauth's form, and the authenticator-code prompt when given a secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _browser_available() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


# The session's one Chromium is the ``browser`` fixture of tests/conftest.py, shared by
# every browser test (tests/browser, tests/identity, tests/live): Playwright's sync API
# cannot be started twice in one process.


@pytest.fixture
def new_page(browser, live_server):
    """Make a fresh browser context (its own cookies) per person; closed after the test."""
    contexts = []

    def make(viewport: dict[str, int] | None = None):
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        # Pages must work with the network cut: refuse anything that is not our server.
        context.route(
            re.compile(r"^(?!" + re.escape(live_server.url) + ").*"),
            lambda route: route.abort(),
        )
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request):
    """Save a full-page screenshot named after the test and the step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")

    def take(page, step: str) -> Path:
        path = ARTIFACTS / f"{test_name}--{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# --- what every journey shares ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """allauth keeps rate limits and used authenticator codes in the cache; start clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 (TOTP, SHA-1, 30-second steps, 6 digits), as an authenticator app computes
    it; the same computation as tests/coordination/test_sign_in.py."""
    key = base64.b32decode(secret, casefold=True)
    counter = int(time.time() if at is None else at) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**6:06d}"


def fresh_totp_code(secret: str) -> str:
    """The code for now, but never one about to expire: the server allows no clock
    drift, so a code typed in the last moments of its 30 seconds could arrive late."""
    remaining = 30 - time.time() % 30
    if remaining < 3:
        time.sleep(remaining + 0.1)
    return totp_code(secret)


def give_totp(user) -> str:
    """An authenticator app (and recovery codes) for ``user``, through allauth's API;
    returns the secret the app would hold."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


@dataclass
class Problems:
    """What went wrong in the browser while a journey ran: console errors, uncaught
    script errors, and requests for anything outside the live server (aborted by the
    context's route, so the page would break with the network cut)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    # Console messages a journey expects, e.g. Chromium's note that a page it opened on
    # purpose answered 404.
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def watch(self, page, base_url: str) -> None:
        def on_console(message) -> None:
            if message.type == "error":
                where = (message.location or {}).get("url", "")
                self.console_errors.append(f"{message.text} (at {where or page.url})")

        def on_request_failed(request) -> None:
            if not request.url.startswith(base_url):
                self.outside_requests.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{error} (on {page.url})"))
        page.on("requestfailed", on_request_failed)

    def unexpected(self) -> dict[str, list[str]]:
        console = [m for m in self.console_errors if not any(p.search(m) for p in self.allowed)]
        return {
            name: found
            for name, found in (
                ("console errors", console),
                ("uncaught script errors", self.page_errors),
                ("requests outside the live server", self.outside_requests),
            )
            if found
        }

    def clear(self) -> None:
        self.console_errors.clear()
        self.page_errors.clear()
        self.outside_requests.clear()


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def open_page(new_page, live_server, problems):
    """Like ``new_page``, but everything that goes wrong in the browser is recorded in
    ``problems``, and the test fails at the end if anything unexpected was."""

    def make(viewport: dict[str, int] | None = None):
        page = new_page(viewport)
        problems.watch(page, live_server.url)
        return page

    yield make
    found = problems.unexpected()
    assert not found, f"The pages had problems: {found}"


@pytest.fixture
def sign_in(shot):
    """Sign in through allauth's form as a person would; with ``totp_secret``, answer the
    authenticator-code prompt too. Ends on the page the sign-in leads to."""
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    def do(page, email: str, *, password: str = PASSWORD, totp_secret: str | None = None):
        page.goto("/accounts/login/")
        page.locator("#id_login").fill(email)
        page.locator("#id_password").fill(password)
        page.get_by_role("main").get_by_role("button", name="Sign in").click()
        if totp_secret is not None:
            expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
            expect(page.get_by_role("heading", level=1)).to_have_text("Authenticator code")
            shot(page, "totp-prompt-" + re.sub(r"[^a-z0-9]+", "-", email.lower()))
            page.locator("#id_code").fill(fresh_totp_code(totp_secret))
            page.get_by_role("main").get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/accounts/(login|2fa/authenticate)/"))
        return page

    return do
