"""The timeline of a task force (issue 19, item 2): written by the services in the same
transaction as each change, seen by the access rule of what each entry is about, log
entries by hand, entries marked significant, filters, the entries region's conditional
GET, and the CSV and PDF exports."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, TimelineEntry

from ..conftest import role_named
from ..factories import person

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]

K = TimelineEntry.Kind
HOUR = datetime.timedelta(hours=1)


def subjects(queryset) -> set[str]:
    return set(queryset.values_list("subject", flat=True))


def visible(user, w) -> set[str]:
    return subjects(TimelineEntry.objects.restrict(user, "view").filter(task_force=w.tf))


# --- written by the services ------------------------------------------------------------------


def test_every_kind_of_change_is_on_the_timeline(world):
    w = world
    services.update_task(task=w.tasks[Marking.GREEN], by=w.lead_liaison, status="in_progress")
    services.transition_task_force(task_force=w.tf, to_status="active", by=w.lead_liaison)
    period = services.create_period(
        task_force=w.tf, starts_at=timezone.now(), ends_at=timezone.now() + HOUR, by=w.lead_liaison
    )
    services.end_assignment(assignment=w.lead_staff_assignment, by=w.lead_liaison, reason="Shift")
    critical = services.post_update(
        task_force=w.tf,
        title="Evacuate",
        body="Now.",
        requires_acknowledgement=True,
        by=w.lead_liaison,
    )
    services.acknowledge_update(update=critical, by=w.partner_staff)
    entries = TimelineEntry.objects.filter(task_force=w.tf)
    kinds = set(entries.values_list("kind", flat=True))
    assert {
        K.TASK_FORCE,
        K.PARTICIPATION,
        K.ASSIGNMENT,
        K.PERIOD,
        K.OBJECTIVE,
        K.TASK,
        K.UPDATE,
        K.ACKNOWLEDGEMENT,
    } <= kinds
    status = entries.get(action="taskforce.status_changed")
    assert status.text == "Changed status from forming to active"
    assert status.actor == w.lead_liaison and status.marked is False
    task = entries.get(action="task.updated")
    assert task.text == "Changed status from to do to in progress"
    assert (task.marking, task.marked) == (Marking.GREEN, True)
    ended = entries.get(action="assignment.ended", object_id=w.lead_staff_assignment.pk)
    assert ended.text == "Shift" and ended.kind == K.ASSIGNMENT
    assert entries.filter(action="period.created", object_id=period.pk).exists()
    ack = entries.get(action="update.acknowledged")
    assert (ack.actor, ack.subject, ack.marking) == (w.partner_staff, "Evacuate", critical.marking)


def test_a_rolled_back_change_leaves_no_entry(world):
    w = world
    before = TimelineEntry.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_update(task_force=w.tf, title="Rolled back", body="…", by=w.lead_liaison)
        assert TimelineEntry.objects.filter(subject="Rolled back").exists()  # same transaction
        raise RuntimeError("the request failed after the service")
    assert TimelineEntry.objects.count() == before
    # a service that refuses writes nothing either
    with pytest.raises(ValidationError):
        services.post_update(
            task_force=w.tf, title="Too red", body="…", marking=Marking.RED, by=w.partner_staff
        )
    assert TimelineEntry.objects.count() == before


def test_entries_are_seen_by_the_access_rule_of_what_they_are_about(world):
    w = world
    everything = visible(w.lead_liaison, w)
    partner = visible(w.partner_staff, w)
    for marking in (Marking.GREEN, Marking.AMBER):
        assert f"Objective {marking.label}" in partner
    for marking in (Marking.AMBER_STRICT, Marking.RED):
        assert f"Objective {marking.label}" in everything
        assert f"Objective {marking.label}" not in partner
        assert f"Task {marking.label}" not in partner
    assert "Update TLP:RED" not in partner and "Update TLP:RED" in everything
    # the task force's own business: whoever sees the task force sees it
    assert str(w.partner_staff_assignment) in partner
    assert visible(w.outsider, w) == set()
    # the same answer as the objects themselves, for every entry about a marked item
    for entry in TimelineEntry.objects.filter(task_force=w.tf, object_type="taskforces.objective"):
        objective = Objective.objects.get(pk=entry.object_id)
        for someone in (w.lead_liaison, w.partner_staff, w.lead_staff, w.outsider):
            assert can(someone, "view", entry) == can(someone, "view", objective)


def test_a_re_marked_objective_takes_its_history_with_it(world):
    w = world
    objective = w.objectives[Marking.GREEN]
    assert "Task TLP:GREEN" in visible(w.partner_staff, w)
    services.update_objective(objective=objective, by=w.lead_liaison, marking=Marking.RED)
    seen = visible(w.partner_staff, w)
    assert "Objective TLP:GREEN" not in seen and "Task TLP:GREEN" not in seen
    assert set(
        TimelineEntry.objects.filter(
            object_type="taskforces.task", object_id=w.tasks[Marking.GREEN].pk
        ).values_list("marking", flat=True)
    ) == {Marking.RED}


# --- log entries and significance -------------------------------------------------------------


def test_log_entries_are_written_by_those_who_may_post_with_their_own_marking(world):
    w = world
    at = timezone.now() - HOUR
    entry = services.write_log_entry(
        task_force=w.tf,
        text="Levee breached at Tewkesbury.",
        occurred_at=at,
        marking=Marking.RED,
        kind=K.DECISION,
        by=w.lead_liaison,
    )
    assert (entry.occurred_at, entry.kind, entry.marked) == (at, K.DECISION, True)
    assert can(w.lead_liaison, "view", entry) and not can(w.partner_staff, "view", entry)
    assert AuditEvent.objects.filter(action="decision.written", object_id=str(entry.pk)).exists()
    services.write_log_entry(task_force=w.tf, text="Sandbags arrived.", by=w.partner_staff)

    observer = person(w.lead)
    services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    for refused in (observer, w.outsider):
        with pytest.raises(PermissionDenied):
            services.write_log_entry(task_force=w.tf, text="No.", by=refused)
    for bad, field in (
        ({"text": "   "}, "text"),
        ({"text": "x", "occurred_at": timezone.now() + HOUR}, "occurred_at"),
        ({"text": "x", "marking": Marking.RED}, "marking"),  # beyond RHS's agreement
        ({"text": "x", "kind": "update"}, "kind"),
        ({"text": "x" * 10_001}, "text"),
    ):
        with pytest.raises(ValidationError) as error:
            services.write_log_entry(task_force=w.tf, by=w.partner_staff, **bad)
        assert field in error.value.message_dict
    assert TimelineEntry.objects.filter(text="x").count() == 0


def test_marking_significant_from_both_sides(world, client):
    w = world
    entry = TimelineEntry.objects.get(
        task_force=w.tf, action="update.posted", subject="Update TLP:AMBER"
    )
    observer = person(w.lead)
    services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    with pytest.raises(PermissionDenied):
        services.mark_significant(entry=entry, significant=True, by=observer)
    red = TimelineEntry.objects.get(
        task_force=w.tf, subject="Update TLP:RED", action="update.posted"
    )
    client.force_login(w.partner_staff)
    url = reverse("taskforces:timeline-significant", args=[red.pk])
    assert client.post(url, {"significant": "true"}).status_code == 404  # not seen: not found
    url = reverse("taskforces:timeline-significant", args=[entry.pk])
    assert client.post(url, {"significant": "maybe"}).status_code == 400
    assert client.post(url, {"significant": "true"}).status_code == 302
    entry.refresh_from_db()
    assert entry.significant and entry.significant_by == w.partner_staff
    assert AuditEvent.objects.filter(
        action="timeline.significant", object_id=str(entry.pk)
    ).exists()
    red.refresh_from_db()
    assert not red.significant


# --- the page, its region, its exports -----------------------------------------------------


def page(client, w, **params):
    return client.get(reverse("taskforces:timeline", args=[w.tf.pk]), params)


def test_the_page_filters_and_refuses_bad_filters(world, client):
    w = world
    services.write_log_entry(
        task_force=w.tf, text="Pumps moved to Upton.", significant=True, by=w.lead_liaison
    )
    client.force_login(w.lead_liaison)
    body = page(client, w).content.decode()
    assert "Pumps moved to Upton." in body and "Objective TLP:RED" in body
    body = page(client, w, significant="true").content.decode()
    assert "Pumps moved to Upton." in body and "Objective TLP:RED" not in body
    body = page(client, w, kind="objective").content.decode()
    assert "Objective TLP:RED" in body and "Pumps moved" not in body
    body = page(client, w, q="pumps").content.decode()
    assert "Pumps moved to Upton." in body and "Objective TLP:GREEN" not in body
    today = timezone.localdate()
    assert (
        "Pumps"
        in page(client, w, since=today.isoformat(), until=today.isoformat()).content.decode()
    )
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert "Pumps" not in page(client, w, since=tomorrow).content.decode()
    services.create_period(
        task_force=w.tf,
        starts_at=timezone.now() + HOUR,
        ends_at=timezone.now() + 2 * HOUR,
        by=w.lead_liaison,
    )
    assert "No entries you can see match" in page(client, w, period=1).content.decode()
    for bad in (
        {"kind": "gossip"},
        {"period": "7"},
        {"period": "-1"},
        {"since": "yesterday"},
        {"since": tomorrow, "until": today.isoformat()},
        {"significant": "yes"},
        {"q": "x" * 101},
        {"colour": "red"},
        {"page": "0"},
    ):
        assert page(client, w, **bad).status_code == 400, bad
    client.force_login(w.partner_staff)
    body = page(client, w).content.decode()
    assert "Objective TLP:GREEN" in body and "Objective TLP:RED" not in body
    client.force_login(w.outsider)
    assert page(client, w).status_code == 404


def test_the_page_costs_the_same_queries_however_long_the_timeline(
    world, client, django_assert_max_num_queries
):
    w = world
    client.force_login(w.partner_staff)
    with django_assert_max_num_queries(30) as captured:
        assert page(client, w).status_code == 200
    small = len(captured.captured_queries)
    for n in range(60):
        services.write_log_entry(task_force=w.tf, text=f"Entry {n}", by=w.lead_staff)
    with django_assert_max_num_queries(small):
        assert page(client, w).status_code == 200
    url = reverse("taskforces:timeline-entries", args=[w.tf.pk])
    with django_assert_max_num_queries(small):
        assert client.get(url, {"page": 2}).status_code == 200


def test_the_entries_region_answers_304_until_something_changes(world, client):
    w = world
    client.force_login(w.partner_staff)
    url = reverse("taskforces:timeline-entries", args=[w.tf.pk])
    first = client.get(url)
    assert first.status_code == 200 and first["ETag"]
    assert 'id="e' in first.content.decode() and "<html" not in first.content.decode()
    again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    # another filter is another answer
    assert client.get(url, {"kind": "log"}, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
    services.write_log_entry(task_force=w.tf, text="Something new", by=w.lead_staff)
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and "Something new" in changed.content.decode()
    # marking an entry significant changes the region too
    entry = TimelineEntry.objects.get(text="Something new")
    now = client.get(url)
    services.mark_significant(entry=entry, significant=True, by=w.lead_staff)
    assert client.get(url, HTTP_IF_NONE_MATCH=now["ETag"]).status_code == 200
    # an ETag never opens a task force one cannot see
    client.force_login(w.outsider)
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 404


def test_csv_and_pdf_exports_hold_what_the_person_may_see(world, client):
    w = world
    services.write_log_entry(task_force=w.tf, text="Dam inspected.", by=w.lead_liaison)
    client.force_login(w.partner_staff)
    response = client.get(reverse("taskforces:timeline-csv", args=[w.tf.pk]), {"kind": "objective"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "ID" and rows[0][-1] == "Marking"
    about = {row[5] for row in rows[1:]}
    assert {"Objective TLP:GREEN", "Objective TLP:AMBER"} == about
    assert not any("TLP:RED" in cell for row in rows for cell in row)
    event = AuditEvent.objects.filter(action="export.csv").latest("id")
    assert event.after["kind"] == "timeline" and event.after["filters"] == {"kind": "objective"}

    response = client.get(reverse("taskforces:timeline-pdf", args=[w.tf.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Dam inspected." in text and "Objective TLP:GREEN" in text
    assert "Objective TLP:RED" not in text and "TLP:AMBER" in text
    assert AuditEvent.objects.filter(action="export.pdf", after__kind="timeline").exists()
    assert (
        client.get(reverse("taskforces:timeline-csv", args=[w.tf.pk]), {"kind": "x"}).status_code
        == 400
    )
    client.force_login(w.outsider)
    assert client.get(reverse("taskforces:timeline-pdf", args=[w.tf.pk])).status_code == 404


def test_adding_a_log_entry_on_the_page(world, client):
    w = world
    client.force_login(w.lead_staff)
    url = reverse("taskforces:timeline-log", args=[w.tf.pk])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"kind": "log", "text": "", "marking": Marking.AMBER})
    assert bad.status_code == 200 and "This field is required" in bad.content.decode()
    future = (timezone.localtime() + 2 * HOUR).strftime("%Y-%m-%dT%H:%M")
    bad = client.post(
        url, {"kind": "log", "text": "x", "marking": Marking.AMBER, "occurred_at": future}
    )
    assert "not a time in the future" in bad.content.decode()
    ok = client.post(url, {"kind": "log", "text": "Gauge at 5.2 m", "marking": Marking.GREEN})
    assert ok.status_code == 302
    assert TimelineEntry.objects.get(text="Gauge at 5.2 m").marking == Marking.GREEN
    observer = person(w.lead)
    services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    client.force_login(observer)
    assert client.get(url).status_code == 403
    assert "Add a log entry" not in page(client, w).content.decode()
