"""One way to show time, everywhere a person reads it: pages, e-mails, exports and reports.

* A date reads "6 December 2026" (GOV.UK style: day without a leading zero, the month's full
  name, four-digit year); a moment reads "6 December 2026, 14:05 GMT": the date and the
  24-hour time in the reader's time zone, followed by that zone's abbreviation (or its UTC
  offset where the zone has no abbreviation, e.g. "+04").
* The reader's time zone is the one they chose on their settings page; if they chose none,
  their agency's; if they have no agency, the portal's (``settings.TIME_ZONE``).
  ``zone_for(user)`` answers it (one query when the person chose no zone); pages activate it
  per request (``coordination.web.timezones.TimeZoneMiddleware``) so ``format_moment`` without
  a zone uses the active one.

Machine-read values (the ICS feeds, ISO timestamps in CSV columns named so, the API) stay in
UTC ISO 8601; this module is for what people read.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import timezone

DATE_FORMAT = "{day} {month} {year}"  # 6 December 2026
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@cache
def _known_zones() -> frozenset[str]:
    # The zone names are the operating system's (or tzdata's) database, fixed for the life
    # of the process: not an answer about anyone, so caching the list is no shared state.
    return frozenset(zoneinfo.available_timezones())


def is_valid_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone name this server knows (e.g. Europe/Paris)."""
    return name in _known_zones()


def zone_choices() -> list[tuple[str, str]]:
    """Every known zone as (name, label) for a select, sorted by name."""
    return [(name, name.replace("_", " ")) for name in sorted(_known_zones())]


def portal_zone_name() -> str:
    """The zone of people who chose none and have no agency: the portal's TIME_ZONE."""
    return str(settings.TIME_ZONE)


def zone_for(user: Any) -> zoneinfo.ZoneInfo:
    """The zone ``user`` reads times in: their own choice, else their agency's, else the
    portal's. Anonymous visitors read the portal's."""
    name = ""
    if user is not None and getattr(user, "is_authenticated", False):
        name = user.time_zone or agency_zone_name(user)
    return zoneinfo.ZoneInfo(name if name and is_valid_zone(name) else portal_zone_name())


def agency_zone_name(user: Any) -> str:
    """The time zone of ``user``'s active agency, or "" if they have none."""
    zone = (
        user.memberships.filter(is_active=True)
        .order_by("pk")
        .values_list("agency__time_zone", flat=True)
        .first()
    )
    return zone or ""


def zone_names_for(user_ids: list[int]) -> dict[int, str]:
    """Each person's zone name (as ``zone_for``), for many people in two queries: for
    writing one notification's words in each recipient's zone."""
    from coordination.models import User

    own = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "time_zone"))
    agency = dict(
        User.objects.filter(pk__in=user_ids, memberships__is_active=True).values_list(
            "pk", "memberships__agency__time_zone"
        )
    )
    portal = portal_zone_name()
    zones = {}
    for pk in user_ids:
        name = own.get(pk) or agency.get(pk) or portal
        zones[pk] = name if is_valid_zone(name) else portal
    return zones


def _zone_label(moment: dt.datetime) -> str:
    """The zone's abbreviation at that moment (GMT, BST, CET, UTC), or its offset."""
    label = moment.tzname() or ""
    if not label or label[0] in "+-":
        offset = moment.utcoffset() or dt.timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        label = f"UTC{sign}{hours:02d}:{rest:02d}" if rest else f"UTC{sign}{hours}"
    return label


def format_date(value: dt.date | dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """ "6 December 2026"; a moment is first put in ``zone`` (default: the active one), so
    its date is the reader's. ``None`` gives ""."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(zone or timezone.get_current_timezone())
        value = value.date()
    return DATE_FORMAT.format(day=value.day, month=MONTHS[value.month - 1], year=value.year)


def format_moment(value: dt.datetime | None, zone: dt.tzinfo | None = None) -> str:
    """ "6 December 2026, 14:05 GMT" in ``zone`` (default: the active one). ``None`` gives ""."""
    if value is None or value == "":
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    local = value.astimezone(zone or timezone.get_current_timezone())
    return f"{format_date(local.date())}, {local:%H:%M} {_zone_label(local)}"


def format_span(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo | None = None) -> str:
    """A period: "6 December 2026, 08:00 GMT to 7 December 2026, 08:00 GMT"."""
    return f"{format_moment(start, zone)} to {format_moment(end, zone)}"
