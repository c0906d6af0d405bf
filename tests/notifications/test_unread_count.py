"""The unread count every page's navigation shows and the API answers: the notification
centre's own rule (``visible_notifications``), unread, read by one statement — held here to
the same answer as counting that queryset, whatever state the notifications are in."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination.models import Notification, User
from coordination.notifications import unread_count, visible_notifications

pytestmark = pytest.mark.django_db

N = Notification.EmailStatus


def _by_the_queryset(user: User) -> int:
    return visible_notifications(user).filter(read_at__isnull=True).count()


def test_the_count_is_the_notification_centres_unread_in_every_state(world) -> None:
    me, someone_else = world.partner_staff, world.lead_staff
    before = unread_count(me)
    assert before == _by_the_queryset(me)
    # every e-mail state, read and unread, mine and someone else's
    for number, (status, read, recipient) in enumerate(
        itertools.product(N.values, (False, True), (me, someone_else))
    ):
        Notification.objects.create(
            recipient=recipient,
            kind="update.posted",
            title=f"Notification {number}",
            email_status=status,
            read_at=timezone.now() if read else None,
        )
    for person in (me, someone_else, world.outsider):
        assert unread_count(person) == _by_the_queryset(person)
    # withdrawn ones (lost access) are never counted; unread ones of every other state are
    assert unread_count(me) == before + len([s for s in N.values if s != N.WITHDRAWN])


def test_the_count_is_one_statement(world) -> None:
    with CaptureQueriesContext(connection) as queries:
        unread_count(world.partner_staff)
    assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 1


def test_the_page_and_the_api_show_the_same_count(world) -> None:
    me = world.partner_staff
    for number in range(3):
        Notification.objects.create(recipient=me, kind="update.posted", title=f"N{number}")
    Notification.objects.create(
        recipient=me, kind="update.posted", title="withdrawn", email_status=N.WITHDRAWN
    )
    expected = _by_the_queryset(me)
    client = Client()
    client.force_login(me)
    answer = client.get("/api/v1/notifications/unread-count/")
    assert answer.status_code == 200
    assert answer.json() == {"unread": expected}
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert page.context["unread_count"] == expected
