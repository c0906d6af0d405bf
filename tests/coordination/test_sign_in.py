"""Signing in: e-mail and password through allauth, the account lock after five failures,
no public sign-up, password reset by e-mailed link, the required second factor (TOTP with
recovery codes), and the idle and absolute session limits. Each rule from both sides."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import struct
import time
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from agencies.models import Membership
from coordination.models import User
from tests.factories import PASSWORD, AgencyFactory, person

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LOGIN = "/accounts/login/"
NEW_PASSWORD = "a-new-and-long-passphrase-42"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """allauth keeps rate limits and used TOTP codes in the cache; start each test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agency():
    return AgencyFactory(name="National Flood Agency", acronym="NFA")


@pytest.fixture
def alice(agency) -> User:
    return person(agency, email="alice@nfa.example.gov")


@pytest.fixture
def bob(agency) -> User:
    return person(agency, Membership.Role.LIAISON, email="bob@nfa.example.gov")


def sign_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def confirm_password(client: Client) -> None:
    """allauth asks for the password again before any change to the second factor."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content.decode()


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def totp_code(secret: str, at: float | None = None, digits: int = 6) -> str:
    """RFC 6238 (TOTP, SHA-1, 30-second steps), as an authenticator app computes it."""
    key = base64.b32decode(secret, casefold=True)
    if at is None and 30 - time.time() % 30 < 3:
        # the server allows no clock drift: don't hand over a code about to expire
        time.sleep(30 - time.time() % 30 + 0.1)
    counter = int(time.time() if at is None else at) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def test_the_totp_helper_matches_rfc_6238() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(secret, at=59, digits=8) == "94287082"
    assert totp_code(secret, at=1111111109, digits=8) == "07081804"


def give_totp(user: User) -> tuple[str, list[str]]:
    """An authenticator app and recovery codes for ``user``; their secret and codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).get_unused_codes()
    return secret, codes


class FormPage(HTMLParser):
    """The inputs, labels and scripts of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.inline_scripts = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.inputs.append(a)
        elif tag == "label" and a.get("for"):
            self.label_for.add(a["for"] or "")
        elif tag == "script" and not a.get("src") and a.get("type") != "application/json":
            # a JSON block (allauth's WebAuthn settings) is data, never run, and the CSP
            # leaves it alone; any other script without src would be refused by the CSP
            self.inline_scripts += 1


def assert_accessible(html: str) -> FormPage:
    page = FormPage(html)
    assert page.inputs, "no form fields on the page"
    for field in page.inputs:
        assert field.get("id") in page.label_for, f"no <label for=> for {field}"
    assert page.inline_scripts == 0
    assert "cdn" not in html.lower()
    return page


# --- e-mail and password --------------------------------------------------------------------


def test_signing_in_with_email_and_password_opens_the_dashboard(client, alice) -> None:
    assert client.get("/").status_code == 302  # not yet signed in

    response = sign_in(client, "alice@nfa.example.gov")

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert signed_in(client)
    assert client.get("/").status_code == 200


def test_the_address_is_matched_whatever_its_capitals(client, alice) -> None:
    sign_in(client, "Alice@NFA.example.gov")
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_with_an_error(client, alice) -> None:
    response = sign_in(client, "alice@nfa.example.gov", "not-the-password")

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert not signed_in(client)
    assert client.get("/").status_code == 302


def test_an_unknown_address_gets_the_same_refusal(client, alice) -> None:
    wrong_password = sign_in(client, "alice@nfa.example.gov", "not-the-password")
    unknown = sign_in(client, "nobody@nfa.example.gov", "not-the-password")
    assert wrong_password.context["form"].errors == unknown.context["form"].errors


def test_a_deactivated_person_cannot_sign_in(client, alice) -> None:
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    sign_in(client, "alice@nfa.example.gov")
    assert not signed_in(client)


def test_the_sign_in_page_labels_every_field_and_runs_no_inline_script(client, db) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    page = assert_accessible(response.content.decode())
    assert {f["name"] for f in page.inputs} == {"login", "password"}
    assert 'href="/static/css/concord.css"' in response.content.decode()


def test_the_login_and_logout_names_are_allauths_pages(client, alice) -> None:
    assert reverse("login") == reverse("account_login")
    assert reverse("logout") == reverse("account_logout")
    sign_in(client, alice.email)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert not signed_in(client)


def test_the_admin_signs_in_through_allauth(client, alice) -> None:
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


# --- the account lock (django-axes) ---------------------------------------------------------


@override_settings(AXES_ENABLED=True)
def test_five_failures_lock_the_account_for_ten_minutes(client, alice, bob) -> None:
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            response = sign_in(client, "alice@nfa.example.gov", "wrong-guess")
            assert response.status_code == 200
            assert "not correct" in response.content.decode()
        # The fifth failure locks the account, whichever way the address was typed.
        response = sign_in(client, "ALICE@nfa.example.gov", "wrong-guess")
        assert response.status_code == 429

        # Even the right password is refused now, with the lockout message.
        response = sign_in(client, "alice@nfa.example.gov")
        assert response.status_code == 429
        assert "locked for 10 minutes" in response.content.decode()
        assert not signed_in(client)

        # The lock is on the account, not on the office's address: Bob signs in.
        other = Client()
        assert sign_in(other, "bob@nfa.example.gov").status_code == 302
        assert signed_in(other)

        clock.shift(dt.timedelta(minutes=9, seconds=59))
        assert sign_in(client, "alice@nfa.example.gov").status_code == 429
        assert not signed_in(client)

        # Attempts during the lock did not extend it: ten minutes after the fifth failure.
        clock.shift(dt.timedelta(seconds=2))
        response = sign_in(client, "alice@nfa.example.gov")
        assert response.status_code == 302
        assert signed_in(client)


@override_settings(AXES_ENABLED=True)
def test_four_failures_do_not_lock_and_a_success_clears_them(client, alice) -> None:
    for _ in range(4):
        sign_in(client, alice.email, "wrong-guess")
    assert sign_in(client, alice.email).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        assert sign_in(client, alice.email, "wrong-guess").status_code == 200
    assert sign_in(client, alice.email).status_code == 302


@override_settings(AXES_ENABLED=True)
def test_failures_through_authenticate_count_against_the_same_account(rf, alice) -> None:
    """The admin, the API or anything else that calls ``authenticate`` with ``username``
    or ``email`` adds to the same count as the sign-in form."""
    from django.contrib.auth import authenticate

    for key in ("username", "email", "username", "email", "username"):
        request = rf.post("/somewhere/")
        assert authenticate(request, **{key: "Alice@nfa.example.gov", "password": "x"}) is None
    request = rf.post("/somewhere/")
    assert authenticate(request, email=alice.email, password=PASSWORD) is None
    assert getattr(request, "axes_locked_out", False)


# --- no public sign-up ------------------------------------------------------------------------


def test_public_sign_up_is_closed(client, db) -> None:
    before = User.objects.count()
    page = client.get(reverse("account_signup"))
    assert page.status_code == 200
    assert "agency's administrator" in page.content.decode()

    response = client.post(
        reverse("account_signup"),
        {"email": "eve@example.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert "agency's administrator" in response.content.decode()
    assert User.objects.count() == before
    assert not User.objects.filter(email="eve@example.org").exists()
    assert not signed_in(client)


def test_people_cannot_add_e_mail_addresses_themselves(client, alice) -> None:
    from allauth.account.models import EmailAddress

    client.force_login(alice)
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "alice@private.example.org"}
    )
    assert response.status_code == 200
    assert not EmailAddress.objects.filter(email="alice@private.example.org").exists()
    client.logout()
    assert sign_in(client, "alice@private.example.org").status_code == 200
    assert not signed_in(client)


# --- password reset ---------------------------------------------------------------------------

RESET_LINK = re.compile(r"https?://testserver(/accounts/password/reset/key/\S+/)")


def test_password_reset_sends_one_link_that_sets_a_new_password(
    client, alice, mailoutbox, django_capture_on_commit_callbacks
):
    page = client.get(reverse("account_reset_password"))
    assert_accessible(page.content.decode())

    # the e-mail goes through the mail outbox, sent once the request's transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": alice.email})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [alice.email]
    link = RESET_LINK.search(mailoutbox[0].body)
    assert link, mailoutbox[0].body

    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    assert_accessible(form_page.content.decode())
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    done = client.post(set_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("account_reset_password_from_key_done")

    assert sign_in(Client(), alice.email).status_code == 200  # the old password is gone
    fresh = Client()
    assert sign_in(fresh, alice.email, NEW_PASSWORD).status_code == 302
    assert signed_in(fresh)

    # The link works once.
    again = client.get(link.group(1), follow=True)
    assert "no longer valid" in again.content.decode()


def test_a_mismatched_new_password_shows_an_error_and_changes_nothing(
    client, alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": alice.email})
    link = RESET_LINK.search(mailoutbox[0].body)
    assert link
    form_page = client.get(link.group(1), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"password1": NEW_PASSWORD, "password2": "something-else-9"})
    assert response.status_code == 200
    assert 'class="govuk-error-message"' in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def main_of(response) -> str:
    html = response.content.decode()
    return html[html.index("<main") : html.index("</main>")]


def test_an_unknown_address_reveals_nothing_and_gets_no_mail(
    client, alice, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("account_reset_password"), {"email": alice.email}, follow=True)
    assert len(mailoutbox) == 1
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        unknown = Client().post(
            reverse("account_reset_password"), {"email": "nobody@nfa.example.gov"}, follow=True
        )

    assert unknown.redirect_chain == known.redirect_chain
    assert main_of(unknown) == main_of(known)
    assert mailoutbox == []


# --- the second factor ------------------------------------------------------------------------


@override_settings(CONCORD_REQUIRE_MFA=True)
def test_without_an_authenticator_every_page_leads_to_setting_one_up(client, alice) -> None:
    sign_in(client, alice.email)
    activate = reverse("mfa_activate_totp")
    for path in ("/", reverse("agencies:directory"), reverse("notifications:centre")):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == activate

    htmx = client.get("/", headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"] == activate

    # The account pages, the health check and the API stay open, and signing out works.
    setup = client.get(activate, follow=True)
    assert setup.status_code == 200
    assert setup.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert "Set one up to continue" in setup.content.decode()
    assert_accessible(setup.content.decode())
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get("/api/").status_code != 302
    assert client.post(reverse("logout")).status_code == 302
    assert not signed_in(client)


@override_settings(CONCORD_REQUIRE_MFA=True)
def test_with_an_authenticator_the_pages_open(client, alice) -> None:
    give_totp(alice)
    client.force_login(alice)
    assert client.get("/").status_code == 200


@override_settings(CONCORD_REQUIRE_MFA=True)
def test_activating_totp_with_a_code_makes_recovery_codes(client, alice) -> None:
    sign_in(client, alice.email)
    assert client.get("/")["Location"] == reverse("mfa_activate_totp")
    confirm_password(client)
    page = client.get(reverse("mfa_activate_totp"))
    html = page.content.decode()
    assert_accessible(html)
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code, inline, not fetched
    secret = re.search(r'id="authenticator_secret" type="text" value="([A-Z2-7=]+)"', html)
    assert secret, html
    secret_value = secret.group(1)
    assert secret_value == page.context["form"].secret

    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    if totp_code(secret_value) == "000000":  # pragma: no cover - one in a million
        pytest.skip("the right code happened to be 000000")
    assert wrong.status_code == 200
    assert "Incorrect code" in wrong.content.decode()
    assert not Authenticator.objects.filter(user=alice).exists()

    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret_value)})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    types = set(Authenticator.objects.filter(user=alice).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    codes_page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    codes = Authenticator.objects.get(user=alice, type="recovery_codes").wrap().get_unused_codes()
    assert len(codes) == 10
    assert all(code in codes_page for code in codes)
    assert FormPage(codes_page).inline_scripts == 0
    assert client.get("/").status_code == 200


def test_signing_in_asks_for_the_authenticator_code(client, alice) -> None:
    secret, _codes = give_totp(alice)
    response = sign_in(client, alice.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not signed_in(client)
    assert client.get("/").status_code == 302

    page = client.get(reverse("mfa_authenticate"))
    assert_accessible(page.content.decode())

    right = totp_code(secret)
    wrong = "000000" if right != "000000" else "111111"
    refused = client.post(reverse("mfa_authenticate"), {"code": wrong})
    assert refused.status_code == 200
    assert "Incorrect code" in refused.content.decode()
    assert not signed_in(client)

    accepted = client.post(reverse("mfa_authenticate"), {"code": right})
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("dashboard")
    assert signed_in(client)
    assert client.get("/").status_code == 200


def test_an_authenticator_code_works_only_once(client, alice) -> None:
    secret, _codes = give_totp(alice)
    with time_machine.travel(START, tick=False):
        code = totp_code(secret)
        sign_in(client, alice.email)
        assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
        client.post(reverse("logout"))
        sign_in(client, alice.email)
        replay = client.post(reverse("mfa_authenticate"), {"code": code})
        assert replay.status_code == 200
        assert not signed_in(client)


def test_a_recovery_code_works_once(client, alice) -> None:
    _secret, codes = give_totp(alice)
    sign_in(client, alice.email)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[0]}).status_code == 302
    assert signed_in(client)
    client.post(reverse("logout"))

    sign_in(client, alice.email)
    again = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert again.status_code == 200
    assert not signed_in(client)
    assert client.post(reverse("mfa_authenticate"), {"code": codes[1]}).status_code == 302
    assert signed_in(client)


@override_settings(CONCORD_REQUIRE_MFA=True)
def test_while_required_the_authenticator_cannot_be_switched_off(client, alice) -> None:
    secret, _codes = give_totp(alice)
    sign_in(client, alice.email)
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    confirm_password(client)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 200
    assert "cannot deactivate" in response.content.decode()
    assert Authenticator.objects.filter(user=alice, type="totp").exists()


@override_settings(CONCORD_REQUIRE_MFA=False)
def test_when_not_required_the_authenticator_can_be_switched_off(client, alice) -> None:
    secret, _codes = give_totp(alice)
    sign_in(client, alice.email)
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    confirm_password(client)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=alice, type="totp").exists()


@pytest.mark.parametrize(
    "name",
    [
        "mfa_index",
        "account_change_password",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_deactivate_totp",
    ],
)
def test_account_security_pages_render_in_our_layout(client, alice, name) -> None:
    secret, _codes = give_totp(alice)
    sign_in(client, alice.email)
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    confirm_password(client)
    response = client.get(reverse(name))
    assert response.status_code == 200, name
    html = response.content.decode()
    assert 'href="/static/css/concord.css"' in html
    assert 'id="main"' in html and '<main class="govuk-main-wrapper"' in html
    assert FormPage(html).inline_scripts == 0
    for field in FormPage(html).inputs:
        assert field.get("id") in FormPage(html).label_for


def test_the_nav_links_to_account_security(client, alice) -> None:
    client.force_login(alice)
    assert f'href="{reverse("mfa_index")}"' in client.get("/").content.decode()


@override_settings(CONCORD_REQUIRE_MFA=False)
def test_without_the_requirement_the_pages_open_without_an_authenticator(client, alice):
    client.force_login(alice)
    for path in (
        "/",
        reverse("taskforces:list"),
        reverse("agencies:directory"),
        reverse("notifications:centre"),
        reverse("mfa_index"),
    ):
        assert client.get(path).status_code == 200, path


# --- session limits ---------------------------------------------------------------------------


def test_a_session_idle_for_thirty_minutes_ends(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, alice.email)
        clock.shift(dt.timedelta(minutes=29))
        assert client.get("/").status_code == 200  # still within the limit

        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/agencies/")

        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next=/agencies/"
        assert not signed_in(client)
        page = client.get(response["Location"])
        assert "You were signed out after 30 minutes without activity" in page.content.decode()
        assert client.get("/").status_code == 302


def test_an_htmx_request_after_the_idle_limit_redirects_the_whole_page(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, alice.email)
        clock.shift(dt.timedelta(minutes=31))
        response = client.get("/", headers={"HX-Request": "true"})
        assert response["HX-Redirect"].startswith(LOGIN)
        assert not signed_in(client)


def test_a_force_login_session_counts_from_the_sign_in(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(alice)
        assert client.get("/").status_code == 200
        clock.shift(dt.timedelta(minutes=31))
        assert client.get("/").status_code == 302
        assert not signed_in(client)


@override_settings(CONCORD_SESSION_IDLE_MINUTES=5)
def test_the_idle_limit_is_a_setting(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, alice.email)
        clock.shift(dt.timedelta(minutes=6))
        response = client.get("/", follow=True)
        assert "after 5 minutes without activity" in response.content.decode()


def test_an_active_session_ends_twelve_hours_after_signing_in(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, alice.email)
        for _ in range(12 * 6 - 1):  # a request every ten minutes for 11 h 50 min
            clock.shift(dt.timedelta(minutes=10))
            assert client.get("/").status_code == 200

        clock.shift(dt.timedelta(minutes=10))  # 12 hours after signing in
        response = client.get("/")

        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN)
        assert not signed_in(client)
        assert "at most 12 hours" in client.get(response["Location"]).content.decode()


@override_settings(CONCORD_SESSION_IDLE_MINUTES=24 * 60)
def test_signing_in_again_starts_a_new_twelve_hours(client, alice) -> None:
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, alice.email)
        clock.shift(dt.timedelta(hours=11, minutes=55))
        assert client.get("/").status_code == 200
        client.post(reverse("logout"))
        sign_in(client, alice.email)
        clock.shift(dt.timedelta(minutes=10))
        assert client.get("/").status_code == 200


def test_changing_the_password_signs_out_and_the_new_one_works(client, alice) -> None:
    sign_in(client, alice.email)
    wrong = client.post(
        reverse("account_change_password"),
        {"oldpassword": "not-it", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    assert 'class="govuk-error-message"' in wrong.content.decode()

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert not signed_in(client)
    assert sign_in(client, alice.email, NEW_PASSWORD).status_code == 302
