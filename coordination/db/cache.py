"""Django's Redis cache, made to survive a Redis outage.

Everything Concord keeps in the cache is there to limit requests: the API's throttles,
allauth's sign-in and password-reset limits, the application form's limit, allauth's
used-TOTP-code guard, the audit sealer's "already queued" mark. None of it is data a
request needs in order to be served. So when Redis cannot be reached (stopped, restarting,
unreachable), :class:`RedisCache` answers as an empty cache that keeps nothing, and logs a
warning: the request is served with its limit not counted, instead of failing with a 500
(and losing the write the request carried). Once Redis answers again, the next operation
uses it: limits count again without a restart.

What the outage costs, on purpose: while Redis is down the limits do not hold (a client
can send more requests than its limit, a password can be tried more often than allauth's
limit allows; django-axes' account lock, kept in the database, still holds) and a TOTP code
could be used twice within its 90 seconds. An outage of the limits is preferred to an outage
of the portal; the warnings make it visible.

The connection options in production (``socket_connect_timeout``, ``socket_timeout``) keep
an unreachable Redis from holding each request for the operating system's TCP timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What "Redis could not be reached or refused the command" looks like: redis-py's errors
# (connection refused or lost, timeouts, a read-only replica, out of memory) and the
# operating system's, should one slip through.
UNAVAILABLE: tuple[type[BaseException], ...] = (redis.RedisError, OSError)


def degraded(what: str, error: BaseException) -> None:
    """Log that ``what`` went on without Redis."""
    logger.warning("Redis is unavailable (%s): %s; the request is served without it.", what, error)


class RedisCache(DjangoRedisCache):
    """Django's RedisCache; while Redis is unavailable, an empty cache that keeps nothing
    (reads miss, writes are dropped, ``add`` succeeds, ``incr`` finds no key)."""

    def _or(self, operation: str, call: Callable[[], T], fallback: T) -> T:
        try:
            return call()
        except UNAVAILABLE as error:
            degraded(f"cache {operation}", error)
            return fallback

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._or(
            "add", lambda: super(RedisCache, self).add(key, value, timeout, version), True
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._or("get", lambda: super(RedisCache, self).get(key, default, version), default)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._or("set", lambda: super(RedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._or(
            "touch", lambda: super(RedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._or("delete", lambda: super(RedisCache, self).delete(key, version), False)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._or("get_many", lambda: super(RedisCache, self).get_many(keys, version), {})

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._or("has_key", lambda: super(RedisCache, self).has_key(key, version), False)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        try:
            return int(super().incr(key, delta, version))
        except UNAVAILABLE as error:
            degraded("cache incr", error)
            # what an empty cache says: callers already handle a counter that is not there
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).") from error

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        return self._or(
            "set_many",
            lambda: super(RedisCache, self).set_many(data, timeout, version),
            list(data),  # none of them stored
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._or("delete_many", lambda: super(RedisCache, self).delete_many(keys, version), None)

    # django-stubs types BaseCache.clear as returning None; Django's RedisCache.clear
    # returns whether Redis flushed, which this keeps (False while Redis is down)
    def clear(self) -> bool:  # type: ignore[override]
        flushed: Callable[[], bool] = super().clear  # type: ignore[assignment]
        return self._or("clear", flushed, False)
