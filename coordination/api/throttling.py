"""Request limits: one budget per person for the browser (session), one per token for
systems. The rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (read from the
environment in settings), looked up on every request so a changed setting applies.

A limit of N requests per period is a *sliding window*, estimated from two counters in
the cache: the requests counted in the current period (periods start on the clock's whole
hours, minutes...) plus those of the previous period, weighted by how much of it the last
full period still covers. So a client cannot send 2N requests across the boundary of two
periods, as with one counter per period. A request is counted first and refused (and
uncounted) if its count does not fit, so requests running at the same moment in several
web processes each see their own count and never pass the limit together.

With Redis as the cache (production), one request's counting is one round trip: a small
Lua script increments the current period's counter and reads the previous one. With any
other cache (a single process, in development and tests) it goes through Django's cache.

When Redis cannot be reached, the request is served uncounted and a warning is logged
(coordination/db/cache.py says why): a cache outage must not become an outage of the API.

Django REST framework's own ``SimpleRateThrottle`` keeps instead the time of every request
in the period, as one list read and written whole on every request: at 5,000 an hour that
is up to 5,000 numbers in each direction per request, and two concurrent requests each
write back their own list, so one of them is not counted.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import time
from typing import TYPE_CHECKING, Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string
from redis.backoff import NoBackoff
from redis.retry import Retry
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from coordination.db.cache import UNAVAILABLE, degraded
from coordination.models import ApiToken
from coordination.web import ratelimit

if TYPE_CHECKING:
    from rest_framework.views import APIView


def estimate(previous: int, current: int, elapsed: float) -> float:
    """Requests in the sliding window ending now: all of the current period's, and the
    previous period's in proportion to how much of it the window still covers
    (``elapsed``: the share of the current period gone, 0 to 1)."""
    return previous * (1 - elapsed) + current


def seconds_until_allowed(
    previous: int, current: int, elapsed: float, limit: int, duration: float
) -> float:
    """How long until one more request fits under ``limit``, if no other comes."""
    if current + 1 <= limit:
        # within this period, once enough of the previous one has slid out
        share = 1 - elapsed - (limit - 1 - current) / previous if previous else 0.0
        return max(0.0, share) * duration
    # only in the next period, where this one's count is the previous one
    rest = 1 - elapsed
    share = 1 - (limit - 1) / current if current else 0.0
    return (rest + max(0.0, share)) * duration


# KEYS: this period's counter, the previous period's; ARGV: seconds a counter is kept.
# Counts this request; answers this period's count with it, and the previous period's.
COUNT_SCRIPT = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {current, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""


@functools.lru_cache(maxsize=4)
def _redis(location: str, timeouts: tuple[float | None, float | None]) -> tuple[redis.Redis, Any]:
    """A client (with its connection pool) per Redis address, made once per process, and
    the counting script registered with it (sent by its hash after the first time). It
    waits no longer than the cache's own connections do, and does not retry: a request
    is not held up by a Redis that is down."""
    connect_timeout, timeout = timeouts
    client = redis.Redis.from_url(
        location,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return client, client.register_script(COUNT_SCRIPT)


def _redis_cache() -> tuple[str, tuple[float | None, float | None]] | None:
    """The address of the Redis the default cache uses (writes go to the first listed)
    and its connection timeouts, or None when the cache is not Redis."""
    config = settings.CACHES["default"]
    if not issubclass(import_string(config["BACKEND"]), RedisCache):
        return None
    location = config["LOCATION"]
    options = config.get("OPTIONS", {})
    return (
        str(re.split("[;,]", location)[0] if isinstance(location, str) else location[0]),
        (options.get("socket_connect_timeout"), options.get("socket_timeout")),
    )


def count(current_key: str, previous_key: str, *, timeout: int) -> tuple[int, int]:
    """Counts one request under ``current_key`` (kept ``timeout`` seconds); answers
    (the previous period's count, this period's count with this request)."""
    redis_cache = _redis_cache()
    if redis_cache is None:
        current = ratelimit.increment(current_key, timeout=timeout)
        return int(cache.get(previous_key) or 0), current
    _, script = _redis(*redis_cache)
    keys = [cache.make_key(current_key), cache.make_key(previous_key)]
    current, previous = script(keys=keys, args=[timeout])
    return int(previous), int(current)


def uncount(current_key: str) -> None:
    """Takes back a request ``count`` counted (it was refused)."""
    redis_cache = _redis_cache()
    if redis_cache is None:
        with contextlib.suppress(ValueError):  # expired meanwhile: nothing to take back
            cache.decr(current_key)
        return
    client, _ = _redis(*redis_cache)
    client.decr(cache.make_key(current_key))


class _ScopedThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate is read per request, not once at import
        self.waiting = 0.0

    def allow_request(self, request: Request, view: APIView) -> bool:
        rates: Any = api_settings.DEFAULT_THROTTLE_RATES
        self.rate = rates.get(self.scope)
        if self.rate is None:
            return True
        limit, duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None or limit is None or duration is None:
            return True
        now = time.time()
        period = int(now // duration)
        elapsed = now / duration - period
        current_key = f"{key}:{period}"
        try:
            # kept for two periods: it is the previous period's count during the next one
            previous, current = count(current_key, f"{key}:{period - 1}", timeout=2 * duration + 1)
        except UNAVAILABLE as error:
            degraded(f"the {self.scope} request limit is not counted", error)
            return True
        # (a millionth of slack: the shares of a period are not exact in floating point)
        if estimate(previous, current, elapsed) > limit + 1e-6:
            try:
                uncount(current_key)
            except UNAVAILABLE as error:  # refused all the same: it was over the limit
                degraded(f"a refused {self.scope} request stays counted", error)
            before = current - 1
            self.waiting = seconds_until_allowed(previous, before, elapsed, limit, duration)
            return False
        return True

    def wait(self) -> float:
        """Seconds until a request would be allowed (the 429's ``Retry-After``)."""
        return max(1.0, math.ceil(self.waiting))


class UserRateThrottle(_ScopedThrottle):
    """Requests signed in through the browser session, counted per person."""

    scope = "user"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenRateThrottle(_ScopedThrottle):
    """Requests made with a personal API token, counted per token."""

    scope = "token"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
