"""A request limit for public pages that have no account to lock (the agency application
form): at most N requests per client address in each window of time, counted in Django's
cache.

The count is a fixed window: the first request from an address starts a counter that the
cache forgets when the window ends. ``cache.add`` and ``cache.incr`` are atomic in Redis
(production's cache, shared by every web process), so concurrent requests never get past
the limit together. Across the end of one window and the start of the next an address can
send up to twice the limit in a short time; that is the price of one counter per address.

Sign-in, password reset and the API have their own limits (allauth's, django-axes and
Django REST framework's throttles; see the README's Security section).
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
RATE = re.compile(r"^(\d+)/(second|minute|hour|day)$")
# IPv6 addresses are counted per /64 network, as allauth's limits are: a single
# subscriber usually holds a whole /64 and could otherwise step through its addresses.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``seconds``."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str, *, setting: str) -> Rate:
        """``"5/hour"`` and the like; anything else is a configuration error naming the
        setting, not a limit quietly ignored."""
        match = RATE.match(text.strip())
        if not match or int(match.group(1)) < 1:
            raise ImproperlyConfigured(
                f"{setting} must look like 5/hour: a whole number of at least 1, then "
                f"/second, /minute, /hour or /day (it is {text!r})."
            )
        return cls(count=int(match.group(1)), seconds=PERIODS[match.group(2)])

    def describe(self) -> str:
        unit = {v: k for k, v in PERIODS.items()}[self.seconds]
        return f"{self.count} per {unit}"


@dataclass(frozen=True)
class Outcome:
    """What the limiter decided for one request."""

    allowed: bool
    count: int  # requests counted in the current window, this one included
    retry_after: int  # whole seconds until the window ends


def client_address(request: HttpRequest) -> str:
    """The address the limit counts: the client's IP address as allauth determines it
    (``X-Forwarded-For`` only behind ``CONCORD_TRUSTED_PROXY_COUNT`` trusted proxies),
    IPv6 addresses reduced to their /64 network."""
    address = get_adapter(request).get_client_ip(request)
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def increment(key: str, *, timeout: float) -> int:
    """Adds one to the counter at ``key`` in the cache and returns its new value, creating
    it (forgotten after ``timeout`` seconds) when there is none. Atomic: concurrent
    requests, in any number of processes sharing the cache, each get their own count."""
    try:
        return int(cache.incr(key))
    except ValueError:  # no counter yet, or it expired or was evicted
        if cache.add(key, 1, timeout=timeout):
            return 1
        return int(cache.incr(key))  # another request created it just now


def hit(request: HttpRequest, *, scope: str, rate: Rate, now: float | None = None) -> Outcome:
    """Count one request from the client's address against ``rate`` in ``scope``."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = f"ratelimit:{scope}:{client_address(request)}:{window}"
    # the counter outlives its window by a moment, so a late request cannot recreate it
    count = increment(key, timeout=rate.seconds + 1)
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return Outcome(allowed=count <= rate.count, count=count, retry_after=retry_after)


def too_many_requests(request: HttpRequest, *, rate: Rate, retry_after: int) -> HttpResponse:
    """The 429 page: what the limit is and when to try again (also as ``Retry-After``)."""
    minutes = math.ceil(retry_after / 60)
    response = TemplateResponse(
        request,
        "429.html",
        {
            "limit": rate.describe(),
            "retry_after": retry_after,
            "wait": f"{minutes} minute{'s' if minutes != 1 else ''}"
            if retry_after >= 60
            else f"{retry_after} second{'s' if retry_after != 1 else ''}",
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response.render()


def limit_posts(
    scope: str, *, setting: str
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a view so that its POST requests (each submission, valid or not) count
    against the rate in ``settings.<setting>``, per client address; past the limit the
    view is not called and the answer is the 429 page. GET requests are not counted."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                rate = Rate.parse(getattr(settings, setting), setting=setting)
                outcome = hit(request, scope=scope, rate=rate)
                if not outcome.allowed:
                    return too_many_requests(request, rate=rate, retry_after=outcome.retry_after)
            return view(request, *args, **kwargs)

        return limited

    return decorator
