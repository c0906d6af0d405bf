"""Passkeys in Chromium, through its virtual authenticator (DevTools protocol: WebAuthn
domain, a CTAP2 platform authenticator with resident keys and user verification).

An agency requires a phishing-resistant factor. Its officer signs in with password and
authenticator code and is stopped with a page that says what to do; adds a passkey
(the real WebAuthn registration ceremony, allauth's static script under the strict CSP);
is still stopped, because this session began with a code; signs out and signs in with the
passkey alone; works; and the reauthentication page that asks for the key opens cleanly.
"""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from agencies import services as agency_services
from agencies.models import Membership
from tests.factories import PASSWORD, AgencyFactory, person

from .conftest import give_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def virtual_authenticator(page) -> tuple[object, str]:
    """Chromium's virtual authenticator for this page: a passkey-capable platform
    authenticator whose user is always verified (fingerprint or PIN accepted)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def test_an_officer_registers_a_passkey_signs_out_and_signs_in_with_it(
    open_page, sign_in, shot
) -> None:
    border = AgencyFactory.create(name="Border Force", acronym="BF")
    admin = person(border, Membership.Role.ADMIN, email="admin@bf.example.gov")
    agency_services.set_phishing_resistant_requirement(agency=border, required=True, by=admin)
    officer = person(border, email="officer@bf.example.gov", first_name="Oona", last_name="Reyes")
    secret = give_totp(officer)

    page = open_page()
    cdp, authenticator_id = virtual_authenticator(page)

    # --- password and authenticator code: stopped, told to add a passkey --------------------
    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    sign_in(page, officer.email, totp_secret=secret)
    expect(page).to_have_url(re.compile(r"/accounts/passkey-required/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Sign in with a passkey or security key"
    )
    shot(page, "stopped-without-a-passkey")
    page.goto("/")  # any other page sends them back here
    expect(page).to_have_url(re.compile(r"/accounts/passkey-required/$"))

    # --- adding one: allauth asks for the password again, then the ceremony ------------------
    page.get_by_role("link", name="Add a passkey or security key").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a passkey or security key")
    page.get_by_label("Name").fill("Work laptop")
    page.get_by_label("Passwordless").check()
    shot(page, "add-a-passkey")
    page.get_by_role("button", name="Add", exact=True).click()

    # registered: on the authenticator (a resident key) and in Concord
    expect(page).not_to_have_url(re.compile(r"/accounts/2fa/webauthn/add/"))
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["isResidentCredential"] is True
    key = Authenticator.objects.get(user=officer, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Work laptop" and key.wrap().is_passwordless is True

    # this session began with a code: still stopped, now told to sign in with the passkey
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/passkey-required/$"))
    expect(page.get_by_text("sign out, then sign in again with your passkey")).to_be_visible()
    shot(page, "stopped-until-signed-in-with-the-passkey")
    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    # --- the passkey alone signs in --------------------------------------------------------
    # (the button works once the page's script has loaded: on a busy machine a click can
    # come before it)
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Use a passkey").click()
    # the ceremony runs in the page's script before it posts: give a busy machine time
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard", timeout=20_000)
    shot(page, "signed-in-with-the-passkey")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert credentials["credentials"][0]["signCount"] >= 1
    key.refresh_from_db()
    assert key.last_used_at is not None

    # the page that confirms it is you with the key opens under the strict CSP
    page.goto("/accounts/2fa/webauthn/reauthenticate/")
    expect(page.get_by_role("button", name="Use a passkey or security key")).to_be_visible()
    page.get_by_role("button", name="Use a passkey or security key").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/2fa/webauthn/reauthenticate/"))
