"""Next steps on the dashboard (issue 17, item 6): each kind of user sees what they act
on, and nobody sees another kind's lists or empty ones that do not apply to them."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency
from coordination.permissions.markings import Marking
from taskforces import services

from ..factories import AgencyFactory
from .test_pages import grow

pytestmark = pytest.mark.usefixtures("module_world")


def dashboard(client, who) -> str:
    client.force_login(who)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return response.content.decode()


def critical(world, title="Close the A38 bridge"):
    return services.post_update(
        task_force=world.tf,
        title=title,
        body="Now.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        by=world.lead_liaison,
    )


def test_staff_see_critical_updates_first_then_their_tasks_and_roles(client, world):
    critical(world)
    services.create_task(
        objective=world.objectives[Marking.GREEN],
        title="Fill sandbags",
        assignee=world.lead_staff,
        by=world.lead_liaison,
    )
    html = dashboard(client, world.lead_staff)
    ack, tasks, roles = (html.index(h) for h in ('id="ack-h"', 'id="tasks-h"', 'id="roles-h"'))
    assert ack < tasks < roles
    section = html[ack:tasks]
    assert "Close the A38 bridge" in section and "govuk-tag--red" in section
    assert reverse("taskforces:acknowledge", args=[world.updates[Marking.AMBER].pk]) not in section
    assert "Fill sandbags" in html[tasks:roles]
    for other in ("inv-h", "staff-h", "recert-h", "agr-h", "apps-h"):
        assert f'id="{other}"' not in html


def test_my_tasks_are_the_ten_soonest_due_of_the_open_ones_in_order(client, world):
    """The list finds its rows among the tasks before joining them (my_next_tasks): the
    first ten by due date (undated last, then by id), none done or cancelled."""
    today = timezone.localdate()
    objective = world.objectives[Marking.GREEN]

    def task(title, days, status="todo"):
        due = None if days is None else today + datetime.timedelta(days=days)
        return services.create_task(
            objective=objective,
            title=title,
            assignee=world.lead_staff,
            due_date=due,
            status=status,
            by=world.lead_liaison,
        )

    # created out of order, so neither insertion nor id order is the due order
    for days in (9, None, 3, 12, 1, 7, 11, 5, 2, 10, 4, 8, 6):
        task(f"Sandbag run {'undated' if days is None else days:>2}", days)
    task("Sandbag run done", 0, status="done")
    task("Sandbag run cancelled", 0, status="cancelled")
    html = dashboard(client, world.lead_staff)
    section = html[html.index('id="tasks-h"') : html.index('id="roles-h"')]
    shown = re.findall(r"Sandbag run [^<]+", section)
    assert shown == [f"Sandbag run {days:>2}" for days in range(1, 11)]


def test_acknowledging_from_the_dashboard(client, world):
    update = critical(world)
    client.force_login(world.lead_staff)
    response = client.post(
        reverse("taskforces:acknowledge", args=[update.pk]), {"next": reverse("dashboard")}
    )
    assert response.status_code == 302
    html = client.get(reverse("dashboard")).content.decode()
    assert "Close the A38 bridge" not in html and "Nothing waits for your acknowledgement" in html


def test_liaison_officers_see_invitations_people_to_assign_and_agreements(client, world):
    fresh = services.form_task_force(name="Heatwave cell", mandate="Cool.", by=world.lead_liaison)
    services.invite_agency(task_force=fresh, agency=world.partner, by=world.lead_liaison)
    agency_services.propose_agreement(
        title="Health data for the flood",
        parties=[world.lead, world.partner],
        max_marking=Marking.GREEN,
        valid_from=datetime.date(2026, 1, 1),
        by=world.lead_liaison,
    )
    html = dashboard(client, world.partner_liaison)
    invitations = html[html.index('id="inv-h"') : html.index('id="staff-h"')]
    assert "Heatwave cell" in invitations and "Answer the invitation" in invitations
    to_staff = html[html.index('id="staff-h"') :]
    assert world.tf.name in to_staff.split('id="agr-h"')[0]
    assert "Health data for the flood" in html[html.index('id="agr-h"') :]
    assert 'id="apps-h"' not in html and 'id="recert-h"' not in html


def test_the_lead_liaison_is_told_where_their_agency_has_nobody(client, world):
    services.form_task_force(name="Heatwave cell", mandate="Cool.", by=world.lead_liaison)
    html = dashboard(client, world.lead_liaison)
    to_staff = html[html.index('id="staff-h"') :]
    assert "Heatwave cell" in to_staff
    # the proposer's own agency has accepted: nothing waits for it
    assert "No agreement waits for your agency" in html


def test_agency_administrators_see_the_access_review_and_agreements_not_empty_staff_lists(
    client, world
):
    agency_services.propose_agreement(
        title="Transport routes",
        parties=[world.partner, world.lead],
        max_marking=Marking.GREEN,
        valid_from=datetime.date(2026, 1, 1),
        by=world.partner_liaison,
    )
    html = dashboard(client, world.lead_admin)
    assert 'id="recert-h"' in html and reverse("agencies:people", args=[world.lead.pk]) in html
    assert "Transport routes" in html[html.index('id="agr-h"') :]
    for staff_list in ('id="tasks-h"', 'id="roles-h"', 'id="ack-h"', 'id="inv-h"'):
        assert staff_list not in html
    # the partner's administrator does not see the lead's people or review
    html = dashboard(client, world.partner_liaison)
    assert reverse("agencies:people", args=[world.lead.pk]) not in html


def test_portal_administrators_see_applications_to_review_and_no_empty_my_tasks(client, world):
    AgencyFactory(name="Coastguard", status=Agency.Status.APPLIED, applied_at=timezone.now())
    html = dashboard(client, world.portal_admin)
    apps = html[html.index('id="apps-h"') :]
    assert "Coastguard" in apps
    assert "My tasks" not in html and "My roles" not in html
    assert 'id="ack-h"' not in html
    # nobody else sees the applications
    assert "Coastguard" not in dashboard(client, world.lead_admin)


def test_staff_without_a_role_are_told_who_assigns_them(client, world):
    html = dashboard(client, world.outsider)
    assert "My tasks" not in html and "liaison officer assigns roles" in html


@pytest.mark.parametrize(
    "who", ["lead_staff", "lead_liaison", "partner_liaison", "lead_admin", "portal_admin"]
)
def test_each_dashboard_keeps_its_queries_as_data_grows(
    client, world, who, django_assert_max_num_queries
):
    person = getattr(world, who)
    critical(world, "First")
    client.force_login(person)
    client.get(reverse("dashboard"))
    with django_assert_max_num_queries(40) as small:
        client.get(reverse("dashboard"))
    baseline = len(small.captured_queries)  # counted now: each request empties the log
    grow(world)
    for n in range(5):
        critical(world, f"More {n}")
        AgencyFactory(status=Agency.Status.APPLIED, applied_at=timezone.now())
        fresh = services.form_task_force(name=f"Cell {n}", mandate="…", by=world.lead_liaison)
        services.invite_agency(task_force=fresh, agency=world.partner, by=world.lead_liaison)
    with django_assert_max_num_queries(baseline):
        client.get(reverse("dashboard"))
