"""What each ICS report holds, from both sides: the commander sees everything; RHS staff
(agreement up to TLP:AMBER) must not see the AMBER+STRICT and RED items; NFA staff without
the view-restricted capability must not see the RED ones; nothing of another task force
ever shows. The marking printed is the highest marking among the rows included."""

from __future__ import annotations

import pytest
from django.utils import timezone

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import RoleAssignment
from taskforces.reports.builders import build_ics202, build_ics214
from taskforces.reports.data import moment

from ..conftest import role_named
from ..factories import person
from .helpers import banners, csv_rows, report

GREEN, AMBER, AMBER_STRICT, RED = Marking.GREEN, Marking.AMBER, Marking.AMBER_STRICT, Marking.RED


# --- ICS 202 ----------------------------------------------------------------------------------


def test_ics202_lists_the_period_objectives_the_viewer_may_see(client, rw):
    header = [
        "Objective",
        "Priority",
        "Owner agency",
        "Contributing",
        "Status",
        "Progress",
        "Target date",
        "Marking",
    ]
    client.force_login(rw.partner_staff)
    assert csv_rows(report(client, rw, "ics-202", format="csv")) == [
        header,
        [
            "Objective TLP:GREEN",
            "Medium",
            "National Flood Agency",
            "RHS",
            "Not started",
            "0%",
            "",
            "TLP:GREEN",
        ],
        [
            "Objective TLP:AMBER",
            "Medium",
            "National Flood Agency",
            "RHS",
            "Not started",
            "0%",
            "",
            "TLP:AMBER",
        ],
    ]

    client.force_login(rw.lead_liaison)
    rows = csv_rows(report(client, rw, "ics-202", format="csv"))
    assert [row[0] for row in rows[1:]] == [
        "Objective TLP:GREEN",
        "Objective TLP:AMBER",
        "Objective TLP:AMBER+STRICT",
        "Objective TLP:RED",
    ]
    assert [row[-1] for row in rows[1:]] == [m.label for m in (GREEN, AMBER, AMBER_STRICT, RED)]


def test_ics202_page_prints_notes_and_the_highest_marking_included(client, rw):
    client.force_login(rw.partner_staff)
    page = report(client, rw, "ics-202").content.decode()
    assert "ICS 202 — Incident objectives" in page
    assert "Hold the levee at Tewkesbury." in page
    assert "Objective TLP:AMBER" in page
    for hidden in (
        "TLP:AMBER+STRICT",
        "TLP:RED",
        "Objective without a period",
        "Other task force objective",
    ):
        assert hidden not in page
    assert banners(page) == ["TLP:AMBER", "TLP:AMBER"]  # top and bottom

    client.force_login(rw.lead_liaison)
    page = report(client, rw, "ics-202").content.decode()
    assert "Objective TLP:RED" in page
    assert banners(page) == ["TLP:RED", "TLP:RED"]


def test_an_excluded_red_item_lowers_the_marking(rw):
    # NFA staff: their agency leads (so AMBER+STRICT is covered) but the Member role does
    # not include viewing restricted items, so the RED objective is left out
    built = build_ics202(viewer=rw.lead_staff, task_force=rw.tf, period=rw.period)
    titles = [row.cells[0] for section in built.sections for row in section.rows]
    assert "Objective TLP:RED" not in titles
    assert "Objective TLP:AMBER+STRICT" in titles
    assert built.marking == AMBER_STRICT
    assert build_ics202(viewer=rw.lead_liaison, task_force=rw.tf, period=rw.period).marking == RED
    assert (
        build_ics202(viewer=rw.partner_staff, task_force=rw.tf, period=rw.period).marking == AMBER
    )


def test_an_empty_report_is_clear(client, rw):
    client.force_login(rw.lead_liaison)
    page = report(client, rw, "ics-202", period=rw.next_period.number).content.decode()
    assert "No objectives you can see are tied to this period." in page
    assert banners(page) == ["TLP:CLEAR", "TLP:CLEAR"]


def test_ics202_of_another_task_force_is_not_found(client, rw):
    client.force_login(rw.partner_staff)
    response = client.get(f"/task-forces/{rw.other_tf.pk}/reports/ics-202/", {"period": 1})
    assert response.status_code == 404
    client.force_login(rw.outsider)
    assert report(client, rw, "ics-202").status_code == 404


# --- ICS 203 ----------------------------------------------------------------------------------


def _holder_rows(rw, period):
    assignments = {
        (a.role.name, a.person_id): a
        for a in RoleAssignment.objects.filter(role__task_force=rw.tf).select_related("role")
    }

    def row(role, who, agency):
        a = assignments[(role, who.pk)]
        ends = [t for t in (a.ended_at, a.ends_at) if t]
        return [role, str(who), agency, moment(a.starts_at), moment(min(ends) if ends else None)]

    rows = [
        row("Commander", rw.lead_liaison, "National Flood Agency"),
        ["Deputy commander", "Vacant", "", "", ""],
        row("Liaison officer", rw.lead_liaison, "National Flood Agency"),
        row("Liaison officer", rw.partner_liaison, "Regional Health Service"),
        ["Operations section lead", "Vacant", "", "", ""],
        ["Planning section lead", "Vacant", "", "", ""],
        ["Intelligence analyst", "Vacant", "", "", ""],
        ["Public information officer", "Vacant", "", "", ""],
        row("Member", rw.lead_staff, "National Flood Agency"),
        row("Member", rw.partner_staff, "Regional Health Service"),
    ]
    if period == "first":
        rows.append(row("Observer", rw.observer, "National Flood Agency"))
    else:
        rows.append(["Observer", "Vacant", "", "", ""])
    return [[*r, "TLP:AMBER"] for r in rows]


@pytest.mark.parametrize("viewer", ["lead_liaison", "partner_staff"])
def test_ics203_lists_roles_with_holders_during_the_period(client, rw, viewer):
    client.force_login(getattr(rw, viewer))
    header = ["Role", "Holder", "Agency", "From", "Until", "Marking"]
    first = csv_rows(report(client, rw, "ics-203", format="csv"))
    assert first == [header, *_holder_rows(rw, "first")]
    # the observer's role expires before period 2 starts
    second = csv_rows(report(client, rw, "ics-203", format="csv", period=2))
    assert second == [header, *_holder_rows(rw, "second")]
    # roles carry no marking of their own: the task force's
    page = report(client, rw, "ics-203").content.decode()
    assert banners(page) == ["TLP:AMBER", "TLP:AMBER"]
    assert "Hidden operation" not in page


def test_ics203_leaves_out_holders_whose_role_ended_before_the_period(client, rw):
    services.end_assignment(
        assignment=rw.partner_staff_assignment, by=rw.partner_liaison, reason="Rotated out"
    )
    client.force_login(rw.lead_liaison)
    first = csv_rows(report(client, rw, "ics-203", format="csv"))
    second = csv_rows(report(client, rw, "ics-203", format="csv", period=2))
    assert str(rw.partner_staff) in {row[1] for row in first}  # held it during period 1
    assert str(rw.partner_staff) not in {row[1] for row in second}


# --- ICS 204 ----------------------------------------------------------------------------------


def test_ics204_by_role_from_both_sides(client, rw):
    header = ["Role", "Task", "Objective", "Assigned to", "Due date", "Status", "Marking"]
    green = ["Task TLP:GREEN", "Objective TLP:GREEN", str(rw.partner_staff), "", "In progress"]
    amber = ["Task TLP:AMBER", "Objective TLP:AMBER", "Holders of Member", "", "To do"]
    client.force_login(rw.partner_staff)
    assert csv_rows(report(client, rw, "ics-204", format="csv", group="role")) == [
        header,
        ["Member", *green, "TLP:GREEN"],
        ["Member", *amber, "TLP:AMBER"],
    ]
    client.force_login(rw.lead_liaison)
    assert csv_rows(report(client, rw, "ics-204", format="csv")) == [
        header,
        [
            "Commander",
            "Task TLP:RED",
            "Objective TLP:RED",
            "Holders of Commander",
            "",
            "To do",
            "TLP:RED",
        ],
        ["Member", *green, "TLP:GREEN"],
        ["Member", *amber, "TLP:AMBER"],
        [
            "Not assigned",
            "Task TLP:AMBER+STRICT",
            "Objective TLP:AMBER+STRICT",
            "Not assigned",
            "",
            "To do",
            "TLP:AMBER+STRICT",
        ],
    ]


def test_ics204_by_agency_from_both_sides(client, rw):
    header = ["Agency", "Task", "Objective", "Assigned to", "Due date", "Status", "Marking"]
    green = ["Task TLP:GREEN", "Objective TLP:GREEN", str(rw.partner_staff), "", "In progress"]
    amber = ["Task TLP:AMBER", "Objective TLP:AMBER", "Holders of Member", "", "To do"]
    red = ["Task TLP:RED", "Objective TLP:RED", "Holders of Commander", "", "To do"]
    client.force_login(rw.partner_staff)
    # a role's task goes to every agency whose people held the role in the period
    assert csv_rows(report(client, rw, "ics-204", format="csv", group="agency")) == [
        header,
        ["National Flood Agency", *amber, "TLP:AMBER"],
        ["Regional Health Service", *green, "TLP:GREEN"],
        ["Regional Health Service", *amber, "TLP:AMBER"],
    ]
    client.force_login(rw.lead_liaison)
    rows = csv_rows(report(client, rw, "ics-204", format="csv", group="agency"))
    assert rows[1:3] == [
        ["National Flood Agency", *amber, "TLP:AMBER"],
        ["National Flood Agency", *red, "TLP:RED"],
    ]
    assert rows[-1][0] == "Not assigned"


def test_ics204_for_one_role_or_one_agency(client, rw):
    client.force_login(rw.partner_staff)
    by_role = csv_rows(report(client, rw, "ics-204", format="csv", role=rw.member_role.pk))
    assert {row[0] for row in by_role[1:]} == {"Member"} and len(by_role) == 3
    page = report(client, rw, "ics-204", role=rw.commander_role.pk).content.decode()
    assert "Role: Commander" in page
    assert "No tasks." in page  # the RED task of the Commander is not for RHS eyes
    assert "Task TLP:RED" not in page
    assert banners(page) == ["TLP:CLEAR", "TLP:CLEAR"]

    by_agency = csv_rows(report(client, rw, "ics-204", format="csv", agency=rw.partner.pk))
    assert [row[1] for row in by_agency[1:]] == ["Task TLP:GREEN", "Task TLP:AMBER"]


def test_ics204_takes_tasks_of_the_period(client, rw):
    # a task tied to period 2 under a period-1 objective belongs to period 2
    moved = services.create_task(
        objective=rw.objectives[GREEN],
        title="Night patrol",
        assigned_role=rw.member_role,
        period=rw.next_period,
        by=rw.lead_liaison,
    )
    # a task of the other task force's period 1 never shows
    services.create_task(
        objective=rw.other_objective, title="Elsewhere task", by=rw.partner_liaison
    )
    client.force_login(rw.lead_liaison)
    first = {row[1] for row in csv_rows(report(client, rw, "ics-204", format="csv"))[1:]}
    second = {row[1] for row in csv_rows(report(client, rw, "ics-204", format="csv", period=2))[1:]}
    assert moved.title not in first and "Elsewhere task" not in first
    assert second == {moved.title}


# --- ICS 214 ----------------------------------------------------------------------------------


def _about(response) -> list[str]:
    return [row[3] for row in csv_rows(response)[1:]]


def test_ics214_of_a_person_shows_only_entries_the_viewer_may_see(client, rw):
    client.force_login(rw.lead_liaison)
    full = csv_rows(report(client, rw, "ics-214", format="csv", person=rw.lead_liaison.pk))
    assert full[0] == ["Time", "Person", "Activity", "About", "Details", "Marking"]
    about = [row[3] for row in full[1:]]
    for seen in ("Objective TLP:RED", "Task TLP:RED", "Update TLP:RED", "Objective TLP:GREEN"):
        assert seen in about
    assert full[1][2] == "Formed the task force"
    assert ("Posted update", "Update TLP:AMBER", "Levels rising.") in {
        (row[2], row[3], row[4]) for row in full[1:]
    }
    assert [row[0] for row in full[1:]] == sorted(row[0] for row in full[1:])  # oldest first
    page = report(client, rw, "ics-214", person=rw.lead_liaison.pk).content.decode()
    assert banners(page) == ["TLP:RED", "TLP:RED"]

    client.force_login(rw.partner_staff)
    response = report(client, rw, "ics-214", format="csv", person=rw.lead_liaison.pk)
    partial = csv_rows(response)
    about = [row[3] for row in partial[1:]]
    assert "Objective TLP:GREEN" in about and "Update TLP:AMBER" in about
    for hidden in ("TLP:RED", "TLP:AMBER+STRICT"):
        assert not any(hidden in cell for row in partial for cell in row)

    # exactly the entries of the full log about what RHS may see (built directly: the
    # downloads above are themselves entries of the log)
    def entries(viewer):
        built = build_ics214(
            viewer=viewer, task_force=rw.tf, period=rw.period, person=rw.lead_liaison
        )
        return [row for section in built.sections for row in section.rows]

    everything = entries(rw.lead_liaison)
    assert entries(rw.partner_staff) == [row for row in everything if row.marking <= AMBER]
    assert len(everything) > len(entries(rw.partner_staff))
    page = report(client, rw, "ics-214", person=rw.lead_liaison.pk).content.decode()
    assert banners(page) == ["TLP:AMBER", "TLP:AMBER"]


def test_ics214_leaves_out_other_task_forces(client, rw):
    client.force_login(rw.lead_liaison)
    rows = csv_rows(report(client, rw, "ics-214", format="csv", person=rw.partner_liaison.pk))
    activities = [row[2] for row in rows[1:]]
    assert "Accepted the invitation" in activities
    text = repr(rows)
    assert "Hidden operation" not in text and "Other task force objective" not in text
    assert "Formed the task force" not in activities  # that was the other task force


def test_ics214_of_a_role_counts_actions_only_while_the_role_was_held(client, rw):
    client.force_login(rw.lead_liaison)
    rows = csv_rows(report(client, rw, "ics-214", format="csv", role=rw.member_role.pk))
    assert [row[1:] for row in rows[1:]] == [
        [
            str(rw.partner_staff),
            "Posted situation report",
            "Partner sitrep",
            "Road to the hospital closed.",
            "TLP:AMBER",
        ],
        [
            str(rw.partner_staff),
            "Updated a task",
            "Task TLP:GREEN",
            "Changed status from to do to in progress",
            "TLP:GREEN",
        ],
    ]

    # a member who moves to another role: what they do afterwards is not the Member's
    mover = person(rw.lead)
    member = services.assign_role(role=rw.member_role, person=mover, assigned_by=rw.lead_liaison)
    services.post_update(task_force=rw.tf, title="As member", body="…", by=mover)
    services.end_assignment(assignment=member, by=rw.lead_liaison, reason="Promoted")
    services.assign_role(
        role=role_named(rw.tf, "intelligence-analyst"), person=mover, assigned_by=rw.lead_liaison
    )
    services.post_update(task_force=rw.tf, title="As analyst", body="…", by=mover)
    member_log = _about(report(client, rw, "ics-214", format="csv", role=rw.member_role.pk))
    analyst = role_named(rw.tf, "intelligence-analyst")
    analyst_log = _about(report(client, rw, "ics-214", format="csv", role=analyst.pk))
    person_log = _about(report(client, rw, "ics-214", format="csv", person=mover.pk))
    assert "As member" in member_log and "As analyst" not in member_log
    assert "As analyst" in analyst_log and "As member" not in analyst_log
    assert {"As member", "As analyst"} <= set(person_log)


def test_ics214_entries_outside_the_period_are_left_out(rw):
    built = build_ics214(
        viewer=rw.lead_liaison, task_force=rw.tf, period=rw.next_period, person=rw.lead_liaison
    )
    assert built.row_count == 0
    assert built.marking == Marking.CLEAR
    assert rw.next_period.starts_at > timezone.now()


def test_ics204_names_tasks_nobody_could_do_in_the_period(client, rw):
    deputy = role_named(rw.tf, "deputy-commander")  # nobody holds it
    services.create_task(
        objective=rw.objectives[GREEN],
        title="Brief the deputy",
        assigned_role=deputy,
        period=rw.next_period,
        by=rw.lead_liaison,
    )
    # the observer's role expires before period 2 starts
    services.create_task(
        objective=rw.objectives[GREEN],
        title="Observe the night shift",
        assignee=rw.observer,
        period=rw.next_period,
        by=rw.lead_liaison,
    )
    client.force_login(rw.partner_staff)
    by_role = csv_rows(report(client, rw, "ics-204", format="csv", period=2))
    assert [(row[0], row[1]) for row in by_role[1:]] == [
        ("Deputy commander", "Brief the deputy"),
        ("Assignee held no role in this period", "Observe the night shift"),
    ]
    by_agency = csv_rows(report(client, rw, "ics-204", format="csv", period=2, group="agency"))
    assert [(row[0], row[1]) for row in by_agency[1:]] == [
        ("Role vacant in this period", "Brief the deputy"),
        ("Assignee held no role in this period", "Observe the night shift"),
    ]
