"""Adding a second factor is recorded, without its secret. allauth sends its signal after
the transaction commits, so this test commits for real (a transactional test)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from coordination.models import AuditEvent
from tests.coordination.test_sign_in import confirm_password, sign_in, totp_code
from tests.factories import AgencyFactory, person


@pytest.mark.django_db(transaction=True)
@override_settings(CONCORD_REQUIRE_MFA=True)
def test_adding_a_second_factor_is_recorded_without_its_secret() -> None:
    cache.clear()
    alice = person(AgencyFactory(name="MFA Agency"), email="alice@mfa.example.gov")
    client = Client(HTTP_USER_AGENT="ConcordTest/1.0")
    sign_in(client, alice.email)
    confirm_password(client)
    page = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret" type="text" value="([A-Z2-7=]+)"', page)
    assert secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret.group(1))})
    assert response.status_code == 302
    added = AuditEvent.objects.filter(action="mfa.added").order_by("id")
    assert [event.after["authenticator"] for event in added] == ["totp", "recovery_codes"]
    assert all(event.actor == alice for event in added)
    assert secret.group(1) not in str([event.after for event in added])
    cache.clear()
