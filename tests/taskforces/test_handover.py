"""Handover between operational periods (issue 19, item 3): the outgoing holder writes a
brief, a holder of the same role in the next period acknowledges it once, the commander
sees who has not handed over, notifications go out once, and the ICS 201 briefing of the
new period is made from the data."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from coordination.models import AuditEvent, Event, Notification
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import HandoverBrief, Task, TimelineEntry

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def shift(world):
    """Period 1 runs now, period 2 follows. NFA's Member lead_staff leaves at the end of
    period 1 (the one who must hand over); RHS's partner_staff stays on, and a new NFA
    member joins now for period 2 (so they see the task force): both take the role over."""
    w = world
    now = timezone.now()
    w.period = services.create_period(
        task_force=w.tf, starts_at=now - 2 * HOUR, ends_at=now + 10 * HOUR, by=w.lead_liaison
    )
    w.next_period = services.create_period(
        task_force=w.tf, starts_at=now + 10 * HOUR, ends_at=now + 22 * HOUR, by=w.lead_liaison
    )
    w.lead_staff_assignment = services.set_assignment_end(
        assignment=w.lead_staff_assignment, until=w.period.ends_at, by=w.lead_liaison
    )
    w.incoming = person(w.lead, email="night@nfa.example.gov")
    w.incoming_assignment = services.assign_role(
        role=w.member_role, person=w.incoming, assigned_by=w.lead_liaison
    )
    services.update_task(
        task=w.tasks[Marking.AMBER], by=w.lead_liaison, assigned_role=w.member_role
    )
    services.update_task(task=w.tasks[Marking.GREEN], by=w.lead_liaison, assignee=w.lead_staff)
    services.update_task(
        task=w.tasks[Marking.GREEN], by=w.lead_staff, status=Task.Status.IN_PROGRESS
    )
    return w


def write(w, **fields):
    values = {"risks": "River still rising.", "contacts": "Lock keeper 01234 567890"} | fields
    return services.write_handover_brief(
        assignment=w.lead_staff_assignment, period=w.period, by=w.lead_staff, **values
    )


def test_the_open_tasks_are_prefilled_from_the_data(shift):
    w = shift
    text = services.open_tasks_text(w.lead_staff_assignment, w.lead_staff)
    assert "- Task TLP:GREEN (in progress)" in text  # assigned to the person
    assert "- Task TLP:AMBER (to do)" in text  # assigned to their role
    assert "TLP:RED" not in text and "AMBER+STRICT" not in text
    # only what the writer may see: RHS's member does not get the AMBER+STRICT task
    services.update_task(
        task=w.tasks[Marking.AMBER_STRICT], by=w.lead_liaison, assigned_role=w.member_role
    )
    assert "AMBER+STRICT" not in services.open_tasks_text(
        w.partner_staff_assignment, w.partner_staff
    )
    assert "AMBER+STRICT" in services.open_tasks_text(w.lead_staff_assignment, w.lead_staff)


def test_writing_a_brief_from_both_sides(shift):
    w = shift
    with pytest.raises(PermissionDenied):  # someone else's role
        services.write_handover_brief(
            assignment=w.lead_staff_assignment, period=w.period, by=w.partner_staff
        )
    with pytest.raises(PermissionDenied):
        services.write_handover_brief(
            assignment=w.lead_staff_assignment, period=w.period, by=w.outsider
        )
    with pytest.raises(ValidationError) as error:  # lead_staff leaves before period 2
        services.write_handover_brief(
            assignment=w.lead_staff_assignment, period=w.next_period, by=w.lead_staff
        )
    assert "did not hold Member during operational period 2" in str(error.value)
    with pytest.raises(ValidationError) as error:  # no period after period 2
        services.write_handover_brief(
            assignment=w.partner_staff_assignment, period=w.next_period, by=w.partner_staff
        )
    assert "no operational period after" in str(error.value)
    with pytest.raises(ValidationError) as error:
        write(w, marking=99)
    assert "marking" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.write_handover_brief(
            assignment=w.partner_staff_assignment,
            period=w.period,
            by=w.partner_staff,
            marking=Marking.RED,
        )
    assert "marking" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        write(w, risks="x" * 10_001)
    assert "risks" in error.value.message_dict
    assert HandoverBrief.objects.count() == 0

    brief = write(w, marking=Marking.AMBER)
    assert (brief.role, brief.next_period, brief.written_by) == (
        w.member_role,
        w.next_period,
        w.lead_staff,
    )
    with pytest.raises(ValidationError):  # once per assignment and period
        write(w)
    entry = TimelineEntry.objects.get(action="handover.submitted")
    assert entry.marked and entry.marking == Marking.AMBER and entry.actor == w.lead_staff
    assert AuditEvent.objects.filter(action="handover.submitted", object_id=str(brief.pk)).exists()


def test_a_brief_is_seen_by_its_marking(shift, client):
    w = shift
    brief = write(w, marking=Marking.AMBER_STRICT)
    assert can(w.incoming, "view", brief) and can(w.lead_liaison, "view", brief)
    assert not can(w.partner_staff, "view", brief)  # RHS's agreement stops at AMBER
    assert not can(w.outsider, "view", brief)
    url = reverse("taskforces:handover-brief", args=[brief.pk])
    client.force_login(w.partner_staff)
    assert client.get(url).status_code == 404
    client.force_login(w.incoming)
    page = client.get(url).content.decode()
    assert "River still rising." in page and "I have read this brief" in page


def test_acknowledging_from_both_sides_and_only_once(shift, django_capture_on_commit_callbacks):
    w = shift
    with django_capture_on_commit_callbacks(execute=True):
        brief = write(w)
    told = set(
        Notification.objects.filter(event__kind="handover.submitted").values_list(
            "recipient_id", flat=True
        )
    )
    # the holders of the role in the next period who may see it, not its writer
    assert told == {w.incoming.pk, w.partner_staff.pk}
    for refused in (w.lead_staff, w.lead_liaison, w.outsider):  # writer, other role, outsider
        with pytest.raises(PermissionDenied):
            services.acknowledge_handover(brief=brief, by=refused)
    services.acknowledge_handover(brief=brief, by=w.incoming)
    brief.refresh_from_db()
    assert brief.acknowledged_by == w.incoming and brief.acknowledged_at
    with pytest.raises(ValidationError) as error:
        services.acknowledge_handover(brief=brief, by=w.partner_staff)
    assert "already acknowledged" in str(error.value)
    assert AuditEvent.objects.filter(action="handover.acknowledged").count() == 1
    assert TimelineEntry.objects.filter(action="handover.acknowledged").count() == 1


def test_commanders_are_told_once_when_every_role_has_handed_over(
    shift, django_capture_on_commit_callbacks
):
    w = shift
    assert list(services.outgoing(w.period)) == [w.lead_staff_assignment]
    with django_capture_on_commit_callbacks(execute=True):
        brief = write(w)
        assert not services.handover_complete(w.period)
        # a holder who stays on may write a brief too; while it waits, it is not complete
        extra = services.write_handover_brief(
            assignment=w.partner_staff_assignment, period=w.period, by=w.partner_staff
        )
        services.acknowledge_handover(brief=brief, by=w.incoming)
        assert not services.handover_complete(w.period)
        assert not Event.objects.filter(kind="handover.complete").exists()
        services.acknowledge_handover(brief=extra, by=w.incoming)
    assert services.handover_complete(w.period)
    assert Event.objects.filter(kind="handover.complete").count() == 1
    told = set(
        Notification.objects.filter(event__kind="handover.complete").values_list(
            "recipient_id", flat=True
        )
    )
    assert w.lead_liaison.pk in told  # the commander (who may edit the task force)
    assert not told & {w.lead_staff.pk, w.partner_staff.pk, w.incoming.pk, w.outsider.pk}


def test_the_commanders_page_from_both_sides(shift, client, django_assert_max_num_queries):
    w = shift
    url = reverse("taskforces:handover", args=[w.tf.pk])
    client.force_login(w.lead_liaison)
    assert "1 not handed over" in client.get(url).content.decode()
    write(w)
    client.force_login(w.lead_liaison)
    with django_assert_max_num_queries(30) as captured:
        page = client.get(url).content.decode()
    assert "Awaiting acknowledgement" in page and "Continues" in page
    assert str(w.partner_staff) in page
    small = len(captured.captured_queries)
    for _ in range(5):
        services.assign_role(role=w.member_role, person=person(w.lead), assigned_by=w.lead_liaison)
    with django_assert_max_num_queries(small):
        assert client.get(url).status_code == 200
    assert client.get(url, {"period": 9}).status_code == 400
    assert client.get(url, {"period": "x"}).status_code == 400
    assert client.get(url, {"other": 1}).status_code == 400
    client.force_login(w.lead_staff)  # a member: no command capability
    assert client.get(url).status_code == 403
    client.force_login(w.outsider)
    assert client.get(url).status_code == 404


def test_writing_and_acknowledging_on_the_pages(shift, client):
    w = shift
    client.force_login(w.lead_staff)
    mine = client.get(reverse("taskforces:handover-mine", args=[w.tf.pk])).content.decode()
    assert "Write the handover brief" in mine
    url = reverse("taskforces:handover-write", args=[w.lead_staff_assignment.pk])
    form = client.get(url, {"period": w.period.number}).content.decode()
    assert "Task TLP:GREEN (in progress)" in form  # prefilled
    bad = client.post(f"{url}?period={w.period.number}", {"marking": "9"})
    assert bad.status_code == 200 and HandoverBrief.objects.count() == 0
    done = client.post(
        f"{url}?period={w.period.number}",
        {"open_tasks": "Pumps", "risks": "Levee", "contacts": "", "notes": "", "marking": "2"},
    )
    assert done.status_code == 302
    brief = HandoverBrief.objects.get()
    client.force_login(w.partner_staff)  # someone else's assignment
    assert client.get(url, {"period": 1}).status_code in (403, 404)
    client.force_login(w.incoming)
    awaiting = client.get(reverse("taskforces:handover-mine", args=[w.tf.pk])).content.decode()
    assert reverse("taskforces:handover-brief", args=[brief.pk]) in awaiting
    client.force_login(w.lead_liaison)  # not a Member: nothing awaits them
    theirs = client.get(reverse("taskforces:handover-mine", args=[w.tf.pk])).content.decode()
    assert reverse("taskforces:handover-brief", args=[brief.pk]) not in theirs
    client.force_login(w.incoming)
    ack = reverse("taskforces:handover-acknowledge", args=[brief.pk])
    assert client.post(ack).status_code == 302
    assert "already acknowledged" in client.post(ack, follow=True).content.decode()
    brief.refresh_from_db()
    assert brief.acknowledged_by == w.incoming


def test_the_ics201_briefing_has_every_section(shift, client):
    w = shift
    services.post_update(
        task_force=w.tf,
        title="Sitrep 06:00",
        body="Water at 5 m.",
        kind="sitrep",
        marking=Marking.GREEN,
        by=w.lead_liaison,
    )
    services.update_objective(
        objective=w.objectives[Marking.GREEN], by=w.lead_liaison, period=w.next_period
    )
    write(w, risks="Bridge may close.")
    url = reverse("taskforces:briefing", args=[w.next_period.pk])
    client.force_login(w.lead_liaison)
    page = client.get(url).content.decode()
    for heading in (
        "1. Situation",
        "2. Objectives",
        "3. Organisation",
        "4. Resources and assignments",
        "5. Open tasks",
        "6. Handover briefs",
    ):
        assert heading in page
    response = client.get(url, {"format": "pdf"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (
        "ICS 201",
        "Incident briefing",
        "1. Situation",
        "Sitrep 06:00",
        "2. Objectives",
        "Objective TLP:GREEN",
        "3. Organisation",
        "4. Resources and assignments",
        "5. Open tasks",
        "Task TLP:RED",
        "6. Handover briefs",
        "Bridge may close.",
        "TLP:RED",
    ):
        assert expected in text, expected
    assert AuditEvent.objects.filter(action="export.pdf", after__kind="ics-201").exists()
    assert client.get(url, {"format": "doc"}).status_code == 400
    # what the partner may not see is not in their briefing
    client.force_login(w.partner_staff)
    response = client.get(url, {"format": "pdf"})
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Bridge may close." in text and "Task TLP:RED" not in text
    assert "AMBER+STRICT" not in text
    client.force_login(w.outsider)
    assert client.get(url).status_code == 404


def test_observer_role_continues_without_a_taker(shift):
    """A role with no other holder next period: the brief can be written but nobody can
    acknowledge it, and the commander's page keeps showing it as awaiting."""
    w = shift
    observer = person(w.lead)
    assignment = services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    brief = services.write_handover_brief(assignment=assignment, period=w.period, by=observer)
    assert not services.incoming_assignments(brief).exists()
    with pytest.raises(PermissionDenied):
        services.acknowledge_handover(brief=brief, by=observer)


def test_my_handovers_and_the_briefing_cost_the_same_queries_however_much_data(
    shift, client, django_assert_max_num_queries
):
    w = shift
    write(w)
    # one of each kind of row first (a list with none skips its prefetches)
    services.update_objective(
        objective=w.objectives[Marking.GREEN], by=w.lead_liaison, period=w.next_period
    )
    mine = reverse("taskforces:handover-mine", args=[w.tf.pk])
    briefing = reverse("taskforces:briefing", args=[w.next_period.pk])
    client.force_login(w.incoming)
    with django_assert_max_num_queries(40) as captured:
        assert client.get(mine).status_code == 200
    small_mine = len(captured.captured_queries)
    with django_assert_max_num_queries(60) as captured:
        assert client.get(briefing).status_code == 200
    small_briefing = len(captured.captured_queries)
    for n in range(4):
        leaver = person(w.lead)
        assignment = services.assign_role(
            role=w.member_role, person=leaver, assigned_by=w.lead_liaison, until=w.period.ends_at
        )
        services.write_handover_brief(assignment=assignment, period=w.period, by=leaver)
        services.post_update(
            task_force=w.tf, title=f"Sitrep {n}", body="…", kind="sitrep", by=w.lead_liaison
        )
        objective = services.create_objective(
            task_force=w.tf,
            title=f"Objective {n}",
            owner_agency=w.lead,
            period=w.next_period,
            by=w.lead_liaison,
        )
        services.create_task(objective=objective, title=f"Task {n}", by=w.lead_liaison)
    with django_assert_max_num_queries(small_mine):
        page = client.get(mine).content.decode()
    assert page.count(", for period 2<") == 5  # the five briefs awaiting them
    with django_assert_max_num_queries(small_briefing):
        assert client.get(briefing).status_code == 200
