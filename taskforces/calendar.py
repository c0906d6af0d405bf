"""Personal calendar feeds: a secret, revocable iCalendar address per person.

A person subscribes to it in their calendar app (Outlook, Google Calendar, Apple
Calendar), which then fetches it unattended every so often. The feed holds

* their tasks: open tasks with a due date, assigned to them or to a role they hold now;
* objective target dates of the open objectives they may see;
* operational periods of the task forces they may see;

each fetched through the permission core at the moment the feed is read, so a person who
loses a role stops seeing its items on the next refresh.

Choices, and why:

* Tasks and target dates are all-day ``VEVENT``s on the date (not ``VTODO``): Google
  Calendar and Outlook ignore to-dos in subscribed calendars. They are ``TRANSPARENT``
  (a deadline does not make anyone busy), and so are operational periods, which span
  whole shifts.
* Calendar apps copy the feed to their own servers, often outside the agency, and a
  subscription keeps fetching until the address is revoked. So the feed carries only what
  a calendar needs: a marking, a title, dates and a link back to Concord. Free text
  (descriptions, briefing notes) never goes in. Every summary starts with the item's TLP
  marking (the task force's for a period). A TLP:RED item the person may see appears
  without its title ("[TLP:RED] Task due"), and a TLP:RED task force's name is left out
  likewise; the link leads to the details behind sign-in. Titles up to TLP:AMBER+STRICT
  are included: the person may see them, the feed is theirs alone, and the marking in
  the summary tells them how to treat the entry. ``CLASS`` is ``PUBLIC`` up to
  TLP:GREEN, ``PRIVATE`` above and ``CONFIDENTIAL`` for TLP:RED, which shared-calendar
  views honour.
* Done and cancelled tasks, completed and cancelled objectives, and anything dated more
  than ``HISTORY`` ago are left out; each kind is capped at ``MAX_ITEMS`` (soonest
  first), so a feed stays small and costs a fixed number of queries.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from coordination import audit
from coordination.models import User
from coordination.permissions import PermissionDenied, is_signed_in
from coordination.permissions.markings import Marking

from . import selectors
from .models import CalendarFeed, Objective, OperationalPeriod, TaskForce

PREFIX_LENGTH = 8
SECRET_BYTES = 32
# ``secrets.token_urlsafe(32)`` is 43 characters of the URL-safe base64 alphabet; anything
# else cannot be a feed's secret and is refused before it is hashed or looked up.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# How often, at most, ``last_used_at`` is written: calendar apps poll, and each poll
# would otherwise write the row.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
HISTORY = datetime.timedelta(days=90)
MAX_ITEMS = 500
PRODID = "-//Concord//Calendar feed//EN"
REFRESH = datetime.timedelta(hours=1)


def hash_secret(secret: str) -> str:
    """The stored form of a feed's secret (SHA-256, hex). The secret is long and random,
    so a fast hash is enough, and it lets the feed be found by one indexed lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def live_feed(owner: User) -> CalendarFeed | None:
    """The person's feed that works now, if any (there is at most one)."""
    return CalendarFeed.objects.filter(owner=owner, revoked_at__isnull=True).first()


def _revoke(feed: CalendarFeed, *, actor: User, reason: str) -> None:
    feed.revoked_at = timezone.now()
    feed.save(update_fields=["revoked_at"])
    audit.record(
        actor=actor,
        action="calendar_feed.revoked",
        obj=feed,
        before={"revoked_at": None},
        after={"revoked_at": feed.revoked_at.isoformat(), "reason": reason},
    )


@transaction.atomic
def create_feed(*, actor: User) -> tuple[CalendarFeed, str]:
    """Give ``actor`` a new calendar feed, revoking the one they had (its address stops
    working at once). Returns the feed and its secret, which is never stored or shown
    again."""
    if not is_signed_in(actor):
        raise PermissionDenied("Only an active account can have a calendar feed.")
    # Lock the person's row so two simultaneous requests make one live feed, not two.
    User.objects.select_for_update(no_key=True, of=("self",)).filter(pk=actor.pk).first()
    previous = (
        CalendarFeed.objects.select_for_update(no_key=True, of=("self",))
        .filter(owner=actor, revoked_at__isnull=True)
        .first()
    )
    if previous is not None:
        _revoke(previous, actor=actor, reason="replaced by a new address")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    feed = CalendarFeed(owner=actor, key_hash=hash_secret(secret), prefix=secret[:PREFIX_LENGTH])
    feed.full_clean()
    feed.save()
    audit.record(
        actor=actor,
        action="calendar_feed.created",
        obj=feed,
        after={"prefix": feed.prefix, "replaces": previous.prefix if previous else None},
    )
    return feed, secret


@transaction.atomic
def revoke_feed(*, actor: User, feed: CalendarFeed) -> CalendarFeed:
    """The owner revokes their feed; its address answers "not found" from then on."""
    feed = CalendarFeed.objects.select_for_update(no_key=True, of=("self",)).get(pk=feed.pk)
    if feed.owner_id != actor.pk:
        raise PermissionDenied("Only a calendar feed's owner may revoke it.")
    if feed.revoked_at is not None:
        raise ValidationError({"feed": "This calendar address has already been revoked."})
    _revoke(feed, actor=actor, reason="revoked by its owner")
    return feed


def feed_for_secret(secret: str) -> CalendarFeed | None:
    """The live feed with this secret, its owner loaded; ``None`` for anything else (not a
    secret's shape, unknown, revoked, or an inactive owner), which the caller answers
    with the same "not found".

    The lookup is by the secret's hash, so how long it takes says nothing about how close
    a guess is to a real secret; the hash is compared again in constant time."""
    if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
        return None
    digest = hash_secret(secret)
    feed = CalendarFeed.objects.select_related("owner").filter(key_hash=digest).first()
    if feed is None or not hmac.compare_digest(feed.key_hash, digest):
        return None
    if feed.revoked_at is not None or not feed.owner.is_active:
        return None
    return feed


def record_use(*, feed: CalendarFeed, items: int, now: datetime.datetime | None = None) -> None:
    """Note that the feed was read: ``last_used_at`` to the minute, written by one
    conditional update (so any number of web processes write it at most once a minute
    between them); the first read of each day (UTC) is also an audit event, with the
    reader's address, so an address that leaked shows up in the trail without an event
    per poll."""
    now = now or timezone.now()
    previous = feed.last_used_at
    if previous is not None and previous > now - LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
    with transaction.atomic():
        written = CalendarFeed.objects.filter(pk=feed.pk).filter(stale).update(last_used_at=now)
        feed.last_used_at = now
        if written and (previous is None or previous.date() != now.date()):
            audit.record(
                actor=feed.owner,
                action="calendar_feed.fetched",
                obj=feed,
                after={"items": items, "first_today": True},
            )


# --- the calendar ------------------------------------------------------------------------


def _base_url() -> str:
    return str(settings.CONCORD_BASE_URL).rstrip("/")


def _uid_domain() -> str:
    """The host of ``CONCORD_BASE_URL``: UIDs must not change with the host a calendar
    app happened to use, or every entry would be duplicated."""
    host = _base_url().split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host or "concord.local"


def _class_for(marking: int) -> str:
    if marking >= Marking.RED:
        return "CONFIDENTIAL"
    return "PRIVATE" if marking > Marking.GREEN else "PUBLIC"


def _task_force_name(task_force: TaskForce) -> str | None:
    """The task force's name, unless the task force itself is marked TLP:RED."""
    return None if task_force.marking >= Marking.RED else task_force.name


def _event(
    *,
    uid: str,
    stamp: datetime.datetime,
    start: datetime.date | datetime.datetime,
    end: datetime.date | datetime.datetime,
    marking: int,
    kind: str,
    summary: str,
    description: str,
    url: str,
    modified: datetime.datetime | None = None,
) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{_uid_domain()}")
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    label = Marking(marking).label
    event.add("summary", f"[{label}] {summary}")
    event.add("description", f"{description}\n\n{label} · {url}")
    event.add("url", url)
    event.add("class", _class_for(marking))
    event.add("categories", ["Concord", kind, label])
    event.add("transp", "TRANSPARENT")
    if modified is not None:
        event.add("last-modified", modified.astimezone(datetime.UTC))
    return event


def _in_task_force(task_force: TaskForce) -> str:
    name = _task_force_name(task_force)
    return f"in {name}" if name else f"in a {Marking.RED.label} task force"


def build_calendar(person: User, *, now: datetime.datetime | None = None) -> Calendar:
    """The person's calendar, read through the permission core now: three queries,
    whatever the amount of data."""
    now = now or timezone.now()
    stamp = now.astimezone(datetime.UTC).replace(microsecond=0)
    since = (now - HISTORY).date()
    base = _base_url()
    one_day = datetime.timedelta(days=1)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Concord")
    calendar.add("name", "Concord")
    description = "Your tasks, objective target dates and operational periods in Concord."
    calendar.add("x-wr-caldesc", description)
    calendar.add("description", description)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)

    tasks = selectors.my_open_tasks(person).filter(due_date__isnull=False, due_date__gte=since)
    for task in tasks[:MAX_ITEMS]:
        if task.due_date is None:  # excluded by the query; keeps the type checker content
            continue
        marking = int(task.marking)
        red = marking >= Marking.RED
        where = _in_task_force(task.task_force)
        calendar.add_component(
            _event(
                uid=f"task-{task.pk}",
                stamp=stamp,
                start=task.due_date,
                end=task.due_date + one_day,
                marking=marking,
                kind="Task",
                summary="Task due" if red else f"Due: {task.title}",
                description=(
                    f"A task {where}."
                    if red
                    else f"A task under the objective “{task.objective.title}” {where}."
                )
                + f" Status: {task.get_status_display().lower()}.",
                url=base + reverse("taskforces:task", args=[task.pk]),
                modified=task.updated_at,
            )
        )

    objectives = (
        Objective.objects.restrict(person, "view")
        .filter(target_date__isnull=False, target_date__gte=since)
        .exclude(status__in=(Objective.Status.COMPLETED, Objective.Status.CANCELLED))
        .select_related("task_force")
        .order_by("target_date", "id")
    )
    for objective in objectives[:MAX_ITEMS]:
        if objective.target_date is None:  # excluded by the query
            continue
        marking = int(objective.marking)
        red = marking >= Marking.RED
        calendar.add_component(
            _event(
                uid=f"objective-{objective.pk}",
                stamp=stamp,
                start=objective.target_date,
                end=objective.target_date + one_day,
                marking=marking,
                kind="Objective",
                summary="Objective target date" if red else f"Target: {objective.title}",
                description=f"The target date of an objective {_in_task_force(objective.task_force)}."
                f" Status: {objective.get_status_display().lower()}.",
                url=base + reverse("taskforces:objective", args=[objective.pk]),
                modified=objective.updated_at,
            )
        )

    periods = (
        OperationalPeriod.objects.restrict(person, "view")
        .filter(ends_at__gte=now - HISTORY)
        .select_related("task_force")
        .order_by("starts_at", "id")
    )
    for period in periods[:MAX_ITEMS]:
        task_force = period.task_force
        name = _task_force_name(task_force)
        calendar.add_component(
            _event(
                uid=f"period-{period.pk}",
                stamp=stamp,
                start=period.starts_at.astimezone(datetime.UTC),
                end=period.ends_at.astimezone(datetime.UTC),
                marking=int(task_force.marking),
                kind="Operational period",
                summary=f"Operational period {period.number}" + (f" · {name}" if name else ""),
                description=f"Operational period {period.number} {_in_task_force(task_force)}.",
                url=base + reverse("taskforces:periods", args=[task_force.pk]),
            )
        )
    return calendar
