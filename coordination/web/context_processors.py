"""What every page's navigation needs: the unread count and where its live changes start
(the person's membership comes from ``agencies.context_processors``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def unread() -> int:
        from coordination.notifications import unread_count

        return unread_count(user)

    def live_since() -> str:
        from coordination.live import now_id

        return now_id()

    return {
        "unread_count": SimpleLazyObject(unread),
        # live pages: where the page's event stream starts, how often it polls without one
        "live_since": SimpleLazyObject(live_since),
        "live_poll_seconds": settings.CONCORD_LIVE_POLL_SECONDS,
        # the zone the page's times are in (activated by coordination.web.timezones)
        "time_zone_label": timezone.get_current_timezone_name().replace("_", " "),
    }
