"""The shared world with operational periods and activity in them, built once per module.

On top of ``build_world`` (a flood task force led by NFA, RHS taking part under an
agreement up to TLP:AMBER, objectives at GREEN, AMBER, AMBER+STRICT and RED with one
task each, updates at AMBER and RED):

* period 1 runs now (from two hours ago for twelve hours), with briefing notes; period 2
  follows it; every world objective is tied to period 1 (their tasks follow them);
* Task GREEN is partner_staff's, Task AMBER the Member role's, Task RED the Commander's,
  Task AMBER+STRICT is not assigned;
* partner_staff posts a situation report and moves their task on;
* an observer of NFA holds the Observer role until one hour from now (period 1 only);
* an objective without a period;
* another task force, formed by partner_liaison, with its own period 1 and an objective
  tied to it: nothing of it may ever show in the flood task force's reports.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.utils import timezone

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Task, Update

from ..conftest import build_world, built_once, role_named
from ..factories import person

HOUR = datetime.timedelta(hours=1)


def build_report_world() -> SimpleNamespace:
    w = build_world()
    now = timezone.now()
    w.now = now
    by = w.lead_liaison
    w.period = services.create_period(
        task_force=w.tf,
        starts_at=now - 2 * HOUR,
        ends_at=now + 10 * HOUR,
        notes="Hold the levee at Tewkesbury.",
        by=by,
    )
    w.next_period = services.create_period(
        task_force=w.tf, starts_at=now + 10 * HOUR, ends_at=now + 22 * HOUR, by=by
    )
    for objective in w.objectives.values():
        services.update_objective(objective=objective, by=by, period=w.period)
    w.commander_role = role_named(w.tf, "commander")
    services.update_task(task=w.tasks[Marking.GREEN], by=by, assignee=w.partner_staff)
    services.update_task(task=w.tasks[Marking.AMBER], by=by, assigned_role=w.member_role)
    services.update_task(task=w.tasks[Marking.RED], by=by, assigned_role=w.commander_role)
    w.partner_update = services.post_update(
        task_force=w.tf,
        title="Partner sitrep",
        body="Road to the hospital closed.",
        kind=Update.Kind.SITREP,
        marking=Marking.AMBER,
        by=w.partner_staff,
    )
    services.update_task(
        task=w.tasks[Marking.GREEN], by=w.partner_staff, status=Task.Status.IN_PROGRESS
    )
    w.observer = person(w.lead, email="observer@nfa.example.gov")
    w.observer_assignment = services.assign_role(
        role=role_named(w.tf, "observer"), person=w.observer, assigned_by=by, until=now + HOUR
    )
    w.untied = services.create_objective(
        task_force=w.tf,
        title="Objective without a period",
        owner_agency=w.lead,
        marking=Marking.GREEN,
        by=by,
    )
    w.other_tf = services.form_task_force(
        name="Hidden operation", mandate="Elsewhere.", by=w.partner_liaison
    )
    w.other_period = services.create_period(
        task_force=w.other_tf,
        starts_at=now - 2 * HOUR,
        ends_at=now + 10 * HOUR,
        by=w.partner_liaison,
    )
    w.other_objective = services.create_objective(
        task_force=w.other_tf,
        title="Other task force objective",
        owner_agency=w.partner,
        marking=Marking.GREEN,
        period=w.other_period,
        by=w.partner_liaison,
    )
    return w


@pytest.fixture(scope="module")
def module_report_world(django_db_setup, django_db_blocker) -> Iterator[SimpleNamespace]:
    yield from built_once(django_db_blocker, build_report_world)


@pytest.fixture
def rw(module_report_world, db) -> SimpleNamespace:
    """A copy of the module's report world; the test's writes are rolled back after it."""
    return copy.deepcopy(module_report_world)
