"""What the audit trail records beyond service changes: sign-ins, failed sign-ins,
lockouts, sign-outs, password and second-factor changes, and every refused access to an
object (through pages and the API), each with UTC time, actor and agency, address, user
agent, object, values and outcome."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from coordination.accounts.tokens import create_token
from coordination.models import AuditEvent
from coordination.permissions.markings import Marking
from tests.coordination.test_sign_in import confirm_password, give_totp, sign_in, totp_code
from tests.factories import PASSWORD

pytestmark = pytest.mark.usefixtures("module_world")

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) ConcordTest/1.0"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def browser() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="203.0.113.9")


def last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


def test_a_sign_in_is_recorded_with_address_agency_and_user_agent(world) -> None:
    client = browser()
    sign_in(client, world.lead_staff.email)
    event = last("auth.signed_in")
    assert event is not None
    assert event.actor == world.lead_staff
    assert event.actor_agency_label == str(world.lead)
    assert (event.ip_address, event.user_agent) == ("203.0.113.9", BROWSER)
    assert event.outcome == "success"
    assert event.created_at.utcoffset().total_seconds() == 0


def test_a_failed_sign_in_records_the_address_typed_never_the_password(world) -> None:
    client = browser()
    sign_in(client, world.lead_staff.email, "Wrong-password-123")
    event = last("auth.sign_in_failed")
    assert event.actor is None
    assert event.actor_label == world.lead_staff.email
    assert event.outcome == "failure"
    assert "Wrong-password" not in str(event.after) + str(event.before)
    assert event.ip_address == "203.0.113.9"


@override_settings(AXES_ENABLED=True)
def test_a_lockout_is_recorded(world) -> None:
    client = browser()
    for _ in range(5):
        sign_in(client, world.partner_staff.email, "Wrong-password-123")
    sign_in(client, world.partner_staff.email, PASSWORD)  # refused: locked
    event = last("auth.locked_out")
    assert event is not None
    assert event.actor_label == world.partner_staff.email
    assert event.outcome == "denied"


def test_signing_out_is_recorded(world) -> None:
    client = browser()
    client.force_login(world.lead_staff)
    client.post(reverse("account_logout"))
    assert last("auth.signed_out").actor == world.lead_staff


def test_a_password_change_is_recorded_without_the_password(world) -> None:
    client = browser()
    client.force_login(world.lead_staff)
    confirm_password(client)
    new = "A-new-and-long-passphrase-42"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    event = last("auth.password_changed")
    assert event.actor == world.lead_staff
    assert new not in str(event.before) + str(event.after)


def test_a_wrong_second_factor_code_is_recorded(world) -> None:
    secret, _ = give_totp(world.partner_staff)
    client = browser()
    sign_in(client, world.partner_staff.email)
    right = totp_code(secret)
    client.post(reverse("mfa_authenticate"), {"code": "000000" if right != "000000" else "1"})
    event = last("mfa.failed")
    assert event.actor == world.partner_staff
    assert event.outcome == "failure"


# --- refused access ----------------------------------------------------------------------


def test_a_page_refused_by_a_service_is_recorded_with_its_object(world) -> None:
    client = browser()
    client.force_login(world.lead_staff)  # a Member: may not edit the task force
    response = client.post(reverse("taskforces:edit", args=[world.tf.pk]), {"name": "x"})
    assert response.status_code in (403, 404)
    event = last("access.refused")
    assert event.actor == world.lead_staff
    assert event.outcome == "denied"
    assert event.object_type == "taskforces.taskforce"
    assert event.object_id == str(world.tf.pk)
    assert event.after["path"] == reverse("taskforces:edit", args=[world.tf.pk])


def test_asking_for_a_hidden_object_by_id_is_recorded(world) -> None:
    red = world.objectives[Marking.RED]
    client = browser()
    client.force_login(world.partner_staff)
    before = AuditEvent.objects.filter(action="access.refused").count()
    response = client.get(reverse("taskforces:objective", args=[red.pk]))
    assert response.status_code == 404
    event = last("access.refused")
    assert AuditEvent.objects.filter(action="access.refused").count() == before + 1
    assert (event.object_type, event.object_id) == ("taskforces.objective", str(red.pk))
    assert event.object_repr == ""  # the title of what they may not see is not recorded
    assert event.actor_agency_label == str(world.partner)


def test_an_id_that_names_nothing_is_recorded_like_a_hidden_one(world) -> None:
    """Hidden and missing are one answer, done the same way (issue 15): the refusal is
    recorded for both, with the same reason; the auditor looks up whether it exists."""
    red = world.objectives[Marking.RED]
    client = browser()
    client.force_login(world.partner_staff)
    events = []
    for pk in (red.pk, 987654):
        assert client.get(reverse("taskforces:objective", args=[pk])).status_code == 404
        events.append(last("access.refused"))
    hidden, missing = events
    assert (hidden.object_id, missing.object_id) == (str(red.pk), "987654")
    assert hidden.after["reason"] == missing.after["reason"]
    assert hidden.object_type == missing.object_type == "taskforces.objective"


def test_the_api_records_refusals_too(world) -> None:
    red = world.objectives[Marking.RED]
    _token, secret = create_token(owner=world.partner_staff, name="script")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_USER_AGENT="script/1")
    assert client.get(f"/api/v1/objectives/{red.pk}/").status_code == 404
    event = last("access.refused")
    assert (event.actor, event.object_id) == (world.partner_staff, str(red.pk))
    assert event.user_agent == "script/1"


def test_a_forged_forwarded_header_does_not_change_the_recorded_address(world) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="10.6.6.6")
    sign_in(client, world.lead_staff.email)
    assert last("auth.signed_in").ip_address == "198.51.100.7"


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_client_address_is_recorded(world) -> None:
    client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.44")
    sign_in(client, world.lead_staff.email)
    assert last("auth.signed_in").ip_address == "192.0.2.44"


def test_a_refused_api_token_is_a_recorded_failed_sign_in(world) -> None:
    bogus = "x" * 43
    client = Client(HTTP_AUTHORIZATION=f"Bearer {bogus}", HTTP_USER_AGENT="script/1")
    assert client.get("/api/v1/objectives/").status_code == 401
    event = last("auth.api_token_refused")
    assert event.outcome == "failure"
    assert event.actor is None
    assert event.actor_label == "API token xxxxxxxx…"
    assert bogus not in str(event.after) + event.actor_label
