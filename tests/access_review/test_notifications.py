"""The daily flag: one event per assignment per due cycle, to the holder's agency's
liaison officers who see the task force (so the message may name the person, role and
task force), however often the beat task runs."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from agencies.models import Membership
from coordination import notifications
from coordination.models import Event, Notification
from taskforces import services, tasks
from taskforces.models import RoleAssignment
from taskforces.services import periodic

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")

KIND = "assignment.recertification_due"
DAY = datetime.timedelta(days=1)


def events() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for object_id, key in Event.objects.filter(kind=KIND).values_list("object_id", "key"):
        found.setdefault(int(object_id), []).append(key)
    return found


def told(assignment: RoleAssignment) -> set[str]:
    return set(
        Notification.objects.filter(kind=KIND, event__object_id=str(assignment.pk)).values_list(
            "recipient__email", flat=True
        )
    )


def world_assignments(world) -> list[RoleAssignment]:
    return list(
        RoleAssignment.objects.filter(role__task_force=world.tf, ended_at__isnull=True).order_by(
            "pk"
        )
    )


def test_nothing_is_flagged_before_the_period_ends(world, committed):
    start = world.lead_staff_assignment.starts_at
    with time_machine.travel(start + 89 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 0
    assert not Event.objects.filter(kind=KIND).exists()


def test_each_due_assignment_is_flagged_once_per_cycle(world, committed):
    assignments = world_assignments(world)
    assert (
        len(assignments) == 5
    )  # commander and liaison (lead), member (lead), liaison and member (partner)
    start = world.lead_staff_assignment.starts_at
    with time_machine.travel(start + 91 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 5
        assert committed(services.flag_unrecertified_assignments) == 0
        assert committed(tasks.flag_unrecertified_assignments.delay().get) == 0
    flagged = events()
    assert set(flagged) == {a.pk for a in assignments}
    assert all(len(keys) == 1 for keys in flagged.values())
    due_day = world.lead_staff_assignment.recertification_due_at.astimezone(datetime.UTC).date()
    assert flagged[world.lead_staff_assignment.pk] == [
        f"recertify:{world.lead_staff_assignment.pk}:{due_day.isoformat()}"
    ]
    # the next day: the same cycle, nothing new
    with time_machine.travel(start + 92 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 0

    # recertified on day 95: due again on day 185, flagged again then, and only then
    with time_machine.travel(start + 95 * DAY, tick=False):
        services.recertify_assignment(
            actor=world.lead_admin, assignment=world.lead_staff_assignment
        )
    with time_machine.travel(start + 184 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 0
    with time_machine.travel(start + 186 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 1
        assert committed(services.flag_unrecertified_assignments) == 0
    assert len(events()[world.lead_staff_assignment.pk]) == 2


def test_the_holders_agencys_liaisons_in_the_task_force_are_told(world, committed):
    # a liaison officer of the lead agency who holds no role in the task force may not see
    # it, so is not told (the message names the task force)
    elsewhere = person(world.lead, Membership.Role.LIAISON)
    start = world.lead_staff_assignment.starts_at
    mail.outbox.clear()
    with time_machine.travel(start + 91 * DAY, tick=False):
        committed(services.flag_unrecertified_assignments)
    assert told(world.lead_staff_assignment) == {world.lead_liaison.email}
    assert told(world.partner_staff_assignment) == {world.partner_liaison.email}
    everyone = set(Notification.objects.filter(kind=KIND).values_list("recipient_id", flat=True))
    for nobody in (
        elsewhere,
        world.lead_admin,
        world.lead_staff,
        world.partner_staff,
        world.outsider,
        world.portal_admin,
    ):
        assert nobody.pk not in everyone
    notification = Notification.objects.get(
        kind=KIND, event__object_id=str(world.lead_staff_assignment.pk)
    )
    assert notification.title == (
        f"{world.lead_staff}'s role Member in River Severn flood response is due for "
        "recertification"
    )
    assert "has not been recertified since it began" in notification.body
    assert "An agency administrator of National Flood Agency recertifies it" in notification.body
    assert any(
        world.lead_liaison.email in m.to and notification.title in m.subject for m in mail.outbox
    )


def test_an_assignment_recertified_or_ended_before_the_fan_out_tells_nobody(world):
    start = world.lead_staff_assignment.starts_at
    with time_machine.travel(start + 91 * DAY, tick=False):
        services.flag_unrecertified_assignments()  # recorded; no worker has run yet
        services.recertify_assignment(
            actor=world.lead_admin, assignment=world.lead_staff_assignment
        )
        services.end_assignment(
            assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Left"
        )
        for event in Event.objects.filter(kind=KIND):
            notifications.dispatch(event.pk)
    assert told(world.lead_staff_assignment) == set()
    assert told(world.partner_staff_assignment) == set()
    assert told(RoleAssignment.objects.get(role=role_named(world.tf, "commander"))) == {
        world.lead_liaison.email
    }


def test_many_due_assignments_are_flagged_in_batches(world, committed, monkeypatch):
    monkeypatch.setattr(periodic, "RECERTIFY_BATCH", 2)
    for _ in range(3):
        services.assign_role(
            role=role_named(world.tf, "observer"),
            person=person(world.lead),
            assigned_by=world.lead_liaison,
        )
    with time_machine.travel(timezone.now() + 91 * DAY, tick=False):
        assert committed(services.flag_unrecertified_assignments) == 8
        assert committed(services.flag_unrecertified_assignments) == 0
