"""API tokens kept by each web process under the ``auth`` epoch (coordination/tokens.py):
no token lookup while nothing behind it changes, and every change that matters — made by
the services, the admin or a plain UPDATE — refuses or refreshes the token from the next
request on."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Agency
from coordination import epochs, tokens
from coordination.models import ApiToken, User
from coordination.tokens import create_token, revoke_token

from ..factories import AgencyFactory

pytestmark = pytest.mark.usefixtures("module_world")

URL = "/api/v1/notifications/unread-count/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def token_queries(queries: Any) -> int:
    return sum('"coordination_apitoken"' in q["sql"] for q in queries.captured_queries)


def test_a_kept_token_is_not_looked_up_again(
    world: SimpleNamespace, django_assert_max_num_queries: Any
) -> None:
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    client = bearer(secret)
    with django_assert_max_num_queries(10) as first:
        assert client.get(URL).status_code == 200
    assert token_queries(first) == 2  # the lookup, and last_used_at
    with django_assert_max_num_queries(10) as second:
        assert client.get(URL).status_code == 200
    assert token_queries(second) == 0
    assert len(tokens.kept) == 1


CHANGES: dict[str, tuple[Callable[[ApiToken], None], str]] = {
    "revoked by its owner": (
        lambda t: revoke_token(token=t, by=t.owner),
        "This token has been revoked.",
    ),
    "revoked by a plain UPDATE": (
        lambda t: ApiToken.objects.filter(pk=t.pk).update(revoked_at=timezone.now()),
        "This token has been revoked.",
    ),
    "expiry moved into the past": (
        lambda t: ApiToken.objects.filter(pk=t.pk).update(
            expires_at=timezone.now() - datetime.timedelta(seconds=1)
        ),
        "This token has expired.",
    ),
    "owner's account deactivated": (
        lambda t: User.objects.filter(pk=t.owner_id).update(is_active=False),
        "This token's account is inactive.",
    ),
    "token deleted": (lambda t: ApiToken.objects.filter(pk=t.pk).delete(), "Invalid token."),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_kept_token_is_refused_once_a_change_commits(world: SimpleNamespace, change: str) -> None:
    token, secret = create_token(owner=world.partner_staff, name="Poller")
    client = bearer(secret)
    assert client.get(URL).status_code == 200  # kept now
    before = epochs.current(tokens.EPOCH)
    make, message = CHANGES[change]
    make(token)
    assert epochs.current(tokens.EPOCH) != before
    refused = client.get(URL)
    assert refused.status_code == 401
    assert message in refused.json()["error"]["message"]


def test_a_kept_token_expires_on_time(world: SimpleNamespace) -> None:
    now = timezone.now()
    _, secret = create_token(
        owner=world.partner_staff, name="Poller", expires_at=now + datetime.timedelta(hours=1)
    )
    client = bearer(secret)
    assert client.get(URL).status_code == 200
    with time_machine.travel(now + datetime.timedelta(hours=1, seconds=1)):
        refused = client.get(URL)
    assert refused.status_code == 401
    assert "This token has expired." in refused.json()["error"]["message"]


def test_the_owner_is_read_afresh_after_any_change_to_their_account(world: SimpleNamespace) -> None:
    """The request's person is who they are now: a portal administrator made or unmade,
    a new name, shows on the next request."""
    applied = AgencyFactory(status=Agency.Status.APPLIED)
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    client = bearer(secret)

    def listed() -> set[int]:
        answer = client.get("/api/v1/agencies/", {"page_size": 100})
        assert answer.status_code == 200
        return {agency["id"] for agency in answer.json()["results"]}

    assert applied.pk not in listed()
    User.objects.filter(pk=world.partner_staff.pk).update(is_portal_admin=True)
    assert applied.pk in listed()  # portal administrators see every agency


def test_every_column_of_an_account_but_its_last_sign_in_moves_the_epoch(
    world: SimpleNamespace,
) -> None:
    """Guards the migration's list: a column added to accounts later must be added to the
    auth epoch's triggers (coordination/migrations) or to the exceptions here, knowingly."""
    unwatched = {"id", "last_login"}
    user = world.partner_staff
    for field in User._meta.concrete_fields:
        if field.attname in unwatched:
            continue
        current = getattr(user, field.attname)
        if isinstance(current, bool):
            value: Any = not current
        elif isinstance(current, datetime.datetime):
            value = current - datetime.timedelta(days=1)
        elif field.attname == "email":
            value = f"renamed-{user.pk}@example.org"
        else:
            value = f"{current}-changed"
        before = epochs.current(tokens.EPOCH)
        User.objects.filter(pk=user.pk).update(**{field.attname: value})
        assert epochs.current(tokens.EPOCH) != before, field.attname
    before = epochs.current(tokens.EPOCH)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    assert epochs.current(tokens.EPOCH) == before


def test_each_request_gets_its_own_person(world: SimpleNamespace) -> None:
    """Kept values, fresh instances: what one request caches on its person (Django's
    permission caches, say) never reaches the next."""
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    first = tokens.authenticate_secret(secret)
    first.owner._perm_cache = {"leaked"}  # type: ignore[attr-defined]
    second = tokens.authenticate_secret(secret)
    assert second.owner is not first.owner
    assert not hasattr(second.owner, "_perm_cache")
    assert second.owner.email == world.partner_staff.email


def test_with_keeping_off_every_request_looks_the_token_up(
    world: SimpleNamespace, settings: Any, django_assert_max_num_queries: Any
) -> None:
    settings.CONCORD_ACCESS_CACHE_SIZE = 0
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    client = bearer(secret)
    client.get(URL)
    with django_assert_max_num_queries(10) as again:
        assert client.get(URL).status_code == 200
    assert token_queries(again) == 1
    assert len(tokens.kept) == 0
