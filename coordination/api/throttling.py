"""Request limits: one budget per person for the browser (session), one per token for
systems. The rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (read from the
environment in settings), looked up on every request so a changed setting applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from coordination.models import ApiToken

if TYPE_CHECKING:
    from rest_framework.views import APIView


class _ScopedThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate is read per request, not once at import
        pass

    def allow_request(self, request: Request, view: APIView) -> bool:
        rates: Any = api_settings.DEFAULT_THROTTLE_RATES
        self.rate = rates.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[assignment]
        return super().allow_request(request, view)


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
