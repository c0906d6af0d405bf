"""An API token and its owner's access inside task forces are read together
(``taskforces.api.authentication``): on PostgreSQL one statement finds the token and
reads the access, which the rest of the request uses as ``access_for`` would have read
it. The access is the rule's own, for every kind of person, and a refused token leaves
nothing behind. (That it is read afresh by every request: ``test_conditional``.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from agencies.api.urls import router as agencies_router
from agencies.models import Agency
from coordination.accounts.tokens import create_token, revoke_token
from coordination.api.urls import router as core_router
from coordination.permissions.request_memory import remembered, request_memory
from mutualaid.api.urls import router as mutualaid_router
from taskforces import access
from taskforces.api.authentication import ApiTokenAuthentication
from taskforces.api.urls import router as taskforces_router

from ..conftest import PERSONAS
from .conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]


def token_request(secret: str) -> Request:
    """A request with the token, to a view that reads the access."""
    return Request(
        APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {secret}"),
        parser_context={"view": SimpleNamespace(reads_task_force_access=True)},
    )


def authenticated(secret: str) -> tuple[Any, Any]:
    result = ApiTokenAuthentication().authenticate(token_request(secret))
    assert result is not None
    return result


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


# what only the access statement reads (``taskforces.access``), and what only the statement
# that reads it with the token has
ACCESS_SQL = "FROM agencies_membership m JOIN agencies_agency a ON a.id = m.agency_id"
WITH_TOKEN = "UNION ALL SELECT 1"
RESOURCES = [
    (prefix, viewset)
    for router in (agencies_router, taskforces_router, mutualaid_router, core_router)
    for prefix, viewset, _basename in router.registry
]


@pytest.mark.postgres
@pytest.mark.parametrize(("prefix", "viewset"), RESOURCES, ids=[r[0] for r in RESOURCES])
def test_the_access_is_read_with_the_token_exactly_where_the_view_reads_it(
    world: SimpleNamespace, prefix: str, viewset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view says it reads the access exactly when, with the token read alone, it reads
    the access; saying so, it gets the access with the token and reads it no other way.
    So nobody pays for an access nothing asks for, and no view reads it twice."""
    postgres_only()
    _, secret = create_token(owner=world.lead_liaison, name="script")
    client = bearer(secret)
    client.get(f"/api/v1/{prefix}/")  # the token's last use is written once a minute

    def statements() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            client.get(f"/api/v1/{prefix}/")
        return [q["sql"] for q in queries.captured_queries]

    says = getattr(viewset, "reads_task_force_access", False)
    with monkeypatch.context() as patch:
        patch.setattr(viewset, "reads_task_force_access", False, raising=False)
        token_alone = statements()
    assert not [sql for sql in token_alone if WITH_TOKEN in sql]
    assert says == any(ACCESS_SQL in sql for sql in token_alone)
    read = statements()
    with_token = [sql for sql in read if WITH_TOKEN in sql]
    alone = [sql for sql in read if ACCESS_SQL in sql and WITH_TOKEN not in sql]
    assert (len(with_token), alone) == ((1, []) if says else (0, []))


def test_a_refused_token_leaves_no_access_behind(world: SimpleNamespace) -> None:
    token, secret = create_token(owner=world.partner_staff, name="script")
    revoke_token(token=token, by=world.partner_staff)
    with request_memory():
        request = token_request(secret)
        with pytest.raises(exceptions.AuthenticationFailed, match="revoked"):
            ApiTokenAuthentication().authenticate(request)
        assert not remembered(access.NOTE)
