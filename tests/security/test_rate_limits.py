"""Request limits on everything an attacker can repeat without an account, or to guess one.

* Sign-in: django-axes locks an account after 5 failures for 10 minutes — tested in
  tests/coordination/test_sign_in.py (``test_five_failures_lock_the_account_for_ten_minutes``,
  ``test_four_failures_do_not_lock_and_a_success_clears_them``,
  ``test_failures_through_authenticate_count_against_the_same_account``). Here: allauth's
  limits above it — 30 failed sign-ins a minute from one address (password spraying across
  accounts), 10 failures per account in 15 minutes, 60 sign-in attempts a minute per
  address.
* Password reset: 3 requests per address (e-mail) in 5 minutes, 20 a minute per client
  address; 20 uses of reset links a minute per client address.
* The public application form: ``CONCORD_APPLY_RATE`` (5 an hour) per client address,
  coordination/web/ratelimit.py.
* The API: per person and per token (Django REST framework throttles) — tested in
  tests/api/test_errors.py (``test_session_requests_are_limited_per_person``,
  ``test_token_requests_are_limited_per_token``); anonymous API requests are refused with
  401 before any work. Here: the throttles are installed with the documented rates.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from agencies.models import Agency
from coordination.settings import base
from coordination.web import ratelimit
from tests.factories import PASSWORD

from .conftest import changes, snapshot

pytestmark = pytest.mark.usefixtures("module_world")

START = dt.datetime(2026, 3, 2, 9, 0, 30, tzinfo=dt.UTC)
LOGIN = "/accounts/login/"
RESET = "/accounts/password/reset/"
APPLY = "/apply/"
TOO_MANY = "Too many failed login attempts"


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def application(n: int, **changes: str) -> dict[str, str]:
    return {
        "name": f"Harbour Authority {n}",
        "level": "local",
        "sector": "transport",
        "contact_email": f"contact{n}@harbour.example.gov",
        **changes,
    }


# --- sign-in --------------------------------------------------------------------------------------


def test_the_configured_sign_in_and_reset_limits() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=10) == settings.AXES_COOLOFF_TIME
    assert base.ACCOUNT_RATE_LIMITS == {
        "login": "60/m/ip",
        "login_failed": "30/m/ip,10/15m/key",
        "reset_password": "20/m/ip,3/5m/key",
        "reset_password_from_key": "20/m/ip",
        "change_password": "5/m/user",
        "reauthenticate": "10/m/user",
    }


@override_settings(AXES_ENABLED=True)
def test_password_spraying_from_one_address_is_stopped_after_30_failures(world) -> None:
    """Axes locks accounts, so an attacker tries one password on many accounts; allauth's
    per-address limit stops that, without touching other addresses."""
    sprayer = from_address("203.0.113.7")
    with time_machine.travel(START, tick=False):
        for n in range(30):
            response = sprayer.post(
                LOGIN, {"login": f"person{n}@nfa.example.gov", "password": "Winter2026!"}
            )
            assert TOO_MANY not in response.content.decode(), n
        refused = sprayer.post(LOGIN, {"login": world.lead_staff.email, "password": PASSWORD})
        assert TOO_MANY in refused.content.decode()
        assert "_auth_user_id" not in sprayer.session

        office = from_address("198.51.100.20")
        assert (
            office.post(LOGIN, {"login": world.lead_staff.email, "password": PASSWORD}).status_code
            == 302
        )

        clock_after = START + dt.timedelta(minutes=1, seconds=1)
    with time_machine.travel(clock_after, tick=False):
        again = sprayer.post(LOGIN, {"login": world.partner_staff.email, "password": PASSWORD})
        assert again.status_code == 302


def test_ten_failures_for_one_account_stop_further_guesses_even_without_axes(world) -> None:
    """The second line behind django-axes (off in this test): allauth's per-account count."""
    guesser = from_address("203.0.113.8")
    with time_machine.travel(START, tick=False):
        for n in range(10):
            response = guesser.post(
                LOGIN, {"login": world.lead_staff.email, "password": f"guess-{n}"}
            )
            assert TOO_MANY not in response.content.decode(), n
        refused = guesser.post(LOGIN, {"login": world.lead_staff.email, "password": PASSWORD})
        assert TOO_MANY in refused.content.decode()
        # from another address too: the count is the account's
        elsewhere = from_address("198.51.100.21")
        assert (
            TOO_MANY
            in elsewhere.post(
                LOGIN, {"login": world.lead_staff.email, "password": PASSWORD}
            ).content.decode()
        )
    with time_machine.travel(START + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert (
            guesser.post(LOGIN, {"login": world.lead_staff.email, "password": PASSWORD}).status_code
            == 302
        )


def test_sixty_sign_in_attempts_a_minute_from_one_address_then_429(world) -> None:
    with time_machine.travel(START, tick=False):
        for n in range(60):
            response = from_address("203.0.113.9").post(
                LOGIN, {"login": world.lead_staff.email, "password": PASSWORD}
            )
            assert response.status_code == 302, n
        refused = from_address("203.0.113.9").post(
            LOGIN, {"login": world.lead_staff.email, "password": PASSWORD}
        )
        assert refused.status_code == 429
        assert "Too many requests" in refused.content.decode()
        assert from_address("198.51.100.22").get(LOGIN).status_code == 200


# --- password reset -------------------------------------------------------------------------------


def test_three_reset_requests_per_address_in_five_minutes(
    world, django_capture_on_commit_callbacks
) -> None:
    mail.outbox.clear()
    client = from_address("203.0.113.10")
    # e-mail goes through the mail outbox, sent once the request's transaction commits
    with time_machine.travel(START, tick=False), django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert client.post(RESET, {"email": world.lead_staff.email}).status_code == 302
        refused = client.post(RESET, {"email": world.lead_staff.email})
        assert refused.status_code == 429
        # another client address does not help: the count is the e-mail address's
        assert (
            from_address("198.51.100.23").post(RESET, {"email": world.lead_staff.email}).status_code
            == 429
        )
    assert len([m for m in mail.outbox if world.lead_staff.email in m.to]) == 3
    with time_machine.travel(START + dt.timedelta(minutes=5, seconds=1), tick=False):
        assert client.post(RESET, {"email": world.lead_staff.email}).status_code == 302


def test_twenty_reset_requests_a_minute_from_one_client_address(world) -> None:
    client = from_address("203.0.113.11")
    with time_machine.travel(START, tick=False):
        for n in range(20):
            response = client.post(RESET, {"email": f"someone{n}@example.gov"})
            assert response.status_code == 302, n
        assert client.post(RESET, {"email": world.lead_staff.email}).status_code == 429
        assert (
            from_address("198.51.100.24").post(RESET, {"email": world.lead_staff.email}).status_code
            == 302
        )


def test_twenty_uses_of_reset_links_a_minute_from_one_client_address(world) -> None:
    client = from_address("203.0.113.12")
    link = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": "zz", "key": "set-password"}
    )
    with time_machine.travel(START, tick=False):
        for n in range(20):
            assert client.post(link, {"password1": "x", "password2": "x"}).status_code != 429, n
        assert client.post(link, {"password1": "x", "password2": "x"}).status_code == 429


# --- the public application form ------------------------------------------------------------------


@pytest.fixture
def apply_rate():
    """The production default (the test settings raise it for the rest of the suite)."""
    assert base.CONCORD_APPLY_RATE == "5/hour"
    with override_settings(CONCORD_APPLY_RATE=base.CONCORD_APPLY_RATE):
        yield


@pytest.mark.usefixtures("apply_rate")
def test_five_applications_an_hour_from_one_address_then_429(db) -> None:
    client = from_address("203.0.113.20")
    with time_machine.travel(START, tick=False):
        for n in range(5):
            assert client.post(APPLY, application(n)).status_code == 302, n
        before = snapshot()

        refused = client.post(APPLY, application(99))

        assert refused.status_code == 429
        html = refused.content.decode()
        assert "5 per hour" in html
        assert "Try again in 60 minutes" in html  # 59½ minutes, rounded up
        assert refused["Retry-After"] == "3570"
        assert "Content-Security-Policy" in refused
        assert not changes(before, snapshot())
        assert not Agency.objects.filter(name="Harbour Authority 99").exists()
        # reading the form is not limited; another address has its own count
        assert client.get(APPLY).status_code == 200
        assert from_address("198.51.100.30").post(APPLY, application(100)).status_code == 302

    with time_machine.travel(START + dt.timedelta(minutes=59, seconds=29), tick=False):
        assert client.post(APPLY, application(101)).status_code == 429
    with time_machine.travel(START + dt.timedelta(minutes=59, seconds=31), tick=False):
        assert client.post(APPLY, application(102)).status_code == 302


@pytest.mark.usefixtures("apply_rate")
def test_invalid_submissions_count_too(db) -> None:
    client = from_address("203.0.113.21")
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            assert client.post(APPLY, {"name": ""}).status_code == 200
        assert client.post(APPLY, application(1)).status_code == 429


@pytest.mark.usefixtures("apply_rate")
def test_a_forged_forwarded_for_header_does_not_reset_the_count(db) -> None:
    """Without a trusted proxy configured, X-Forwarded-For is the client's to write, so it
    is ignored: the connection's address is counted."""
    client = from_address("203.0.113.22")
    with time_machine.travel(START, tick=False):
        for n in range(5):
            client.post(APPLY, application(n), headers={"X-Forwarded-For": f"192.0.2.{n}"})
        refused = client.post(APPLY, application(9), headers={"X-Forwarded-For": "192.0.2.99"})
        assert refused.status_code == 429


@pytest.mark.usefixtures("apply_rate")
@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_each_client_is_counted_apart(db) -> None:
    """With CONCORD_TRUSTED_PROXY_COUNT=1 the address our proxy appended to
    X-Forwarded-For is the client's; everything arrives from the proxy's address."""
    proxy = from_address("10.0.0.5")
    with time_machine.travel(START, tick=False):
        for n in range(5):
            assert (
                proxy.post(
                    APPLY, application(n), headers={"X-Forwarded-For": "192.0.2.1"}
                ).status_code
                == 302
            )
        assert (
            proxy.post(APPLY, application(8), headers={"X-Forwarded-For": "192.0.2.1"}).status_code
            == 429
        )
        # a client cannot dodge it by writing its own entry in front of the proxy's
        assert (
            proxy.post(
                APPLY, application(9), headers={"X-Forwarded-For": "6.6.6.6, 192.0.2.1"}
            ).status_code
            == 429
        )
        assert (
            proxy.post(APPLY, application(10), headers={"X-Forwarded-For": "192.0.2.2"}).status_code
            == 302
        )


@pytest.mark.usefixtures("apply_rate")
def test_ipv6_addresses_are_counted_per_64_network(db) -> None:
    with time_machine.travel(START, tick=False):
        for n in range(5):
            from_address(f"2001:db8:1:2::{n + 1:x}").post(APPLY, application(n))
        assert from_address("2001:db8:1:2::ffff").post(APPLY, application(7)).status_code == 429
        assert from_address("2001:db8:1:3::1").post(APPLY, application(8)).status_code == 302


@pytest.mark.parametrize(
    ("text", "count", "seconds"),
    [("5/hour", 5, 3600), ("1/second", 1, 1), ("30/minute", 30, 60), ("200/day", 200, 86400)],
)
def test_rates_are_read_as_documented(text, count, seconds) -> None:
    assert ratelimit.Rate.parse(text, setting="X") == ratelimit.Rate(count, seconds)


@pytest.mark.parametrize("text", ["5", "5/h", "0/hour", "-1/hour", "five/hour", "5/week", ""])
def test_a_malformed_rate_is_a_configuration_error(text) -> None:
    with pytest.raises(ImproperlyConfigured, match="CONCORD_APPLY_RATE"):
        ratelimit.Rate.parse(text, setting="CONCORD_APPLY_RATE")


def test_the_count_never_passes_the_limit_within_a_window() -> None:
    request = RequestFactory().post(APPLY, REMOTE_ADDR="203.0.113.30")
    rate = ratelimit.Rate(3, 60)
    now = 1_800_000_000.0  # the start of a minute
    outcomes = [ratelimit.hit(request, scope="t", rate=rate, now=now + i) for i in range(5)]
    assert [o.allowed for o in outcomes] == [True, True, True, False, False]
    assert [o.retry_after for o in outcomes] == [60, 59, 58, 57, 56]
    later = ratelimit.hit(request, scope="t", rate=rate, now=now + 60)
    assert later.allowed and later.count == 1
    other_scope = ratelimit.hit(request, scope="u", rate=rate, now=now + 4)
    assert other_scope.allowed


# --- the API --------------------------------------------------------------------------------------


def test_the_api_throttles_are_installed_with_the_documented_rates() -> None:
    framework = settings.REST_FRAMEWORK
    assert framework["DEFAULT_THROTTLE_CLASSES"] == [
        "coordination.api.throttling.UserRateThrottle",
        "coordination.api.throttling.TokenRateThrottle",
    ]
    assert base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "user": "1000/hour",
        "token": "5000/hour",
    }


def test_anonymous_api_requests_are_refused_before_any_work(db) -> None:
    response = Client().get("/api/v1/agencies/")
    assert response.status_code == 401
