"""The API's request limits are sliding windows of two atomic counters
(coordination/api/throttling.py): no burst of twice the limit across two periods, every
concurrent request counted, a ``Retry-After`` that says when the next request fits, and a
constant, small amount kept in the cache however many requests a client makes."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from coordination.accounts.tokens import create_token
from coordination.api import throttling
from coordination.api.throttling import estimate, seconds_until_allowed

from .conftest import bearer

pytestmark = pytest.mark.usefixtures("module_world", "counters")

START = dt.datetime(2026, 3, 2, 9, 0, 30, tzinfo=dt.UTC)  # half way through a minute


@pytest.fixture(params=["django-cache", "redis"])
def counters(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with the counters in Django's local-memory cache (development) and
    in Redis through the Lua script (production; needs REDIS_URL, as CI sets)."""
    if request.param == "django-cache":
        yield request.param
        return
    location = os.environ.get("REDIS_URL")
    if not location:
        pytest.skip("needs REDIS_URL")
    prefix = f"concord-test-{uuid.uuid4().hex[:12]}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield request.param
    client = redis.Redis.from_url(location)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def limited(token: str) -> override_settings:
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": "100/min", "token": token},
        }
    )


def token_client(world: SimpleNamespace) -> APIClient:
    _, secret = create_token(owner=world.partner_staff, name="Poller")
    return bearer(secret)


def test_the_estimate_weighs_the_previous_period_by_what_the_window_still_covers() -> None:
    assert estimate(previous=0, current=3, elapsed=0.5) == 3
    assert estimate(previous=6, current=0, elapsed=0.5) == 3
    assert estimate(previous=6, current=2, elapsed=0.25) == 6.5
    assert estimate(previous=6, current=2, elapsed=1.0) == 2


def test_the_wait_is_until_one_more_request_fits() -> None:
    # full in this period: the next period, once enough of this one has slid out
    assert seconds_until_allowed(0, 3, 0.5, limit=3, duration=60) == pytest.approx(50)
    # room in this period, but the previous one still weighs: until enough of it slid out
    assert seconds_until_allowed(3, 0, 1 / 6, limit=3, duration=60) == pytest.approx(10)
    assert seconds_until_allowed(3, 1, 0.0, limit=3, duration=60) == pytest.approx(40)


def test_no_burst_of_twice_the_limit_across_two_periods(world: SimpleNamespace) -> None:
    client = token_client(world)
    with limited("3/min"), time_machine.travel(START, tick=False) as clock:
        assert [client.get("/api/v1/agencies/").status_code for _ in range(3)] == [200] * 3
        refused = client.get("/api/v1/agencies/")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "50"
        # a fixed window would allow three more at 9:01:00; the last minute still holds
        # five sixths of the three at 9:01:10
        clock.move_to(START + dt.timedelta(seconds=40))
        refused = client.get("/api/v1/agencies/")
        assert refused.status_code == 429
        assert refused["Retry-After"] == "10"
        clock.move_to(START + dt.timedelta(seconds=50))
        assert client.get("/api/v1/agencies/").status_code == 200
        assert client.get("/api/v1/agencies/").status_code == 429


def test_refused_requests_do_not_use_the_budget(world: SimpleNamespace) -> None:
    client = token_client(world)
    with limited("2/min"), time_machine.travel(START, tick=False) as clock:
        for _ in range(2):
            assert client.get("/api/v1/agencies/").status_code == 200
        for _ in range(5):
            assert client.get("/api/v1/agencies/").status_code == 429
        # two periods on, the window is empty again: the refused five were not counted
        clock.move_to(START + dt.timedelta(minutes=2))
        assert [client.get("/api/v1/agencies/").status_code for _ in range(3)] == [200, 200, 429]


def test_the_cache_holds_one_number_per_period_however_many_requests(
    world: SimpleNamespace,
) -> None:
    token, secret = create_token(owner=world.partner_staff, name="Poller")
    client = bearer(secret)
    hour = int(START.timestamp() // 3600)
    with limited("1000/hour"), time_machine.travel(START, tick=False):
        for _ in range(40):
            assert client.get("/api/v1/notifications/unread-count/").status_code == 200
        assert cache.get(f"throttle_token_{token.pk}:{hour}") == 40
        assert cache.get(f"throttle_token_{token.pk}:{hour - 1}") is None


def test_concurrent_requests_are_all_counted() -> None:
    seen: list[int] = []

    def count_fifty() -> None:
        for _ in range(50):
            seen.append(throttling.count("concurrency-check", "before", timeout=60)[1])

    threads = [threading.Thread(target=count_fifty) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.get("concurrency-check") == 400
    # each request saw its own count: none was lost or seen twice
    assert sorted(seen) == list(range(1, 401))
