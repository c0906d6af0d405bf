"""The objectives board (issue 17, item 3) and controls that cannot mislead (item 4):
columns by status, cards with marking, owner, progress and due date, status moved in place
through htmx or a plain POST, only the moves the lifecycle allows offered, and the server
refusing the others with a clear message."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.lifecycles import OBJECTIVE, TASK_FORCE
from taskforces.models import Objective, TaskForce

from .test_pages import grow

pytestmark = pytest.mark.usefixtures("module_world")


HTMX = {"HX-Request": "true", "HX-Target": "board"}


def board(world) -> str:
    return reverse("taskforces:objectives", args=[world.tf.pk])


def column(html: str, status: str) -> str:
    """The HTML of one status column."""
    start = html.index(f'id="col-{status}"')
    end = html.find("</section>", start)
    return html[start:end]


def moves_offered(html: str, objective: Objective) -> list[str]:
    start = html.index(f'id="objective-{objective.pk}"')
    card = html[start : html.find("</li>\n", start)]
    return re.findall(r'name="status" value="([a-z_]+)"', card)


def test_the_board_has_a_column_per_status_and_cards_with_what_matters(client, world):
    green = world.objectives[Marking.GREEN]
    services.update_objective(
        objective=green,
        by=world.lead_liaison,
        status=Objective.Status.AT_RISK,
        priority=Objective.Priority.CRITICAL,
        target_date=datetime.date(2027, 3, 1),
    )
    client.force_login(world.lead_liaison)
    html = client.get(board(world)).content.decode()
    for status in Objective.Status.values:
        assert f'id="col-{status}"' in html
    at_risk = column(html, "at_risk")
    assert "Objective TLP:GREEN" in at_risk and "Objective TLP:AMBER" not in at_risk
    assert "TLP:GREEN" in at_risk and "NFA" in at_risk  # marking and owner
    assert "1 March 2027" in at_risk and "<progress" in at_risk  # due date and progress
    assert "govuk-tag--red" in at_risk and "Critical priority" in at_risk
    assert "Objective TLP:AMBER" in column(html, "not_started")


def test_each_card_offers_exactly_the_moves_its_lifecycle_allows(client, world):
    objective = world.objectives[Marking.GREEN]
    client.force_login(world.lead_liaison)
    for status in (
        Objective.Status.ON_TRACK,
        Objective.Status.COMPLETED,
        Objective.Status.ON_TRACK,
        Objective.Status.CANCELLED,
    ):
        services.update_objective(objective=objective, by=world.lead_liaison, status=status)
        html = client.get(board(world)).content.decode()
        assert moves_offered(html, objective) == [m.to for m in OBJECTIVE.moves_from(status)]
    assert OBJECTIVE.moves_from(Objective.Status.CANCELLED)[0].label == "Reopen"


def test_someone_who_may_not_change_objectives_sees_no_moves(client, world):
    client.force_login(world.partner_staff)  # a Member: sees, may not manage objectives
    html = client.get(board(world)).content.decode()
    assert "Objective TLP:GREEN" in html
    assert 'name="status" value=' not in html


def test_htmx_moves_the_card_to_its_new_column_in_place(client, world):
    objective = world.objectives[Marking.GREEN]
    client.force_login(world.lead_liaison)
    response = client.post(
        reverse("taskforces:objective-status", args=[objective.pk]),
        {"status": "at_risk", "board_query": ""},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("{") is False and 'id="board"' in html
    assert "<html" not in html  # the board only, for htmx to swap
    assert f'id="objective-{objective.pk}"' in column(html, "at_risk")
    assert "is now at risk" in html
    objective.refresh_from_db()
    assert objective.status == Objective.Status.AT_RISK


def test_without_javascript_the_move_is_a_post_and_a_redirect_back(client, world):
    objective = world.objectives[Marking.GREEN]
    client.force_login(world.lead_liaison)
    response = client.post(
        reverse("taskforces:objective-status", args=[objective.pk]),
        {"status": "on_track", "board_query": "priority=2"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{board(world)}?priority=2#objective-{objective.pk}"
    objective.refresh_from_db()
    assert objective.status == Objective.Status.ON_TRACK


def test_a_move_the_lifecycle_forbids_is_refused_and_says_why(client, world):
    objective = world.objectives[Marking.GREEN]
    services.update_objective(objective=objective, by=world.lead_liaison, status="completed")
    client.force_login(world.lead_liaison)
    url = reverse("taskforces:objective-status", args=[objective.pk])
    response = client.post(url, {"status": "at_risk"}, headers=HTMX)
    assert response.status_code == 200  # htmx swaps it: the board says why
    assert "cannot become at risk" in response.content.decode()
    assert "govuk-error-summary" in response.content.decode()
    response = client.post(url, {"status": "at_risk"})
    assert response.status_code == 400 and "cannot become at risk" in response.content.decode()
    response = client.post(url, {"status": "someday"})
    assert response.status_code == 400
    objective.refresh_from_db()
    assert objective.status == Objective.Status.COMPLETED


@pytest.mark.parametrize(
    ("who", "expected"), [("partner_staff", 403), ("outsider", 404), ("portal_admin", 404)]
)
def test_people_who_may_not_move_an_objective_cannot(client, world, who, expected):
    objective = world.objectives[Marking.GREEN]
    client.force_login(getattr(world, who))
    response = client.post(
        reverse("taskforces:objective-status", args=[objective.pk]), {"status": "at_risk"}
    )
    assert response.status_code == expected
    objective.refresh_from_db()
    assert objective.status == Objective.Status.NOT_STARTED


def test_a_hidden_objective_cannot_be_moved_by_a_partner_who_manages_objectives(client, world):
    """The partner's liaison officer given objective management still may not touch an
    objective marked above their agency's agreement: not found, unchanged."""
    from ..conftest import role_named

    services.assign_role(
        role=role_named(world.tf, "operations-lead"),
        person=world.partner_liaison,
        assigned_by=world.partner_liaison,
    )
    hidden = world.objectives[Marking.AMBER_STRICT]
    client.force_login(world.partner_liaison)
    response = client.post(
        reverse("taskforces:objective-status", args=[hidden.pk]), {"status": "at_risk"}
    )
    assert response.status_code == 404
    hidden.refresh_from_db()
    assert hidden.status == Objective.Status.NOT_STARTED


def test_the_board_keeps_its_queries_as_objectives_grow(
    client, world, django_assert_max_num_queries
):
    client.force_login(world.lead_liaison)
    client.get(board(world))
    with django_assert_max_num_queries(40) as small:
        client.get(board(world))
    baseline = len(small.captured_queries)  # counted now: each request empties the log
    grow(world)
    with django_assert_max_num_queries(baseline):
        response = client.get(board(world))
    assert response.content.decode().count('class="concord-card') >= 19


def test_a_new_task_force_says_what_to_do_next(client, world):
    fresh = services.form_task_force(name="Heatwave cell", mandate="Cool.", by=world.lead_liaison)
    url = reverse("taskforces:objectives", args=[fresh.pk])
    client.force_login(world.lead_liaison)
    html = client.get(url).content.decode()
    create = reverse("taskforces:objective-create", args=[fresh.pk])
    assert "no objectives yet" in html and create in html
    html = client.get(reverse("taskforces:detail", args=[fresh.pk])).content.decode()
    assert "Add the first objective" in html and create in html


def test_someone_who_may_not_add_objectives_is_told_who_does(client, world):
    for objective in world.objectives.values():
        objective.delete()
    client.force_login(world.partner_staff)
    html = client.get(board(world)).content.decode()
    assert "Add the first objective" not in html
    assert reverse("taskforces:objective-create", args=[world.tf.pk]) not in html
    assert "No objectives you can see yet" in html


# --- the task force's lifecycle: one button per allowed move --------------------------------


def buttons(html: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="status" value="([a-z_]+)">', html)


@pytest.mark.parametrize("status", TaskForce.Status.values)
def test_the_task_forces_status_control_offers_exactly_the_allowed_moves(client, world, status):
    TaskForce.objects.filter(pk=world.tf.pk).update(status=status)
    client.force_login(world.lead_liaison)
    html = client.get(reverse("taskforces:detail", args=[world.tf.pk])).content.decode()
    assert buttons(html) == [move.to for move in TASK_FORCE.moves_from(status)]
    assert "<select" not in html.split('id="mandate"')[0]  # no list of every status


def test_no_status_buttons_for_who_may_not_change_the_task_force(client, world):
    client.force_login(world.partner_staff)
    html = client.get(reverse("taskforces:detail", args=[world.tf.pk])).content.decode()
    assert buttons(html) == []


def test_the_server_still_refuses_a_move_not_offered(client, world):
    client.force_login(world.lead_liaison)
    url = reverse("taskforces:status", args=[world.tf.pk])
    response = client.post(url, {"status": "standing_down"}, follow=True)  # forming → ?
    assert "cannot become standing down" in response.content.decode()
    world.tf.refresh_from_db()
    assert world.tf.status == TaskForce.Status.FORMING
    response = client.post(url, {"status": "active"}, follow=True)
    world.tf.refresh_from_db()
    assert world.tf.status == TaskForce.Status.ACTIVE
    assert buttons(response.content.decode()) == ["standing_down"]


def test_the_edit_form_offers_only_the_current_status_and_allowed_moves(client, world):
    objective = world.objectives[Marking.GREEN]
    services.update_objective(objective=objective, by=world.lead_liaison, status="completed")
    client.force_login(world.lead_liaison)
    url = reverse("taskforces:objective-edit", args=[objective.pk])
    form = client.get(url).context["form"]
    assert [value for value, _ in form.fields["status"].choices] == ["on_track", "completed"]
    data = {
        "title": objective.title,
        "owner_agency": world.lead.pk,
        "status": "at_risk",
        "priority": objective.priority,
        "marking": objective.marking,
    }
    response = client.post(url, data)
    assert response.status_code in (200, 400) and "status" in response.context["form"].errors
    objective.refresh_from_db()
    assert objective.status == Objective.Status.COMPLETED


def test_the_owner_filter_offers_the_task_forces_agencies_and_keeps_the_choice(client, world):
    """The owner select's options are read in one plain query (filtersets._OneQueryChoices):
    "Any agency", then the task force's active agencies by name, the chosen one selected."""
    client.force_login(world.lead_liaison)
    html = client.get(board(world), {"owner_agency": world.partner.pk}).content.decode()
    select = html[
        html.index('name="owner_agency"') : html.index(
            "</select>", html.index('name="owner_agency"')
        )
    ]
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
    assert [(value, label) for value, _, label in options] == [("", "Any agency")] + [
        (str(a.pk), a.name) for a in sorted([world.lead, world.partner], key=lambda a: a.name)
    ]
    assert [value for value, selected, _ in options if selected] == [str(world.partner.pk)]
