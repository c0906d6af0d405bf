"""Redis down is a degraded portal, not a broken one. Production keeps in Redis the request
limits (the API's throttles, allauth's sign-in limits, the application form's limit), the
used-TOTP-code guard and the Celery broker. When Redis cannot be reached, every request is
still served: the limits are not counted (a warning is logged), the write is committed and
its notification waits in the outbox for the sweeper. Once Redis is back the limits count
again.

The outage is real: a private ``redis-server`` (never the shared one) that the test stops
in the middle and starts again, with production's cache settings pointed at it and this
process's Celery publishing to it. Needs the ``redis-server`` binary (skipped without it,
failed on CI).
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from coordination.accounts.tokens import create_token
from coordination.models import Event
from coordination.permissions.markings import Marking
from taskforces.models import Update
from tests.factories import PASSWORD
from tests.notifications.workers import RedisServer, celery_via
from tests.security.pages import APPLICATION
from tests.security.test_production_settings import CI_ENVIRONMENT

pytestmark = pytest.mark.django_db

TOKEN_LIMIT = 3


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "Needs the redis-server binary (a private Redis is stopped mid-test)."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def production_caches(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``CACHES`` exactly as coordination.settings.production makes it for ``redis_url``."""
    with monkeypatch.context() as patch:
        for key, value in {**CI_ENVIRONMENT, "REDIS_URL": redis_url}.items():
            patch.setenv(key, value)
        for name in ("base", "production"):
            patch.delitem(sys.modules, f"coordination.settings.{name}", raising=False)
        module = importlib.import_module("coordination.settings.production")
        caches: dict[str, Any] = module.CACHES
    return caches


@pytest.fixture
def private_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A private Redis as production's cache and broker, with limits low enough to reach
    and sign-in as in production (django-axes on)."""
    server = RedisServer(redis_server_binary(), tmp_path).start()
    rates = {"user": "1000/hour", "token": f"{TOKEN_LIMIT}/hour"}
    try:
        with (
            override_settings(
                CACHES=production_caches(server.url, monkeypatch),
                REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates},
                AXES_ENABLED=True,
                CONCORD_APPLY_RATE="5/hour",
            ),
            celery_via(server.url),
        ):
            yield server
    finally:
        server.stop()


def keys_in(server: RedisServer) -> list[str]:
    client = redis.Redis(port=server.port, socket_timeout=5)
    try:
        return sorted(key.decode() for key in client.keys("*"))
    finally:
        client.close()


def sign_in(email: str) -> Client:
    client = Client()
    response = client.post(reverse("account_login"), {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SESSION_KEY in client.session
    return client


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_mid_run_the_portal_serves_and_commits_then_limits_count_again(
    private_redis: RedisServer, world: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    # Redis up: the limits count there
    liaison = sign_in(world.lead_liaison.email)
    assert token.get("/api/v1/agencies/").status_code == 200
    assert any("throttle_token" in key for key in keys_in(private_redis))

    private_redis.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert token.get("/api/v1/agencies/").status_code == 200
        assert liaison.get("/api/v1/task-forces/").status_code == 200
        posted = liaison.post(
            "/api/v1/updates/",
            {
                "task_force": world.tf.pk,
                "title": "Written while Redis is down",
                "body": "Still rising.",
                "marking": Marking.GREEN,
            },
            content_type="application/json",
        )
        assert posted.status_code == 201, posted.content.decode()
        staff = sign_in(world.lead_staff.email)
        assert staff.get(reverse("dashboard")).status_code == 200
        applied = Client().post(reverse("agencies:apply"), APPLICATION)
        assert applied.status_code == 302, applied.content.decode()[:2000]
    # committed, and its notification event waits in the outbox for the sweeper
    update = Update.objects.get(title="Written while Redis is down")
    assert update.task_force_id == world.tf.pk
    assert Event.objects.filter(
        object_id=str(update.pk), object_type="taskforces.update", dispatched_at__isnull=True
    ).exists()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Redis" in r.getMessage() for r in warnings), [r.getMessage() for r in warnings]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and "request" in r.name]

    # Redis back (empty, as after a restart): every limit counts again
    private_redis.start()
    answers = [token.get("/api/v1/agencies/").status_code for _ in range(TOKEN_LIMIT + 1)]
    assert answers == [200] * TOKEN_LIMIT + [429]
    sign_in(world.partner_liaison.email)
    keys = keys_in(private_redis)
    assert any("throttle_token" in key for key in keys), keys
    assert any("allauth" in key or "login" in key for key in keys), keys


# --- the degrade path, unit by unit: Redis at an address where nothing listens ---------------


def nowhere() -> str:
    """A Redis address with nothing listening (a port just freed)."""
    from tests.notifications.workers import free_port

    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def unreachable_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with override_settings(CACHES=production_caches(nowhere(), monkeypatch)):
        yield


THROTTLES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]


@pytest.mark.parametrize("path", THROTTLES)
def test_every_throttle_lets_the_request_through_and_warns_when_redis_is_down(
    path: str, unreachable_redis: None, world: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    from django.utils.module_loading import import_string
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory, force_authenticate

    throttle_class = import_string(path)
    token, _ = create_token(owner=world.lead_staff, name="Poller")
    # each throttle counts its own kind of request: a session's, or a token's
    auth = token if throttle_class.scope == "token" else None
    raw = APIRequestFactory().get("/api/v1/agencies/")
    force_authenticate(raw, user=world.lead_staff, token=auth)
    request = Request(raw)
    request.user, request.auth = world.lead_staff, auth
    throttle = throttle_class()
    assert throttle.get_cache_key(request, None) is not None  # it would count this one
    with caplog.at_level(logging.WARNING, logger="coordination.db.cache"):
        assert throttle.allow_request(request, None) is True
    assert any(
        "Redis is unavailable" in r.getMessage() and throttle_class.scope in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]


CACHE_CALLS = {
    "get": (lambda c: c.get("k", "default"), "default"),
    "add": (lambda c: c.add("k", 1), True),
    "set": (lambda c: c.set("k", 1), None),
    "touch": (lambda c: c.touch("k"), False),
    "delete": (lambda c: c.delete("k"), False),
    "get_many": (lambda c: c.get_many(["k"]), {}),
    "has_key": (lambda c: c.has_key("k"), False),
    "set_many": (lambda c: c.set_many({"k": 1}), ["k"]),
    "delete_many": (lambda c: c.delete_many(["k"]), None),
    "clear": (lambda c: c.clear(), False),
}


@pytest.mark.parametrize("operation", sorted(CACHE_CALLS))
def test_the_cache_answers_as_an_empty_cache_and_warns_when_redis_is_down(
    operation: str, unreachable_redis: None, caplog: pytest.LogCaptureFixture
) -> None:
    from django.core.cache import cache

    call, empty = CACHE_CALLS[operation]
    with caplog.at_level(logging.WARNING, logger="coordination.db.cache"):
        assert call(cache) == empty
    assert [r.getMessage() for r in caplog.records if "Redis is unavailable" in r.getMessage()]


def test_a_counter_in_an_unreachable_cache_is_one_that_is_not_there(
    unreachable_redis: None,
) -> None:
    """incr and decr say what an empty cache says, which the limits already handle."""
    from django.core.cache import cache

    from coordination.web import ratelimit

    with pytest.raises(ValueError):
        cache.incr("k")
    with pytest.raises(ValueError):
        cache.decr("k")
    assert ratelimit.increment("k", timeout=60) == 1
