"""Operational periods: who may plan them, the rules they keep (ordered, numbered once,
never overlapping, only in an open task force), tying objectives and tasks to a period of
their own task force only, the current period on the task force page, and the pages."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied
from coordination.permissions.markings import Marking
from taskforces import selectors, services
from taskforces.models import Objective, OperationalPeriod, Task, TaskForce

from ..conftest import role_named
from ..factories import person

HOUR = datetime.timedelta(hours=1)


def events(action: str, obj) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk)
        )
    )


# --- services -----------------------------------------------------------------------------------


def test_planner_creates_numbered_periods_and_each_is_audited(rw):
    later = rw.now + 30 * HOUR
    third = services.create_period(
        task_force=rw.tf, starts_at=later, ends_at=later + 12 * HOUR, by=rw.lead_liaison
    )
    assert third.number == 3  # the next free number
    assert third.created_by == rw.lead_liaison
    (event,) = events("period.created", third)
    assert event.actor == rw.lead_liaison
    assert event.after["number"] == 3
    assert event.after["starts_at"] == later.isoformat()

    # an operations section lead (manage objectives, not the commander) may plan too
    ops = person(rw.lead)
    services.assign_role(
        role=role_named(rw.tf, "operations-lead"), person=ops, assigned_by=rw.lead_liaison
    )
    fifth = services.create_period(
        task_force=rw.tf,
        number=5,
        starts_at=later + 12 * HOUR,
        ends_at=later + 24 * HOUR,
        by=ops,
    )
    assert fifth.number == 5


@pytest.mark.parametrize("persona", ["partner_liaison", "partner_staff", "lead_staff", "outsider"])
def test_people_without_manage_objectives_may_not_plan(rw, persona):
    later = rw.now + 30 * HOUR
    with pytest.raises(PermissionDenied):
        services.create_period(
            task_force=rw.tf,
            starts_at=later,
            ends_at=later + HOUR,
            by=getattr(rw, persona),
        )
    with pytest.raises(PermissionDenied):
        services.update_period(period=rw.period, by=getattr(rw, persona), notes="Mine now")
    with pytest.raises(PermissionDenied):
        services.delete_period(period=rw.period, by=getattr(rw, persona))
    assert OperationalPeriod.objects.filter(task_force=rw.tf).count() == 2
    rw.period.refresh_from_db()
    assert rw.period.notes == "Hold the levee at Tewkesbury."


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        (30, 30, "ends_at"),  # ends when it starts
        (30, 29, "ends_at"),  # ends before it starts
        (9, 12, "starts_at"),  # overlaps the end of period 1
        (-5, 30, "starts_at"),  # covers periods 1 and 2
        (12, 20, "starts_at"),  # inside period 2
    ],
)
def test_a_period_must_be_ordered_and_overlap_no_other(rw, starts, ends, field):
    audited = AuditEvent.objects.filter(action="period.created").count()
    with pytest.raises(ValidationError) as refused:
        services.create_period(
            task_force=rw.tf,
            starts_at=rw.now + starts * HOUR,
            ends_at=rw.now + ends * HOUR,
            by=rw.lead_liaison,
        )
    assert field in refused.value.message_dict
    assert OperationalPeriod.objects.filter(task_force=rw.tf).count() == 2
    assert AuditEvent.objects.filter(action="period.created").count() == audited


def test_periods_may_touch_and_other_task_forces_do_not_count(rw):
    # starts exactly when period 2 ends; the other task force's period 1 overlaps in time
    touching = services.create_period(
        task_force=rw.tf,
        starts_at=rw.next_period.ends_at,
        ends_at=rw.next_period.ends_at + HOUR,
        by=rw.lead_liaison,
    )
    assert touching.number == 3
    # the same number in another task force is fine; twice in one is not
    other = services.create_period(
        task_force=rw.other_tf,
        number=3,
        starts_at=rw.now + 40 * HOUR,
        ends_at=rw.now + 41 * HOUR,
        by=rw.partner_liaison,
    )
    assert other.number == 3
    with pytest.raises(ValidationError) as refused:
        services.create_period(
            task_force=rw.tf,
            number=1,
            starts_at=rw.now + 50 * HOUR,
            ends_at=rw.now + 51 * HOUR,
            by=rw.lead_liaison,
        )
    assert "number" in refused.value.message_dict


@pytest.mark.parametrize("number", [0, -1, True, "2"])
def test_a_period_number_is_a_whole_number_of_at_least_one(rw, number):
    with pytest.raises(ValidationError) as refused:
        services.create_period(
            task_force=rw.tf,
            number=number,
            starts_at=rw.now + 40 * HOUR,
            ends_at=rw.now + 41 * HOUR,
            by=rw.lead_liaison,
        )
    assert "number" in refused.value.message_dict


def test_a_closed_task_force_gets_no_new_or_changed_periods(rw):
    services.transition_task_force(
        task_force=rw.tf, to_status=TaskForce.Status.CLOSED, by=rw.lead_liaison
    )
    with pytest.raises(PermissionDenied) as refused:
        services.create_period(
            task_force=rw.tf,
            starts_at=rw.now + 40 * HOUR,
            ends_at=rw.now + 41 * HOUR,
            by=rw.lead_liaison,
        )
    assert "closed" in str(refused.value)
    with pytest.raises(PermissionDenied):
        services.update_period(period=rw.period, by=rw.lead_liaison, notes="Late change")
    with pytest.raises(PermissionDenied):
        services.delete_period(period=rw.period, by=rw.lead_liaison)


def test_update_checks_the_same_rules_and_records_before_and_after(rw):
    with pytest.raises(ValidationError) as refused:
        services.update_period(
            period=rw.next_period, by=rw.lead_liaison, starts_at=rw.now + 9 * HOUR
        )
    assert "starts_at" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.update_period(period=rw.next_period, by=rw.lead_liaison, number=1)
    with pytest.raises(ValidationError) as unknown:
        services.update_period(period=rw.next_period, by=rw.lead_liaison, task_force=rw.other_tf)
    assert "task_force" in unknown.value.message_dict
    rw.next_period.refresh_from_db()
    assert rw.next_period.number == 2
    assert rw.next_period.starts_at == rw.now + 10 * HOUR

    services.update_period(
        period=rw.next_period, by=rw.lead_liaison, number=7, notes="  Night shift. "
    )
    rw.next_period.refresh_from_db()
    assert (rw.next_period.number, rw.next_period.notes) == (7, "Night shift.")
    (event,) = events("period.updated", rw.next_period)
    assert event.before["number"] == 2 and event.after["number"] == 7
    assert event.after["notes"] == "Night shift."


def test_deleting_a_period_unties_its_objectives_and_tasks(rw):
    task = rw.tasks[Marking.AMBER]
    services.update_task(task=task, by=rw.lead_liaison, period=rw.period)
    pk = rw.period.pk
    services.delete_period(period=rw.period, by=rw.lead_liaison)
    assert not OperationalPeriod.objects.filter(pk=pk).exists()
    assert Objective.objects.filter(pk=rw.objectives[Marking.AMBER].pk, period=None).exists()
    assert Task.objects.filter(pk=task.pk, period=None).exists()
    (event,) = AuditEvent.objects.filter(action="period.deleted", object_id=str(pk))
    assert event.before["number"] == 1
    assert event.after["untied"]["tasks"] == [task.pk]
    assert sorted(event.after["untied"]["objectives"]) == sorted(
        o.pk for o in rw.objectives.values()
    )


def test_objectives_and_tasks_take_only_a_period_of_their_own_task_force(rw):
    objective = rw.objectives[Marking.GREEN]
    with pytest.raises(ValidationError) as refused:
        services.update_objective(objective=objective, by=rw.lead_liaison, period=rw.other_period)
    assert "period" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.create_objective(
            task_force=rw.tf,
            title="Smuggled",
            owner_agency=rw.lead,
            period=rw.other_period,
            by=rw.lead_liaison,
        )
    with pytest.raises(ValidationError) as refused_task:
        services.create_task(
            objective=objective, title="Smuggled task", period=rw.other_period, by=rw.lead_liaison
        )
    assert "period" in refused_task.value.message_dict
    with pytest.raises(ValidationError):
        services.update_task(
            task=rw.tasks[Marking.GREEN], by=rw.lead_liaison, period=rw.other_period
        )
    objective.refresh_from_db()
    assert objective.period_id == rw.period.pk
    assert not Objective.objects.filter(title="Smuggled").exists()
    assert not Task.objects.filter(title="Smuggled task").exists()

    # a period of its own task force is fine, and the audit trail records the change
    task = services.create_task(
        objective=objective, title="Sandbags", period=rw.next_period, by=rw.lead_liaison
    )
    assert task.period == rw.next_period
    (event,) = events("task.created", task)
    assert event.after["period"] == rw.next_period.pk


def test_an_assignee_may_not_move_their_task_to_another_period(rw):
    with pytest.raises(PermissionDenied):
        services.update_task(
            task=rw.tasks[Marking.GREEN], by=rw.partner_staff, period=rw.next_period
        )


def test_current_period_is_the_one_running_now(rw):
    assert selectors.current_period(rw.tf) == rw.period
    assert selectors.current_period(rw.tf, rw.now + 11 * HOUR) == rw.next_period
    assert selectors.current_period(rw.tf, rw.now + 23 * HOUR) is None
    assert selectors.current_period(rw.tf, rw.now - 3 * HOUR) is None
    # the boundary belongs to the later period
    assert selectors.current_period(rw.tf, rw.period.ends_at) == rw.next_period
    assert selectors.current_period(rw.other_tf) == rw.other_period


# --- pages ------------------------------------------------------------------------------------


def test_task_force_page_shows_the_current_period_and_links_to_reports(client, rw):
    client.force_login(rw.partner_staff)
    page = client.get(reverse("taskforces:detail", args=[rw.tf.pk])).content.decode()
    assert "Period 1:" in page
    assert "left)" in page
    assert reverse("taskforces:reports", args=[rw.tf.pk]) in page

    services.delete_period(period=rw.period, by=rw.lead_liaison)
    page = client.get(reverse("taskforces:detail", args=[rw.tf.pk])).content.decode()
    assert "None running; period 2 starts" in page

    client.force_login(rw.partner_liaison)
    page = client.get(reverse("taskforces:detail", args=[rw.other_tf.pk])).content.decode()
    assert "Period 1:" in page


def test_a_task_force_without_periods_says_so(client, rw):
    tf = services.form_task_force(name="Quiet one", mandate="Nothing yet.", by=rw.lead_liaison)
    client.force_login(rw.lead_liaison)
    page = client.get(reverse("taskforces:detail", args=[tf.pk])).content.decode()
    assert "None planned" in page


def test_period_pages_from_both_sides(client, rw):
    periods_url = reverse("taskforces:periods", args=[rw.tf.pk])
    create_url = reverse("taskforces:period-create", args=[rw.tf.pk])
    edit_url = reverse("taskforces:period-edit", args=[rw.period.pk])
    delete_url = reverse("taskforces:period-delete", args=[rw.period.pk])

    client.force_login(rw.partner_staff)
    page = client.get(periods_url).content.decode()
    assert "Hold the levee at Tewkesbury." in page
    assert create_url not in page and edit_url not in page
    for url in (create_url, edit_url, delete_url):
        assert client.get(url).status_code == 403
    assert client.post(delete_url).status_code == 403
    assert OperationalPeriod.objects.filter(pk=rw.period.pk).exists()

    client.force_login(rw.outsider)
    for url in (periods_url, create_url, edit_url, delete_url):
        assert client.get(url).status_code == 404

    client.force_login(rw.lead_liaison)
    page = client.get(periods_url).content.decode()
    assert create_url in page and edit_url in page and delete_url in page


def _local(moment: datetime.datetime) -> str:
    # the portal's date-time input shows day/month/year and 24-hour time
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def test_planning_a_period_through_the_page(client, rw):
    client.force_login(rw.lead_liaison)
    url = reverse("taskforces:period-create", args=[rw.tf.pk])
    start = (rw.now + 22 * HOUR).replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    response = client.post(
        url,
        {"starts_at": _local(start), "ends_at": _local(start + 12 * HOUR), "notes": "Day 2"},
    )
    assert response.status_code == 302
    period = OperationalPeriod.objects.get(task_force=rw.tf, number=3)
    assert (period.starts_at, period.notes) == (start, "Day 2")


def test_a_time_sent_with_any_offset_is_stored_as_the_same_moment(client, rw):
    """A hand-made request may carry an offset PostgreSQL cannot store (beyond ±15:59):
    the form turns it into UTC first."""
    client.force_login(rw.lead_liaison)
    url = reverse("taskforces:period-create", args=[rw.tf.pk])
    response = client.post(
        url, {"starts_at": "2031-03-01T20:00:00+18:30", "ends_at": "2031-03-01T12:00:00Z"}
    )
    assert response.status_code == 302
    period = OperationalPeriod.objects.get(task_force=rw.tf, number=3)
    assert period.starts_at == datetime.datetime(2031, 3, 1, 1, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"starts_at": "tomorrow", "ends_at": "2030-01-01T10:00"}, "Enter a valid date/time."),
        ({"starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T09:00"}, "must end after"),
        ({"starts_at": "2030-01-01T10:00"}, "This field is required."),
        (
            {"number": "0", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00"},
            "greater than or equal to 1",
        ),
        (
            {"number": "2", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00"},
            "already has an operational period 2",
        ),
        ({"starts_at": "OVERLAP", "ends_at": "OVERLAP"}, "overlaps operational period 1"),
    ],
)
def test_bad_period_input_is_a_form_error_and_changes_nothing(client, rw, data, message):
    if data["starts_at"] == "OVERLAP":
        data = {"starts_at": _local(rw.now), "ends_at": _local(rw.now + HOUR)}
    client.force_login(rw.lead_liaison)
    before = AuditEvent.objects.count()
    response = client.post(reverse("taskforces:period-create", args=[rw.tf.pk]), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert OperationalPeriod.objects.filter(task_force=rw.tf).count() == 2
    assert AuditEvent.objects.count() == before


def test_editing_and_removing_through_the_pages(client, rw):
    client.force_login(rw.lead_liaison)
    edit_url = reverse("taskforces:period-edit", args=[rw.next_period.pk])
    form = client.get(edit_url).content.decode()
    assert _local(rw.next_period.starts_at) in form
    # the form works in whole minutes: start a minute later, clear of period 1's end
    start = rw.next_period.starts_at + datetime.timedelta(minutes=1)
    response = client.post(
        edit_url,
        {
            "number": "",  # empty keeps the number
            "starts_at": _local(start),
            "ends_at": _local(start + 2 * HOUR),
            "notes": "Short night",
        },
    )
    assert response.status_code == 302
    rw.next_period.refresh_from_db()
    assert rw.next_period.number == 2
    assert rw.next_period.notes == "Short night"

    delete_url = reverse("taskforces:period-delete", args=[rw.period.pk])
    assert "4 objectives and 0 tasks are tied" in client.get(delete_url).content.decode()
    assert client.post(delete_url).status_code == 302
    assert not OperationalPeriod.objects.filter(pk=rw.period.pk).exists()


def test_objective_form_offers_only_this_task_forces_periods(client, rw):
    client.force_login(rw.lead_liaison)
    url = reverse("taskforces:objective-create", args=[rw.tf.pk])
    page = client.get(url).content.decode()
    choices = page.split('name="period"')[1].split("</select>")[0]
    assert f'value="{rw.period.pk}"' in choices
    assert f'value="{rw.next_period.pk}"' in choices
    assert f'value="{rw.other_period.pk}"' not in choices
    data = {
        "title": "Pumps",
        "owner_agency": rw.lead.pk,
        "status": "not_started",
        "priority": "2",
        "marking": str(Marking.GREEN),
    }
    refused = client.post(url, {**data, "period": rw.other_period.pk})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert not Objective.objects.filter(title="Pumps").exists()
    assert client.post(url, {**data, "period": rw.next_period.pk}).status_code == 302
    assert Objective.objects.get(title="Pumps").period == rw.next_period

    task = rw.tasks[Marking.AMBER]
    edit = reverse("taskforces:task-edit", args=[task.pk])
    response = client.post(
        edit,
        {"title": task.title, "status": "todo", "period": rw.other_period.pk},
    )
    assert "Select a valid choice" in response.content.decode()
    task.refresh_from_db()
    assert task.period_id is None
