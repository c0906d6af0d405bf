"""CSV exports of the objectives board, the tasks page and the organisation's holders.

Each export is checked against its page: the same rows for the same filters, the same
400 for a bad filter, and only what the person may see (every test has someone who must
not see some rows). Each export is one ``export.csv`` audit event; a refused one is none.
"""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coordination.models import AuditEvent
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.exports import ASSIGNMENT_HEADER, OBJECTIVE_HEADER, TASK_HEADER
from taskforces.models import Objective, Role, Task

from ..factories import person

GREEN, AMBER, AMBER_STRICT, RED = (
    Marking.GREEN,
    Marking.AMBER,
    Marking.AMBER_STRICT,
    Marking.RED,
)
ALL = (GREEN, AMBER, AMBER_STRICT, RED)

pytestmark = pytest.mark.usefixtures("module_world")


def url(name: str, world) -> str:
    return reverse(f"taskforces:{name}", args=[world.tf.pk])


def read(response) -> tuple[list[str], list[list[str]]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    header, *body = list(csv.reader(io.StringIO(response.content.decode())))
    return header, body


def exports():
    return AuditEvent.objects.filter(action="export.csv")


def moment(value: datetime.datetime | None) -> str:
    """The portal's one way to show a time, in the reader's zone (issue 17): the people in
    these tests chose none and their agencies keep the portal's, UTC."""
    if value is None:
        return ""
    local = value.astimezone(datetime.UTC)
    return f"{local.day} {local:%B %Y, %H:%M} UTC"


def page_ids(client, name: str, world, params: dict) -> list[int]:
    """Every object the page lists for these filters, over all its pages, in its order."""
    response = client.get(url(name, world), params)
    assert response.status_code == 200
    return [obj.pk for obj in response.context["page_obj"].paginator.object_list]


def csv_ids(client, name: str, world, params: dict) -> list[int]:
    _, body = read(client.get(url(name, world), params))
    return [int(row[0]) for row in body]


def grow(world, n: int = 15) -> None:
    """More objectives, tasks and role holders, so an N+1 would show."""
    analyst = Role.objects.get(task_force=world.tf, template__slug="intelligence-analyst")
    today = timezone.now().date()
    for i in range(n):
        objective = services.create_objective(
            task_force=world.tf,
            title=f"Extra objective {i}",
            owner_agency=world.lead,
            contributing_agencies=[world.partner],
            marking=GREEN,
            target_date=today + datetime.timedelta(days=i),
            by=world.lead_liaison,
        )
        services.create_task(
            objective=objective,
            title=f"Extra task {i}",
            assignee=world.partner_staff,
            due_date=today + datetime.timedelta(days=i),
            by=world.lead_liaison,
        )
        services.create_task(
            objective=objective,
            title=f"Extra role task {i}",
            assigned_role=world.member_role,
            by=world.lead_liaison,
        )
        services.assign_role(
            role=analyst, person=person(world.lead), assigned_by=world.lead_liaison
        )


# --- objectives --------------------------------------------------------------------------------


def objective_row(objective: Objective) -> list[str]:
    objective.refresh_from_db()
    return [
        str(objective.pk),
        objective.title,
        objective.get_marking_display(),
        "Not started",
        "Medium",
        "National Flood Agency",
        "Regional Health Service",
        "",
        "",
        "0",
        "0",
        "1",
        moment(objective.updated_at),
    ]


def test_objectives_csv_has_exactly_what_each_person_may_see(client, world):
    client.force_login(world.lead_liaison)  # the Commander: every marking
    header, body = read(client.get(url("objectives-csv", world)))
    assert header == list(OBJECTIVE_HEADER)
    assert body == [objective_row(world.objectives[m]) for m in ALL]

    client.force_login(world.partner_staff)  # the partner's agreement stops at TLP:AMBER
    _, body = read(client.get(url("objectives-csv", world)))
    assert body == [objective_row(world.objectives[m]) for m in (GREEN, AMBER)]

    client.force_login(world.lead_staff)  # a Member: no TLP:RED
    assert csv_ids(client, "objectives-csv", world, {}) == [
        world.objectives[m].pk for m in (GREEN, AMBER, AMBER_STRICT)
    ]


@pytest.fixture
def varied_objectives(world):
    by = world.lead_liaison
    services.update_objective(objective=world.objectives[AMBER], by=by, status="at_risk")
    services.update_objective(objective=world.objectives[RED], by=by, status="at_risk")
    services.update_objective(
        objective=world.objectives[GREEN],
        by=by,
        priority=Objective.Priority.CRITICAL,
        target_date=datetime.date(2026, 12, 1),
    )
    services.create_objective(
        task_force=world.tf,
        title="Partner-owned amber work",
        owner_agency=world.partner,
        marking=AMBER,
        by=by,
    )


@pytest.mark.parametrize("persona", ["lead_liaison", "partner_staff"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "at_risk"},
        {"status": ""},
        {"q": "amber"},
        {"priority": "4"},
        {"owner_agency": "partner"},
        {"q": "objective", "status": "not_started", "priority": "2"},
        {"page": "1"},
    ],
)
def test_objectives_csv_filters_like_the_board(client, world, varied_objectives, persona, params):
    if params.get("owner_agency") == "partner":
        params = {"owner_agency": str(world.partner.pk)}
    client.force_login(getattr(world, persona))
    assert csv_ids(client, "objectives-csv", world, params) == page_ids(
        client, "objectives", world, params
    )


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"priority": "9"},
        {"priority": "high"},
        {"owner_agency": "999999"},
        {"owner_agency": "abc"},
        {"q": "x" * 101},
    ],
)
def test_a_bad_filter_is_a_400_on_both_and_exports_nothing(client, world, params):
    client.force_login(world.lead_liaison)
    assert client.get(url("objectives", world), params).status_code == 400
    assert client.get(url("objectives-csv", world), params).status_code == 400
    assert not exports().exists()


def test_the_export_is_audited_with_its_filters_and_row_count(client, world):
    client.force_login(world.partner_staff)
    read(client.get(url("objectives-csv", world), {"q": "Objective", "status": "not_started"}))
    event = exports().get()
    assert event.actor == world.partner_staff
    assert (event.object_type, event.object_id) == ("taskforces.taskforce", str(world.tf.pk))
    assert event.after == {
        "kind": "objectives",
        "rows": 2,
        "filters": {"q": "Objective", "status": "not_started"},
    }


def test_people_outside_the_task_force_get_nothing(client, world):
    for name in ("objectives-csv", "tasks-csv", "assignments-csv"):
        client.force_login(world.outsider)
        assert client.get(url(name, world)).status_code == 404
        client.force_login(world.lead_admin)  # the lead's administrator holds no role in it
        assert client.get(url(name, world)).status_code == 404
    client.logout()
    response = client.get(url("objectives-csv", world))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    assert not exports().exists()


def test_formulas_come_out_as_text(client, world):
    by = world.lead_liaison
    formula = services.create_objective(
        task_force=world.tf, title="=cmd()", owner_agency=world.lead, marking=GREEN, by=by
    )
    services.create_task(objective=formula, title="@SUM(A1:A9)", by=by)
    services.create_task(objective=formula, title="-2+3", by=by)
    client.force_login(world.partner_staff)
    _, body = read(client.get(url("objectives-csv", world)))
    assert [row[1] for row in body if row[0] == str(formula.pk)] == ["'=cmd()"]
    _, body = read(client.get(url("tasks-csv", world), {"objective": formula.pk}))
    assert sorted(row[1] for row in body) == ["'-2+3", "'@SUM(A1:A9)"]
    assert {row[5] for row in body} == {"'=cmd()"}


# --- tasks ---------------------------------------------------------------------------------------


def task_row(task: Task) -> list[str]:
    task.refresh_from_db()
    return [
        str(task.pk),
        task.title,
        task.objective.get_marking_display(),
        "To do",
        str(task.objective_id),
        task.objective.title,
        "",
        "",
        "",
        "",
        moment(task.updated_at),
    ]


def test_tasks_csv_has_exactly_what_each_person_may_see(client, world):
    client.force_login(world.lead_liaison)
    header, body = read(client.get(url("tasks-csv", world)))
    assert header == list(TASK_HEADER)
    assert body == [task_row(world.tasks[m]) for m in ALL]

    client.force_login(world.partner_staff)
    _, body = read(client.get(url("tasks-csv", world)))
    assert body == [task_row(world.tasks[m]) for m in (GREEN, AMBER)]


def test_tasks_csv_names_assignees_roles_and_dates(client, world):
    by = world.lead_liaison
    services.update_task(
        task=world.tasks[GREEN],
        by=by,
        assignee=world.partner_staff,
        due_date=datetime.date(2026, 12, 24),
        status="in_progress",
    )
    services.update_task(task=world.tasks[AMBER], by=by, assigned_role=world.member_role)
    client.force_login(world.partner_staff)
    _, body = read(client.get(url("tasks-csv", world)))
    by_id = {row[0]: row for row in body}
    green = by_id[str(world.tasks[GREEN].pk)]
    assert green[3] == "In progress"
    assert green[6] == str(world.partner_staff)
    assert green[8] == "24 December 2026"
    assert by_id[str(world.tasks[AMBER].pk)][7] == "Member"


@pytest.fixture
def varied_tasks(world):
    by = world.lead_liaison
    services.update_task(
        task=world.tasks[GREEN], by=by, status="blocked", due_date=datetime.date(2026, 12, 1)
    )
    services.update_task(task=world.tasks[AMBER], by=by, due_date=datetime.date(2027, 1, 15))
    services.create_task(
        objective=world.objectives[AMBER],
        title="Second amber task",
        due_date=datetime.date(2026, 12, 20),
        by=by,
    )


@pytest.mark.parametrize("persona", ["lead_liaison", "partner_staff"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "blocked"},
        {"status": "todo"},
        {"q": "amber"},
        {"objective": "amber"},
        {"due_before": "2026-12-31"},
        {"due_before": "2026-12-31", "status": "todo", "q": "task"},
    ],
)
def test_tasks_csv_filters_like_the_page(client, world, varied_tasks, persona, params):
    if params.get("objective") == "amber":
        params = {"objective": str(world.objectives[AMBER].pk)}
    client.force_login(getattr(world, persona))
    assert csv_ids(client, "tasks-csv", world, params) == page_ids(client, "tasks", world, params)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"objective": "red"},  # exists, but this person may not see it
        {"objective": "999999"},
        {"objective": "abc"},
        {"due_before": "2026-13-45"},
        {"q": "x" * 101},
    ],
)
def test_a_bad_task_filter_is_a_400_on_both_and_exports_nothing(client, world, params):
    if params.get("objective") == "red":
        params = {"objective": str(world.objectives[RED].pk)}
    client.force_login(world.partner_staff)
    assert client.get(url("tasks", world), params).status_code == 400
    assert client.get(url("tasks-csv", world), params).status_code == 400
    assert not exports().exists()


def test_who_may_see_the_red_objective_may_filter_by_it(client, world):
    client.force_login(world.lead_liaison)
    params = {"objective": str(world.objectives[RED].pk)}
    assert csv_ids(client, "tasks-csv", world, params) == [world.tasks[RED].pk]
    event = exports().get()
    assert event.after["kind"] == "tasks" and event.after["rows"] == 1


def test_the_tasks_page_lists_only_visible_tasks(client, world):
    client.force_login(world.partner_staff)
    response = client.get(url("tasks", world), {"status": "todo"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Task TLP:AMBER</a>" in page
    assert "Task TLP:AMBER+STRICT" not in page and "Task TLP:RED" not in page
    # the export link carries the filters; the nav has a Tasks tab
    assert url("tasks-csv", world) + "?status=todo" in page
    assert f'href="{url("tasks", world)}" aria-current="page"' in page


def test_the_objectives_board_links_its_export_with_its_filters(client, world):
    client.force_login(world.partner_staff)
    page = client.get(url("objectives", world), {"status": "at_risk", "page": "1"})
    assert url("objectives-csv", world) + "?status=at_risk" in page.content.decode()


# --- role assignments --------------------------------------------------------------------------


def test_assignments_csv_lists_the_organisation_pages_holders(client, world):
    client.force_login(world.partner_staff)
    page = client.get(url("organisation", world))
    assert url("assignments-csv", world) in page.content.decode()
    on_page = [a.pk for role in page.context["roles"] for a in role.holders]
    header, body = read(client.get(url("assignments-csv", world), {"ignored": "x"}))
    assert header == list(ASSIGNMENT_HEADER)
    assert [int(row[0]) for row in body] == on_page
    mine = world.lead_staff_assignment
    assert [
        str(mine.pk),
        str(world.member_role.pk),
        "Member",
        str(world.lead_staff),
        "National Flood Agency",
        moment(mine.starts_at),
        "",
        str(world.lead_liaison),
    ] in body
    assert exports().get().after["rows"] == len(on_page)


def test_ended_assignments_leave_the_export_and_their_holder_sees_none(client, world):
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated out"
    )
    client.force_login(world.lead_liaison)
    _, body = read(client.get(url("assignments-csv", world)))
    ids = {int(row[0]) for row in body}
    assert world.lead_staff_assignment.pk in ids
    assert world.partner_staff_assignment.pk not in ids

    client.force_login(world.partner_staff)  # their only role ended: no sight of it now
    assert client.get(url("assignments-csv", world)).status_code == 404
    assert client.get(url("objectives-csv", world)).status_code == 404
    assert exports().count() == 1


# --- cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("objectives-csv", {}),
        ("objectives-csv", {"status": "not_started"}),
        ("tasks-csv", {}),
        ("tasks-csv", {"status": "todo"}),
        ("assignments-csv", {}),
        ("tasks", {}),
    ],
)
def test_exports_cost_a_fixed_number_of_queries(
    client, world, django_assert_max_num_queries, name, params
):
    client.force_login(world.partner_staff)
    with CaptureQueriesContext(connection) as small:
        client.get(url(name, world), params)
    assert len(small) <= 25
    grow(world)
    with django_assert_max_num_queries(len(small)):
        response = client.get(url(name, world), params)
    assert response.status_code == 200
    if name.endswith("-csv"):
        assert len(read(response)[1]) >= 15  # the growth is in the file


@pytest.mark.parametrize("name", ["objectives-csv", "tasks-csv", "assignments-csv"])
def test_only_get_exports(client, world, name):
    client.force_login(world.lead_liaison)
    assert client.post(url(name, world)).status_code == 405
    assert client.head(url(name, world)).status_code == 405
    assert not exports().exists()
