"""One notification per event per person (issue 17, item 2): a critical update is one
event, critical for the people it asks to acknowledge and routine for everyone else who
may read it, never both; the "please acknowledge" notice is read once they acknowledge."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from coordination import notifications
from coordination.models import Event, Notification
from coordination.permissions.markings import Marking
from taskforces import services


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


def _critical(world, **extra):
    return services.post_update(
        task_force=world.tf,
        title="Evacuate zone 3",
        body="Now.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        by=world.lead_liaison,
        **extra,
    )


def _about(update) -> list[Notification]:
    return list(
        Notification.objects.filter(
            event__object_type="taskforces.update", event__object_id=str(update.pk)
        )
    )


def test_a_critical_update_is_one_event_and_one_notification_per_person(world, committed):
    update = committed(lambda: _critical(world, ack_agencies=[world.partner]))
    assert (
        Event.objects.filter(object_type="taskforces.update", object_id=str(update.pk)).count() == 1
    )
    about = _about(update)
    per_person = Counter(n.recipient_id for n in about)
    assert per_person and set(per_person.values()) == {1}, per_person
    kinds = {n.recipient_id: (n.kind, n.critical) for n in about}
    # asked to acknowledge: critical; others who may read it: routine; nobody else
    assert kinds == {
        world.partner_staff.pk: ("update.critical", True),
        world.partner_liaison.pk: ("update.critical", True),
        world.lead_staff.pk: ("update.posted", False),
    }


def test_acknowledging_reads_the_please_acknowledge_notice_and_nothing_else(
    world, committed, client
):
    update = committed(lambda: _critical(world))
    routine = committed(
        lambda: services.post_update(
            task_force=world.tf,
            title="Routine",
            body="All quiet.",
            marking=Marking.GREEN,
            by=world.lead_liaison,
        )
    )
    client.force_login(world.partner_staff)
    response = client.post(reverse("taskforces:acknowledge", args=[update.pk]))
    assert response.status_code == 302
    mine = Notification.objects.get(recipient=world.partner_staff, event__object_id=str(update.pk))
    assert mine.kind == "update.critical" and mine.read_at is not None
    # the routine one and other people's stay unread
    assert (
        Notification.objects.get(
            recipient=world.partner_staff, event__object_id=str(routine.pk)
        ).read_at
        is None
    )
    assert (
        Notification.objects.get(
            recipient=world.lead_staff, event__object_id=str(update.pk)
        ).read_at
        is None
    )


def test_acknowledged_before_the_worker_told_them_arrives_read(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        update = _critical(world)
    services.acknowledge_update(update=update, by=world.partner_staff)
    event = Event.objects.get(object_type="taskforces.update", object_id=str(update.pk))
    notifications.dispatch(event.pk)
    mine = Notification.objects.get(recipient=world.partner_staff, event=event)
    assert mine.read_at is not None
    assert Notification.objects.get(recipient=world.lead_staff, event=event).read_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="Needs PostgreSQL (DATABASE_URL).")
def test_concurrent_dispatch_of_a_critical_update_tells_each_person_once():
    """Four workers take the same event at the same moment (a redelivered task, the
    sweeper beside the first worker), round after round: each person still has exactly
    one notification about the update."""
    from ..conftest import build_world

    world = build_world()
    for number in range(5):
        update = _critical(world, ack_agencies=[world.partner])  # commits; dispatched eagerly
        event = Event.objects.get(object_type="taskforces.update", object_id=str(update.pk))
        Notification.objects.filter(event=event).delete()
        Event.objects.filter(pk=event.pk).update(dispatched_at=None)
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def work(
            event: Event = event, barrier: threading.Barrier = barrier, errors: list = errors
        ) -> None:
            try:
                connection.ensure_connection()
                barrier.wait(timeout=30)
                notifications.dispatch(event.pk)
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        per_person = Counter(n.recipient_id for n in _about(update))
        assert per_person == Counter(
            {world.partner_staff.pk: 1, world.partner_liaison.pk: 1, world.lead_staff.pk: 1}
        ), f"round {number}: {per_person}"
