"""Agencies requiring a phishing-resistant factor (a passkey or security key, WebAuthn).

Its people who sign in with an authenticator code are stopped on every page but the one
that tells them what to do; the agency's administrators (and portal administrators, nobody
else) switch the rule, audited. The WebAuthn ceremonies themselves run in Chromium
(tests/browser/test_passkeys.py); here, the rule around them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.account.utils import user_pk_to_url_str
from allauth.mfa.adapter import get_adapter as get_mfa_adapter
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from agencies import services as agency_services
from agencies.models import Agency, Membership, ScimToken
from coordination.models import AuditEvent, User
from coordination.permissions import PermissionDenied
from tests.coordination.test_sign_in import give_totp, sign_in, totp_code

from ..factories import AgencyFactory, person
from .soft_key import SoftKey

R = Membership.Role
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def strict() -> Agency:
    return AgencyFactory(name="Border Force", acronym="BF")


@pytest.fixture
def relaxed() -> Agency:
    return AgencyFactory(name="Parks Service", acronym="PS")


@pytest.fixture
def strict_admin(strict) -> User:
    return person(strict, R.ADMIN, email="admin@bf.example.gov")


@pytest.fixture
def officer(strict) -> User:
    return person(strict, email="officer@bf.example.gov")


def require_passkeys(agency: Agency, by: User) -> None:
    agency_services.set_phishing_resistant_requirement(agency=agency, required=True, by=by)


def signed_in_with_totp(user: User) -> Client:
    """A browser that signed in as allauth's pages do: password, then the authenticator code."""
    secret, _ = give_totp(user)
    client = Client()
    assert sign_in(client, user.email)["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}).status_code == 302
    return client


def add_key(user: User, name: str = "YubiKey") -> Authenticator:
    """A registered key: a software key's real registration (soft_key.py)."""
    return SoftKey().store_for(user, name)


def sign_in_with_passkey(client: Client, key: SoftKey, user: User) -> Any:
    """What allauth's passkey script does: fetch the request options, answer them with
    the key, post the answer."""
    options = client.get(reverse("mfa_login_webauthn"), HTTP_ACCEPT="application/json").json()
    # the user handle the key stored at registration: allauth's id for the person
    answer = key.assertion(
        options["request_options"], user_handle=user_pk_to_url_str(user).encode()
    )
    return client.post(reverse("mfa_login_webauthn"), {"credential": json.dumps(answer)})


# --- the setting: who may switch it ------------------------------------------------------


def test_the_agencys_administrator_requires_passkeys_audited(strict, strict_admin):
    require_passkeys(strict, strict_admin)
    strict.refresh_from_db()
    assert strict.requires_phishing_resistant_mfa
    event = AuditEvent.objects.get(action="agency.phishing_resistant_mfa_set")
    assert event.actor == strict_admin and event.after == {"requires_phishing_resistant_mfa": True}


def test_a_portal_administrator_may_too(strict):
    admin = User.objects.create_user(email="portal@concord.example.gov", is_portal_admin=True)
    require_passkeys(strict, admin)
    strict.refresh_from_db()
    assert strict.requires_phishing_resistant_mfa


@pytest.mark.parametrize("who", ["other_admin", "staff", "liaison"])
def test_nobody_else_may(strict, relaxed, officer, who):
    actor = {
        "other_admin": lambda: person(relaxed, R.ADMIN, email="admin@ps.example.gov"),
        "staff": lambda: officer,
        "liaison": lambda: person(strict, R.LIAISON, email="liaison@bf.example.gov"),
    }[who]()
    with pytest.raises(PermissionDenied):
        require_passkeys(strict, actor)
    strict.refresh_from_db()
    assert not strict.requires_phishing_resistant_mfa


def test_the_page_switches_it_and_refuses_bad_input(strict, strict_admin, relaxed):
    client = Client()
    client.force_login(strict_admin)
    url = reverse("agencies:identity", args=[strict.pk])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"required": "perhaps"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    strict.refresh_from_db()
    assert not strict.requires_phishing_resistant_mfa
    # another agency's page is "not found"
    assert client.get(reverse("agencies:identity", args=[relaxed.pk])).status_code == 404
    assert (
        client.post(
            reverse("agencies:identity", args=[relaxed.pk]), {"required": "yes"}
        ).status_code
        == 404
    )
    assert client.post(url, {"required": "yes"}).status_code == 302
    strict.refresh_from_db()
    assert strict.requires_phishing_resistant_mfa
    # the administrator's own session (no passkey) is now stopped too: the rule has no exception
    assert client.get(url)["Location"] == reverse("passkey-required")
    relaxed.refresh_from_db()
    assert not relaxed.requires_phishing_resistant_mfa


def test_scim_tokens_on_the_page_secret_shown_once_revoked_by_own_admins_only(
    strict, strict_admin, relaxed
):
    client = Client()
    client.force_login(strict_admin)
    issued = client.post(reverse("agencies:scim-token-new", args=[strict.pk]), {"name": "Entra"})
    assert issued.status_code == 200
    token = ScimToken.objects.get(agency=strict)
    html = issued.content.decode()
    secret = html.split('id="new-scim-token" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith(token.prefix) and len(secret) > 30
    assert secret not in client.get(reverse("agencies:identity", args=[strict.pk])).content.decode()
    # a blank name is a form error, nothing issued
    assert (
        client.post(reverse("agencies:scim-token-new", args=[strict.pk]), {"name": " "}).status_code
        == 400
    )
    assert ScimToken.objects.filter(agency=strict).count() == 1
    # the other agency's administrator cannot issue for it or revoke its token
    other = Client()
    other.force_login(person(relaxed, R.ADMIN, email="admin@ps.example.gov"))
    assert (
        other.post(reverse("agencies:scim-token-new", args=[strict.pk]), {"name": "x"}).status_code
        == 404
    )
    assert other.post(reverse("agencies:scim-token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/scim/v2/Users").status_code == 200
    # its own administrator can
    assert client.post(reverse("agencies:scim-token-revoke", args=[token.pk])).status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/scim/v2/Users").status_code == 401


# --- the rule at sign-in --------------------------------------------------------------------


def test_a_totp_sign_in_is_stopped_and_told_to_add_a_passkey(strict, strict_admin, officer):
    require_passkeys(strict, strict_admin)
    client = signed_in_with_totp(officer)
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == reverse("passkey-required")
    page = client.get(reverse("passkey-required"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "requires its people to sign in with a passkey or security key" in text
    assert reverse("mfa_add_webauthn") in text
    # adding one is allowed (after allauth's own password check); nothing else is, the
    # account pages included
    add = client.get(reverse("mfa_add_webauthn"))
    assert add["Location"].startswith(reverse("account_reauthenticate"))
    assert client.get(add["Location"]).status_code == 200
    assert client.get(reverse("tokens"))["Location"] == reverse("passkey-required")
    assert client.get(reverse("account_change_password"))["Location"] == reverse("passkey-required")
    # nor the API, through this session
    assert client.get("/api/v1/task-forces/").status_code in (401, 403)


def test_with_a_key_registered_a_totp_session_must_sign_in_again_with_it(
    strict, strict_admin, officer
):
    require_passkeys(strict, strict_admin)
    add_key(officer)
    client = signed_in_with_totp(officer)
    page = client.get(reverse("passkey-required"))
    assert "sign out, then sign in again with your passkey" in page.content.decode()
    # and adding another key from a phishable session is refused: an attacker who phished
    # the code cannot plant their own key
    assert client.get(reverse("mfa_add_webauthn"))["Location"] == reverse("passkey-required")
    assert client.post(reverse("account_logout")).status_code == 302


def browser() -> Client:
    """A client on http://localhost: WebAuthn allows plain http only there."""
    return Client(SERVER_NAME="localhost")


def test_a_passkey_sign_in_passes(strict, strict_admin, officer):
    require_passkeys(strict, strict_admin)
    key = SoftKey()
    key.store_for(officer)
    client = browser()
    response = sign_in_with_passkey(client, key, officer)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200
    assert client.get(reverse("passkey-required"))["Location"] == reverse("dashboard")
    # the same key answering for someone else, or a key nobody registered, signs nobody in
    stranger = browser()
    sign_in_with_passkey(stranger, key, strict_admin)
    assert SESSION_KEY not in stranger.session
    unknown = browser()
    sign_in_with_passkey(unknown, SoftKey(), officer)
    assert SESSION_KEY not in unknown.session


def test_a_key_as_the_second_factor_after_the_password_passes(strict, strict_admin, officer):
    require_passkeys(strict, strict_admin)
    key = SoftKey()
    key.store_for(officer)
    client = browser()
    assert sign_in(client, officer.email)["Location"] == reverse("mfa_authenticate")
    page = client.get(reverse("mfa_authenticate"))
    options = page.context["js_data"]["request_options"]
    answer = key.assertion(options)
    done = client.post(reverse("mfa_authenticate"), {"credential": json.dumps(answer)})
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200


def test_a_deactivated_person_cannot_sign_in_with_their_passkey(strict, officer):
    key = SoftKey()
    key.store_for(officer)
    officer.is_active = False
    officer.save(update_fields=["is_active"])
    client = browser()
    sign_in_with_passkey(client, key, officer)
    assert SESSION_KEY not in client.session


def test_a_reauthentication_with_a_key_does_not_make_a_totp_sign_in_phishing_resistant(
    strict, strict_admin, officer
):
    require_passkeys(strict, strict_admin)
    key = add_key(officer)
    client = signed_in_with_totp(officer)
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    records.append(
        {"method": "mfa", "at": 0, "id": key.pk, "type": "webauthn", "reauthenticated": True}
    )
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()
    assert client.get("/")["Location"] == reverse("passkey-required")


def test_people_of_other_agencies_and_before_the_rule_sign_in_with_totp(
    strict, strict_admin, officer, relaxed
):
    other = person(relaxed, email="ranger@ps.example.gov")
    assert signed_in_with_totp(other).get("/").status_code == 200
    client = signed_in_with_totp(officer)
    assert client.get("/").status_code == 200
    # switched on while the officer is signed in: the next request is stopped
    require_passkeys(strict, strict_admin)
    assert client.get("/")["Location"] == reverse("passkey-required")


def test_the_last_key_cannot_be_removed_while_the_agency_requires_one(
    strict, strict_admin, officer
):
    give_totp(officer)
    first, second = add_key(officer, "one"), add_key(officer, "two")
    adapter = get_mfa_adapter()
    assert adapter.can_delete_authenticator(first)
    require_passkeys(strict, strict_admin)
    assert adapter.can_delete_authenticator(first)  # "two" is left
    second.delete()
    assert not adapter.can_delete_authenticator(first)
    totp = Authenticator.objects.get(user=officer, type=Authenticator.Type.TOTP)
    assert adapter.can_delete_authenticator(totp)


@override_settings(CONCORD_REQUIRE_MFA=True)
def test_a_passkey_alone_is_a_second_factor(relaxed):
    alone = person(relaxed, email="keyonly@ps.example.gov")
    key = add_key(alone)
    assert not get_mfa_adapter().can_delete_authenticator(key)  # the only factor
    client = Client()
    client.force_login(alone)
    assert client.get("/").status_code == 200  # not sent to set up an authenticator app
