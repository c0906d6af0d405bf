"""What every page's navigation needs: the person's agency membership and unread count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def membership() -> Any:
        return user.memberships.select_related("agency").filter(is_active=True).first()

    def unread() -> int:
        from coordination.notifications import visible_notifications

        return visible_notifications(user).filter(read_at__isnull=True).count()

    return {
        "my_membership": SimpleLazyObject(membership),
        "unread_count": SimpleLazyObject(unread),
        # the zone the page's times are in (activated by coordination.web.timezones)
        "time_zone_label": timezone.get_current_timezone_name().replace("_", " "),
    }
