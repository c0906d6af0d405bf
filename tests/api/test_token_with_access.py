"""An API token and its owner's access inside task forces are read together
(``taskforces.api.authentication``): on PostgreSQL one statement finds the token and
reads the access, which the rest of the request uses as ``access_for`` would have read
it. The access is the rule's own, for every kind of person; it is read afresh by every
request; and a refused token leaves nothing behind."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from agencies.models import Agency
from coordination.accounts.tokens import create_token, revoke_token
from coordination.permissions.request_memory import remembered, request_memory
from taskforces import access, services
from taskforces.api.authentication import ApiTokenAuthentication

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]

PERSONAS = (
    "portal_admin",  # a member of no agency
    "lead_admin",
    "lead_liaison",
    "lead_staff",
    "partner_liaison",
    "partner_staff",
    "outsider",
)


def authenticated(secret: str) -> tuple[Any, Any]:
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {secret}"))
    result = ApiTokenAuthentication().authenticate(request)
    assert result is not None
    return result


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the token and the access are one statement on PostgreSQL only")


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "prepared"])
@pytest.mark.parametrize("name", PERSONAS)
def test_the_access_read_with_the_token_is_the_rules(
    world: SimpleNamespace, name: str, prepared: bool, settings: Any
) -> None:
    settings.CONCORD_DB_PREPARED_STATEMENTS = prepared
    owner = getattr(world, name)
    _, secret = create_token(owner=owner, name="script")
    expected = access.compute(owner)
    with request_memory():
        user, _token = authenticated(secret)
        assert user == owner
        with CaptureQueriesContext(connection) as queries:
            assert access.access_for(user) == expected
    if connection.vendor == "postgresql":
        assert len(queries) == 0  # read with the token


def test_a_suspended_agencys_member_holds_nothing(world: SimpleNamespace) -> None:
    _, secret = create_token(owner=world.partner_staff, name="script")
    Agency.objects.filter(pk=world.partner.pk).update(status=Agency.Status.SUSPENDED)
    with request_memory():
        user, _token = authenticated(secret)
        found = access.access_for(user)
    assert found == access.compute(world.partner_staff)
    assert found.member_of == world.partner.pk
    assert not found.capabilities


@pytest.mark.postgres
def test_a_304_with_a_token_is_one_statement(world: SimpleNamespace) -> None:
    postgres_only()
    _, secret = create_token(owner=world.partner_staff, name="script")
    client = bearer(secret)
    for resource in ("task-forces", "objectives", "tasks", "updates", "roles"):
        etag = client.get(f"/api/v1/{resource}/")["ETag"]
        with CaptureQueriesContext(connection) as queries:
            answer = client.get(f"/api/v1/{resource}/", HTTP_IF_NONE_MATCH=etag)
        assert answer.status_code == 304
        assert len(queries) == 1, [q["sql"][:80] for q in queries.captured_queries]


def test_every_request_reads_the_access_afresh(world: SimpleNamespace) -> None:
    _, secret = create_token(owner=world.partner_staff, name="script")
    client = bearer(secret)
    first = client.get("/api/v1/objectives/")
    assert first.json()["count"] > 0
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Stood down"
    )
    again = client.get("/api/v1/objectives/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert again.json()["count"] == 0


def test_a_refused_token_leaves_no_access_behind(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.partner_staff, name="script")
    revoke_token(token=token, by=world.partner_staff)
    with request_memory():
        request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {secret}"))
        with pytest.raises(exceptions.AuthenticationFailed, match="revoked"):
            ApiTokenAuthentication().authenticate(request)
        assert not remembered(access.NOTE)
