"""The "due for recertification" rule: open (not ended, not expired) and last
recertified, or started if never, CONCORD_RECERTIFY_DAYS or more ago. The queryset and the
per-object answer agree at every boundary."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.test import override_settings

from taskforces import services
from taskforces.models import RoleAssignment

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")

DAY = datetime.timedelta(days=1)
SECOND = datetime.timedelta(seconds=1)


def due_ids(at: datetime.datetime) -> set[int]:
    return set(RoleAssignment.objects.due_for_recertification(at).values_list("pk", flat=True))


def agrees(assignment: RoleAssignment, at: datetime.datetime, expected: bool) -> None:
    assignment.refresh_from_db()
    assert (assignment.pk in due_ids(at)) is expected
    assert assignment.is_due_for_recertification(at) is expected
    with time_machine.travel(at, tick=False):
        assert assignment.due_for_recertification is expected


def test_due_exactly_the_period_after_the_start(world):
    assignment = world.lead_staff_assignment
    start = assignment.starts_at
    assert assignment.recertification_due_at == start + 90 * DAY
    agrees(assignment, start + 90 * DAY - SECOND, False)
    agrees(assignment, start + 90 * DAY, True)
    agrees(assignment, start + 200 * DAY, True)


def test_recertifying_starts_a_new_period(world):
    assignment = world.lead_staff_assignment
    start = assignment.starts_at
    with time_machine.travel(start + 100 * DAY, tick=False):
        services.recertify_assignment(actor=world.lead_admin, assignment=assignment)
    recertified = start + 100 * DAY
    agrees(assignment, recertified + SECOND, False)
    agrees(assignment, recertified + 90 * DAY - SECOND, False)
    agrees(assignment, recertified + 90 * DAY, True)


@override_settings(CONCORD_RECERTIFY_DAYS=7)
def test_the_period_is_the_setting(world):
    assignment = world.lead_staff_assignment
    start = assignment.starts_at
    agrees(assignment, start + 7 * DAY - SECOND, False)
    agrees(assignment, start + 7 * DAY, True)


def test_ended_and_expired_assignments_are_never_due(world):
    ended = world.partner_staff_assignment
    services.end_assignment(assignment=ended, by=world.partner_liaison, reason="Rotated out")
    agrees(ended, ended.starts_at + 365 * DAY, False)

    staff = person(world.lead)
    start = world.lead_staff_assignment.starts_at
    expiring = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=staff,
        assigned_by=world.lead_liaison,
        until=start + 120 * DAY,
    )
    agrees(expiring, expiring.starts_at + 90 * DAY, True)  # still open at day 90
    agrees(expiring, start + 120 * DAY - SECOND, True)
    agrees(expiring, start + 120 * DAY, False)  # expired (not yet closed by beat)


def test_a_scheduled_assignment_is_due_only_a_period_after_it_starts(world):
    start = world.lead_staff_assignment.starts_at + 30 * DAY
    later = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=person(world.lead),
        assigned_by=world.lead_liaison,
        starts_at=start,
    )
    agrees(later, start + 90 * DAY - SECOND, False)
    agrees(later, start + 90 * DAY, True)


@pytest.mark.parametrize(("value", "loads"), [("0", False), ("-3", False), ("1", True)])
def test_the_setting_must_be_at_least_one_day(value, loads):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CONCORD_RECERTIFY_DAYS": value}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import coordination.settings.base as s; print(s.CONCORD_RECERTIFY_DAYS)",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if loads:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == value
    else:
        assert result.returncode != 0
        assert "CONCORD_RECERTIFY_DAYS must be a whole number, at least 1" in result.stderr
