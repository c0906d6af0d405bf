"""The foundation's pages obey the permission core and keep a constant number of queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Role, RoleAssignment

from ..conftest import ACCESS_QUERIES
from ..factories import PASSWORD, person

pytestmark = pytest.mark.usefixtures("module_world")


def grow(world, n: int = 15) -> None:
    """More objectives, tasks, updates and role holders, so an N+1 would show."""
    analyst = Role.objects.get(task_force=world.tf, template__slug="intelligence-analyst")
    for i in range(n):
        objective = services.create_objective(
            task_force=world.tf,
            title=f"Extra objective {i}",
            owner_agency=world.lead,
            contributing_agencies=[world.partner],
            marking=Marking.GREEN,
            by=world.lead_liaison,
        )
        services.create_task(objective=objective, title=f"Extra task {i}", by=world.lead_liaison)
        services.post_update(
            task_force=world.tf,
            title=f"Extra update {i}",
            body="…",
            marking=Marking.GREEN,
            by=world.lead_liaison,
        )
        services.assign_role(
            role=analyst, person=person(world.lead), assigned_by=world.lead_liaison
        )


def login(client, user) -> None:
    assert client.login(email=user.email, password=PASSWORD)


@pytest.mark.parametrize("name", ["dashboard", "taskforces:detail"])
def test_pages_need_sign_in(client, world, name):
    url = reverse(name) if name == "dashboard" else reverse(name, args=[world.tf.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_dashboard_lists_only_my_task_forces(client, world):
    other = services.form_task_force(
        name="Hidden operation", mandate="Elsewhere.", by=world.partner_liaison
    )
    login(client, world.lead_staff)
    page = client.get(reverse("dashboard")).content.decode()
    assert world.tf.name in page
    assert other.name not in page

    client.logout()
    login(client, world.outsider)
    page = client.get(reverse("dashboard")).content.decode()
    assert world.tf.name not in page
    assert "You hold no role in any task force yet" in page


def test_task_force_page_hides_what_the_marking_forbids(client, world):
    login(client, world.partner_staff)
    page = client.get(reverse("taskforces:detail", args=[world.tf.pk])).content.decode()
    assert "Objective TLP:AMBER</a>" in page
    assert "Objective TLP:AMBER+STRICT" not in page
    assert "Objective TLP:RED" not in page
    assert "Update TLP:RED" not in page
    assert "Why can I see this?" in page
    assert "You hold the role Member" in page


def test_task_force_page_is_not_found_for_outsiders_and_unknown_ids(client, world):
    login(client, world.outsider)
    hidden = client.get(reverse("taskforces:detail", args=[world.tf.pk]))
    missing = client.get(reverse("taskforces:detail", args=[world.tf.pk + 1000]))
    assert hidden.status_code == missing.status_code == 404


def test_ended_assignment_loses_the_page_at_once(client, world):
    login(client, world.partner_staff)
    url = reverse("taskforces:detail", args=[world.tf.pk])
    assert client.get(url).status_code == 200
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated out"
    )
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("persona", ["lead_liaison", "partner_staff"])
def test_page_queries_do_not_grow_with_data(client, world, persona, django_assert_max_num_queries):
    user = getattr(world, persona)
    login(client, user)
    detail = reverse("taskforces:detail", args=[world.tf.pk])
    # each page reads the person's access once: ACCESS_QUERIES (tests/conftest.py)
    with django_assert_max_num_queries(12 + ACCESS_QUERIES) as small_dashboard:
        client.get(reverse("dashboard"))
    with django_assert_max_num_queries(19 + ACCESS_QUERIES) as small_detail:
        client.get(detail)
    grow(world)
    with django_assert_max_num_queries(len(small_dashboard.captured_queries)):
        assert client.get(reverse("dashboard")).status_code == 200
    with django_assert_max_num_queries(len(small_detail.captured_queries)):
        assert client.get(detail).status_code == 200


def test_row_link_is_reverse_for_any_key():
    from taskforces.views._links import row_link

    for name in ("taskforces:objective", "taskforces:assignment-end", "agencies:detail"):
        link = row_link(name)
        for pk in (1, 9, 10, 987_654_321, 2**40):
            assert link(pk) == reverse(name, args=[pk])


def test_row_links_on_the_pages_are_the_reversed_urls(client, world):
    """The task force page, the board and the organisation chart make their rows' links
    once per page (taskforces/views/_links.py): the same URLs {% url %} gave."""
    login(client, world.lead_liaison)
    detail = client.get(reverse("taskforces:detail", args=[world.tf.pk])).content.decode()
    assert f'href="{reverse("agencies:detail", args=[world.partner.pk])}"' in detail
    board = client.get(reverse("taskforces:objectives", args=[world.tf.pk])).content.decode()
    chart = client.get(reverse("taskforces:organisation", args=[world.tf.pk])).content.decode()
    for objective in world.tf.objectives.all():
        assert f'href="{reverse("taskforces:objective", args=[objective.pk])}"' in detail
        assert f'href="{reverse("taskforces:objective", args=[objective.pk])}"' in board
        status = reverse("taskforces:objective-status", args=[objective.pk])
        assert f'action="{status}" hx-post="{status}"' in board
        for task in objective.tasks.all():
            assert f'href="{reverse("taskforces:task", args=[task.pk])}"' in board
    for update in world.tf.updates.all()[:5]:
        assert f'href="{reverse("taskforces:update", args=[update.pk])}"' in detail
    for role in world.tf.roles.filter(max_holders__isnull=True):  # never "Full"
        assert f'href="{reverse("taskforces:assign", args=[role.pk])}"' in chart
    for assignment in RoleAssignment.objects.current().filter(
        role__task_force=world.tf, agency=world.lead
    ):
        assert f'href="{reverse("taskforces:assignment-end", args=[assignment.pk])}"' in chart
        assert f'href="{reverse("taskforces:assignment-until", args=[assignment.pk])}"' in chart
