"""Each request is answered in the reader's time zone (``coordination.timefmt``).

The zone a person chose is on their user row, which the request has loaded anyway. A person
who chose none reads their agency's zone; that needs a query, so its answer is kept in their
session (stored in the database or Redis, like the rest of the session, not in any process)
under ``SESSION_KEY`` when they sign in (and read again when they change their settings). An agency
administrator's change of the agency's zone reaches its people at their next sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from coordination import timefmt

SESSION_KEY = "concord_agency_time_zone"


def zone_name_for_request(request: HttpRequest) -> str:
    """The zone name this request's pages are shown in."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return timefmt.portal_zone_name()
    if user.time_zone and timefmt.is_valid_zone(user.time_zone):
        return str(user.time_zone)
    session = getattr(request, "session", None)
    cached = session.get(SESSION_KEY) if session is not None else None
    if cached is None:
        cached = timefmt.agency_zone_name(user)
        if session is not None:
            session[SESSION_KEY] = cached
    if cached and timefmt.is_valid_zone(cached):
        return str(cached)
    return timefmt.portal_zone_name()


def remember_zone(request: HttpRequest, user: Any) -> None:
    """At sign-in (and after a change of settings): read the agency's zone afresh into the
    session, which is being saved then anyway, so pages need no query for it."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_KEY] = timefmt.agency_zone_name(user)


class TimeZoneMiddleware:
    """Activates the reader's zone for the view and the rendering of its templates."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import zoneinfo

        with timezone.override(zoneinfo.ZoneInfo(zone_name_for_request(request))):
            return self.get_response(request)
