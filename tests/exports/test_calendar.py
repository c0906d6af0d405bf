"""Personal calendar feeds: a secret, revocable iCalendar address per person.

The feed is read back with ``icalendar`` and checked against RFC 5545's required
properties; what it holds is checked from both sides (people who may see an item and
people who may not), and so is what happens to an address that is replaced or revoked.
"""

from __future__ import annotations

import datetime
import hashlib
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied
from coordination.permissions.markings import Marking
from taskforces import calendar as feeds
from taskforces import services
from taskforces.models import CalendarFeed, Role, Task

from ..factories import person

GREEN, AMBER, AMBER_STRICT, RED = (
    Marking.GREEN,
    Marking.AMBER,
    Marking.AMBER_STRICT,
    Marking.RED,
)

pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def dated(world):
    """Due dates, target dates and an operational period in the shared world:

    * Task GREEN → partner_staff in person; Task AMBER and Task AMBER+STRICT → the Member
      role (lead_staff and partner_staff hold it); Task RED → lead_liaison in person;
    * a done task and an undated task for partner_staff, which the feed leaves out;
    * a task for lead_staff only;
    * every objective has a target date; a period starts tomorrow.
    """
    today = timezone.now().date()
    by = world.lead_liaison
    tasks = world.tasks
    services.update_task(
        task=tasks[GREEN],
        by=by,
        assignee=world.partner_staff,
        due_date=today + datetime.timedelta(days=3),
    )
    for marking, days in ((AMBER, 4), (AMBER_STRICT, 5)):
        services.update_task(
            task=tasks[marking],
            by=by,
            assigned_role=world.member_role,
            due_date=today + datetime.timedelta(days=days),
        )
    services.update_task(
        task=tasks[RED], by=by, assignee=world.lead_liaison, due_date=today + datetime.timedelta(6)
    )
    green = world.objectives[GREEN]
    extra = {
        "done": services.create_task(
            objective=green,
            title="Finished sandbagging",
            assignee=world.partner_staff,
            due_date=today,
            status=Task.Status.DONE,
            by=by,
        ),
        "undated": services.create_task(
            objective=green, title="Someday", assignee=world.partner_staff, by=by
        ),
        "lead_only": services.create_task(
            objective=green,
            title="Brief the minister",
            assignee=world.lead_staff,
            due_date=today + datetime.timedelta(days=2),
            by=by,
        ),
    }
    for days, marking in enumerate((GREEN, AMBER, AMBER_STRICT, RED), start=10):
        services.update_objective(
            objective=world.objectives[marking],
            by=by,
            target_date=today + datetime.timedelta(days=days),
        )
    start = (timezone.now() + datetime.timedelta(days=1)).replace(microsecond=0)
    period = services.create_period(
        task_force=world.tf,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=12),
        notes="Night shift: evacuate Riverside (internal note)",
        by=by,
    )
    return {"tasks": extra, "period": period, "today": today}


def new_feed(user) -> str:
    return feeds.create_feed(actor=user)[1]


def feed_url(secret: str) -> str:
    return reverse("taskforces:calendar-feed", args=[secret])


def fetch(client, secret: str) -> Calendar:
    response = client.get(feed_url(secret))
    assert response.status_code == 200, response.status_code
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> dict[str, dict]:
    """The VEVENTs by UID, each as {property: value}."""
    found = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        assert uid not in found, f"UID {uid} appears twice"
        found[uid] = event
    return found


def uid(kind: str, obj) -> str:
    return f"{kind}-{obj.pk}@127.0.0.1"


def summaries(calendar: Calendar) -> set[str]:
    return {str(event["SUMMARY"]) for event in calendar.walk("VEVENT")}


def all_text(calendar: Calendar) -> str:
    """Every property value of every event, unfolded (long lines are folded in the file)."""
    return "\n".join(str(value) for event in calendar.walk("VEVENT") for value in event.values())


# --- the format ----------------------------------------------------------------------------


def test_the_feed_is_valid_rfc5545_read_back(client, world, dated):
    secret = new_feed(world.lead_staff)
    response = client.get(feed_url(secret))  # no session: the address is the credential
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    raw = response.content
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and lines[-1] == b""
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 75 for line in lines)  # folded at 75 octets
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR"

    calendar = Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == feeds.PRODID
    assert str(calendar["X-WR-CALNAME"]) == "Concord"
    found = events(calendar)
    assert found
    for event in found.values():
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "URL"):
            assert required in event, (required, event)
        stamp = event["DTSTAMP"].dt
        assert stamp.tzinfo is not None and stamp.utcoffset() == datetime.timedelta(0)
        assert event["DTEND"].dt > event["DTSTART"].dt
        assert str(event["URL"]).startswith("http://127.0.0.1:8000/")

    task = found[uid("task", world.tasks[AMBER])]
    assert task["DTSTART"].dt == dated["today"] + datetime.timedelta(days=4)  # all-day date
    assert not isinstance(task["DTSTART"].dt, datetime.datetime)
    assert task["DTEND"].dt == task["DTSTART"].dt + datetime.timedelta(days=1)
    assert str(task["SUMMARY"]) == "[TLP:AMBER] Due: Task TLP:AMBER"
    assert str(task["URL"]).endswith(reverse("taskforces:task", args=[world.tasks[AMBER].pk]))
    assert str(task["CLASS"]) == "PRIVATE"
    assert str(task["TRANSP"]) == "TRANSPARENT"

    period = found[uid("period", dated["period"])]
    assert period["DTSTART"].dt == dated["period"].starts_at  # a moment, in UTC
    assert period["DTSTART"].dt.utcoffset() == datetime.timedelta(0)
    assert period["DTEND"].dt == dated["period"].ends_at
    assert b"DTSTART:" + dated["period"].starts_at.astimezone(datetime.UTC).strftime(
        "%Y%m%dT%H%M%SZ"
    ).encode() in raw.replace(b"\r\n ", b"")
    assert str(period["SUMMARY"]) == f"[TLP:AMBER] Operational period 1 · {world.tf.name}"
    assert str(period["URL"]).endswith(reverse("taskforces:periods", args=[world.tf.pk]))
    assert "evacuate" not in all_text(calendar)  # notes never go into the feed


def test_uids_are_stable_between_fetches_and_hosts(client, world, dated):
    secret = new_feed(world.lead_staff)
    first = set(events(fetch(client, secret)))
    again = client.get(feed_url(secret), HTTP_HOST="localhost")
    assert again.status_code == 200
    assert set(events(Calendar.from_ical(again.content))) == first


# --- what it holds, from both sides --------------------------------------------------------


def test_each_person_gets_their_tasks_and_what_they_may_see(client, world, dated):
    partner = events(fetch(client, new_feed(world.partner_staff)))
    assert set(partner) == {
        uid("task", world.tasks[GREEN]),  # assigned to them
        uid("task", world.tasks[AMBER]),  # assigned to their role
        uid("objective", world.objectives[GREEN]),
        uid("objective", world.objectives[AMBER]),
        uid("period", dated["period"]),
    }
    # not: Task AMBER+STRICT (their role's, but above their agency's agreement), the
    # objectives above TLP:AMBER, someone else's task, a done task, an undated task

    lead = events(fetch(client, new_feed(world.lead_staff)))
    assert set(lead) == {
        uid("task", world.tasks[AMBER]),
        uid("task", world.tasks[AMBER_STRICT]),
        uid("task", dated["tasks"]["lead_only"]),
        uid("objective", world.objectives[GREEN]),
        uid("objective", world.objectives[AMBER]),
        uid("objective", world.objectives[AMBER_STRICT]),
        uid("period", dated["period"]),
    }  # not the TLP:RED objective: a Member may not view restricted items

    outsider = fetch(client, new_feed(world.outsider))
    assert events(outsider) == {}


def test_red_items_appear_without_their_titles(client, world, dated):
    calendar = fetch(client, new_feed(world.lead_liaison))  # Commander: may view RED
    found = events(calendar)
    red_task = found[uid("task", world.tasks[RED])]
    red_objective = found[uid("objective", world.objectives[RED])]
    assert str(red_task["SUMMARY"]) == "[TLP:RED] Task due"
    assert str(red_objective["SUMMARY"]) == "[TLP:RED] Objective target date"
    assert str(red_task["CLASS"]) == "CONFIDENTIAL"
    assert str(red_task["URL"]).endswith(reverse("taskforces:task", args=[world.tasks[RED].pk]))
    text = all_text(calendar)
    assert "Task TLP:RED" not in text and "Objective TLP:RED" not in text
    # the titles below RED are there, each with its marking
    assert "[TLP:AMBER+STRICT] Target: Objective TLP:AMBER+STRICT" in summaries(calendar)


def test_a_red_task_force_keeps_its_name_out_of_the_feed(client, world, dated):
    services.update_task_force(task_force=world.tf, by=world.lead_liaison, marking=RED)
    calendar = fetch(client, new_feed(world.lead_staff))
    assert world.tf.name not in all_text(calendar)
    assert "[TLP:RED] Operational period 1" in summaries(calendar)


def test_items_go_as_soon_as_the_role_ends(client, world, dated):
    secret = new_feed(world.partner_staff)
    assert events(fetch(client, secret))
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated out"
    )
    assert events(fetch(client, secret)) == {}  # same address, nothing left to show


def test_old_and_finished_items_are_left_out(client, world, dated):
    long_ago = dated["today"] - feeds.HISTORY - datetime.timedelta(days=1)
    services.update_task(task=world.tasks[AMBER], by=world.lead_liaison, due_date=long_ago)
    services.update_objective(
        objective=world.objectives[GREEN], by=world.lead_liaison, status="completed"
    )
    found = events(fetch(client, new_feed(world.partner_staff)))
    assert uid("task", world.tasks[AMBER]) not in found
    assert uid("objective", world.objectives[GREEN]) not in found
    assert uid("task", world.tasks[GREEN]) in found


# --- the address: secret, replaced, revoked ------------------------------------------------


def test_the_secret_is_kept_only_as_a_hash_and_never_audited(world):
    feed, secret = feeds.create_feed(actor=world.lead_staff)
    row = CalendarFeed.objects.filter(pk=feed.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:8]
    assert not any(secret in str(value) for value in row.values())
    for event in AuditEvent.objects.all():
        dumped = json.dumps([event.before, event.after, event.object_repr])
        assert secret not in dumped


def test_creating_and_revoking_are_audited(client, world):
    feed, secret = feeds.create_feed(actor=world.lead_staff)
    created = AuditEvent.objects.get(action="calendar_feed.created", object_id=str(feed.pk))
    assert created.actor == world.lead_staff
    assert created.after == {"prefix": secret[:8], "replaces": None}

    feeds.revoke_feed(actor=world.lead_staff, feed=feed)
    revoked = AuditEvent.objects.get(action="calendar_feed.revoked", object_id=str(feed.pk))
    assert revoked.actor == world.lead_staff
    assert revoked.before == {"revoked_at": None}
    assert client.get(feed_url(secret)).status_code == 404


def test_a_new_address_replaces_the_old_one(client, world):
    old_feed, old = feeds.create_feed(actor=world.lead_staff)
    new_feed_, new = feeds.create_feed(actor=world.lead_staff)
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200
    assert CalendarFeed.objects.filter(owner=world.lead_staff, revoked_at__isnull=True).get() == (
        new_feed_
    )
    assert AuditEvent.objects.filter(
        action="calendar_feed.revoked", object_id=str(old_feed.pk)
    ).exists()
    replaced = AuditEvent.objects.get(action="calendar_feed.created", object_id=str(new_feed_.pk))
    assert replaced.after["replaces"] == old[:8]


def test_only_the_owner_revokes_and_only_once(world):
    feed, _ = feeds.create_feed(actor=world.lead_staff)
    with pytest.raises(PermissionDenied):
        feeds.revoke_feed(actor=world.partner_staff, feed=feed)
    feeds.revoke_feed(actor=world.lead_staff, feed=feed)
    with pytest.raises(ValidationError):
        feeds.revoke_feed(actor=world.lead_staff, feed=feed)


@pytest.mark.parametrize(
    "secret",
    [
        "A" * 43,  # the right shape, but no such feed
        "-" * 43,
    ],
)
def test_unknown_addresses_are_not_found(client, world, secret):
    new_feed(world.lead_staff)
    assert client.get(feed_url(secret)).status_code == 404


@pytest.mark.parametrize("path", ["/calendar/short.ics", "/calendar/" + "a" * 44 + ".ics"])
def test_addresses_of_the_wrong_shape_are_not_found(client, path):
    assert client.get(path).status_code == 404


def test_feed_for_secret_refuses_what_is_not_a_live_feed(world):
    assert feeds.feed_for_secret("") is None
    assert feeds.feed_for_secret("x" * 1000) is None
    feed, secret = feeds.create_feed(actor=world.lead_staff)
    assert feeds.feed_for_secret(secret) == feed
    world.lead_staff.is_active = False
    world.lead_staff.save(update_fields=["is_active"])
    assert feeds.feed_for_secret(secret) is None  # an inactive account's feed stops


def test_reading_records_last_use_and_one_audit_event_a_day(client, world):
    feed, secret = feeds.create_feed(actor=world.lead_staff)
    assert fetch(client, secret) is not None
    feed.refresh_from_db()
    assert feed.last_used_at is not None
    assert AuditEvent.objects.filter(action="calendar_feed.fetched").count() == 1
    fetch(client, secret)  # within the minute: nothing written
    assert AuditEvent.objects.filter(action="calendar_feed.fetched").count() == 1

    later = feed.last_used_at + datetime.timedelta(minutes=5)
    same_day = later.date() == feed.last_used_at.date()
    feeds.record_use(feed=feed, items=0, now=later)
    assert AuditEvent.objects.filter(action="calendar_feed.fetched").count() == (
        1 if same_day else 2
    )
    feeds.record_use(feed=feed, items=0, now=later + datetime.timedelta(days=1))
    assert AuditEvent.objects.filter(action="calendar_feed.fetched").count() == (
        2 if same_day else 3
    )


def test_the_feed_costs_a_fixed_number_of_queries(client, world, dated):
    """Reading the feed: the lookup, the last-use write with its audit event, the access
    epoch, and one query each for tasks, objectives and periods, however much there is."""
    secret = new_feed(world.lead_staff)
    with CaptureQueriesContext(connection) as small:
        small_calendar = fetch(client, secret)
    analyst = Role.objects.get(task_force=world.tf, template__slug="intelligence-analyst")
    for i in range(15):
        objective = services.create_objective(
            task_force=world.tf,
            title=f"Extra objective {i}",
            owner_agency=world.lead,
            contributing_agencies=[world.partner],
            marking=GREEN,
            target_date=dated["today"] + datetime.timedelta(days=i),
            by=world.lead_liaison,
        )
        services.create_task(
            objective=objective,
            title=f"Extra task {i}",
            assigned_role=world.member_role,
            due_date=dated["today"] + datetime.timedelta(days=i),
            by=world.lead_liaison,
        )
        start = timezone.now() + datetime.timedelta(days=2 + i)
        services.create_period(
            task_force=world.tf,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=12),
            by=world.lead_liaison,
        )
        services.assign_role(
            role=analyst, person=person(world.lead), assigned_by=world.lead_liaison
        )
    secret = new_feed(world.lead_staff)  # a new address: its first read is audited again
    with CaptureQueriesContext(connection) as big:
        big_calendar = fetch(client, secret)
    assert len(events(big_calendar)) >= len(events(small_calendar)) + 45
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]
    assert len(small) <= 20


# --- the page --------------------------------------------------------------------------------


def test_the_page_needs_sign_in(client):
    response = client.get(reverse("taskforces:calendar"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_page_shows_a_new_address_once(client, world):
    client.force_login(world.lead_staff)
    page = client.get(reverse("taskforces:calendar"))
    assert page.status_code == 200
    assert "You have no calendar address" in page.content.decode()

    made = client.post(reverse("taskforces:calendar"))
    assert made.status_code == 200
    secret = made.context["secret"]
    assert secret and feeds.feed_for_secret(secret).owner == world.lead_staff
    body = made.content.decode()
    assert "http://testserver" + feed_url(secret) in body
    assert "webcal://testserver" + feed_url(secret) in body
    assert "no-store" in made["Cache-Control"]

    again = client.get(reverse("taskforces:calendar")).content.decode()
    assert secret not in again
    assert secret[:8] in again  # the prefix tells the owner which address it is

    replaced = client.post(reverse("taskforces:calendar"))
    assert "The address you had before no longer works" in replaced.content.decode()
    assert client.get(feed_url(secret)).status_code == 404


def test_the_page_revokes_only_my_own_feed(client, world):
    mine, secret = feeds.create_feed(actor=world.lead_staff)
    theirs, their_secret = feeds.create_feed(actor=world.partner_staff)
    client.force_login(world.lead_staff)
    assert client.get(reverse("taskforces:calendar-revoke", args=[mine.pk])).status_code == 405
    response = client.post(reverse("taskforces:calendar-revoke", args=[theirs.pk]))
    assert response.status_code == 404
    assert client.get(feed_url(their_secret)).status_code == 200
    response = client.post(reverse("taskforces:calendar-revoke", args=[mine.pk]))
    assert response.status_code == 302
    assert client.get(feed_url(secret)).status_code == 404
    assert (
        "You have no calendar address"
        in client.get(reverse("taskforces:calendar")).content.decode()
    )


def test_the_menu_links_to_the_page(client, world):
    client.force_login(world.partner_staff)
    page = client.get(reverse("dashboard")).content.decode()
    assert reverse("taskforces:calendar") in page
