"""Personal API tokens: made and revoked by their owner on the portal page, stored only
as a hash, shown once, optionally expiring, refused at once when revoked or expired."""

from __future__ import annotations

import datetime
import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from coordination.accounts.tokens import MAX_ACTIVE_TOKENS, create_token, revoke_token
from coordination.models import ApiToken, AuditEvent
from coordination.permissions import PermissionDenied

from .conftest import bearer

URL = "/api/v1/task-forces/"

# The world is built once for the module; each test changes it only in its own savepoint.
pytestmark = pytest.mark.usefixtures("module_world")


def assert_401(response: Any, message: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    error = response.json()["error"]
    assert error["status"] == 401
    assert error["code"] == "authentication_failed"
    assert message in error["message"]
    assert error["fields"] == {}


def test_a_token_works_as_its_owner(world: SimpleNamespace) -> None:
    _, secret = create_token(owner=world.partner_staff, name="Dashboard")
    for scheme in ("Bearer", "Token", "bearer"):
        response = bearer(secret, scheme).get(URL)
        assert response.status_code == 200
        assert [tf["id"] for tf in response.json()["results"]] == [world.tf.pk]
    # ... and sees only what its owner sees
    outsiders = create_token(owner=world.outsider, name="Dashboard")[1]
    assert bearer(outsiders).get(URL).json()["results"] == []


def test_only_the_hash_is_stored(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.lead_liaison, name="Dispatch system")
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in {str(value) for value in row.values()}
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:8]
    assert len(secret) >= 40
    # the audit trail records the token, never its secret
    event = AuditEvent.objects.get(action="api_token.created", object_id=str(token.pk))
    assert secret not in str(event.after)
    assert (event.after or {})["prefix"] == secret[:8]


def test_revoked_token_is_refused_at_once(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.lead_liaison, name="Dispatch system")
    client = bearer(secret)
    assert client.get(URL).status_code == 200
    revoke_token(token=token, by=world.lead_liaison)
    assert_401(client.get(URL), "revoked")
    with pytest.raises(ValidationError):
        revoke_token(token=token, by=world.lead_liaison)


def test_expired_token_is_refused(world: SimpleNamespace) -> None:
    now = timezone.now()
    _, secret = create_token(
        owner=world.lead_liaison, name="Pilot", expires_at=now + datetime.timedelta(days=7)
    )
    assert bearer(secret).get(URL).status_code == 200
    with time_machine.travel(now + datetime.timedelta(days=7, seconds=1), tick=False):
        assert_401(bearer(secret).get(URL), "expired")


def test_expiry_must_be_in_the_future(world: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as error:
        create_token(
            owner=world.lead_liaison,
            name="Pilot",
            expires_at=timezone.now() - datetime.timedelta(minutes=1),
        )
    assert "expires_at" in error.value.message_dict


def test_name_is_required_and_tokens_are_limited(world: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as error:
        create_token(owner=world.lead_liaison, name="   ")
    assert "name" in error.value.message_dict
    for n in range(MAX_ACTIVE_TOKENS):
        create_token(owner=world.lead_liaison, name=f"System {n}")
    with pytest.raises(ValidationError):
        create_token(owner=world.lead_liaison, name="One too many")


def test_someone_elses_token_cannot_be_revoked(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.lead_liaison, name="Dispatch system")
    with pytest.raises(PermissionDenied):
        revoke_token(token=token, by=world.lead_staff)
    # nor through the page: it is "not found", as if it did not exist
    client = Client()
    client.force_login(world.lead_staff)
    response = client.post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert bearer(secret).get(URL).status_code == 200


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "Send the token as"),
        ("Bearer two words", "Send the token as"),
        ("Bearer not-a-token", "Invalid token"),
        ("Token ", "Send the token as"),
    ],
)
def test_bad_credentials_are_refused(world: SimpleNamespace, header: str, message: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_401(client.get(URL), message)


def test_inactive_owner_token_is_refused(world: SimpleNamespace) -> None:
    _, secret = create_token(owner=world.partner_staff, name="Dashboard")
    world.partner_staff.is_active = False
    world.partner_staff.save(update_fields=["is_active"])
    assert_401(bearer(secret).get(URL), "inactive")


def test_last_used_is_written_at_most_once_a_minute(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.partner_staff, name="Dashboard")
    assert token.last_used_at is None
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bearer(secret).get(URL)
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + datetime.timedelta(seconds=59), tick=False):
        bearer(secret).get(URL)
    token.refresh_from_db()
    assert token.last_used_at == start
    later = start + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        bearer(secret).get(URL)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_a_token_request_makes_no_session(world: SimpleNamespace) -> None:
    """A token authenticates one request; it must not leave a session (and a cookie)."""
    _, secret = create_token(owner=world.partner_staff, name="Dashboard")
    response = bearer(secret).get(URL)
    assert response.status_code == 200
    assert "sessionid" not in response.cookies


# --- the portal page ------------------------------------------------------------------------


def test_tokens_page_creates_shows_once_and_revokes(world: SimpleNamespace) -> None:
    client = Client()
    client.force_login(world.lead_liaison)
    page = client.get(reverse("tokens"))
    assert page.status_code == 200
    assert "You have no tokens yet" in page.content.decode()

    created = client.post(reverse("tokens"), {"name": "Dispatch system", "expires": "30"})
    assert created.status_code == 200
    secret = created.context["secret"]
    html = created.content.decode()
    assert secret in html
    assert "shown only this once" in html
    token = ApiToken.objects.get(owner=world.lead_liaison)
    assert token.expires_at is not None
    assert (
        datetime.timedelta(days=29)
        < token.expires_at - timezone.now()
        <= datetime.timedelta(days=30)
    )
    assert bearer(secret).get(URL).status_code == 200

    again = client.get(reverse("tokens")).content.decode()
    assert secret not in again
    assert token.prefix in again
    assert "Dispatch system" in again

    response = client.post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert_401(bearer(secret).get(URL), "revoked")


def test_tokens_page_without_expiry_and_with_errors(world: SimpleNamespace) -> None:
    client = Client()
    client.force_login(world.partner_staff)
    response = client.post(reverse("tokens"), {"name": "Forever", "expires": "never"})
    assert response.status_code == 200
    assert ApiToken.objects.get(owner=world.partner_staff).expires_at is None
    response = client.post(reverse("tokens"), {"name": "", "expires": "sometime"})
    assert response.status_code == 400
    assert response.context["secret"] is None
    assert ApiToken.objects.filter(owner=world.partner_staff).count() == 1


def test_tokens_page_needs_sign_in(client: Any) -> None:
    response = client.get(reverse("tokens"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
