"""The access review page, the agency page's link to it and the dashboard's flag.

Only the agency's own administrators see the page (everyone else: not found); filters and
actions are validated (bad input: a form error or 400, nothing changed); recertify and end
work from it and leave their audit events; the page costs the same number of queries for
one assignment as for thirty."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agencies.models import Membership
from coordination.models import AuditEvent
from taskforces import access, services
from taskforces.models import RoleAssignment

from ..conftest import role_named
from ..factories import AgencyFactory, person
from .conftest import backdate

pytestmark = pytest.mark.usefixtures("module_world")


def review_url(agency, query: str = "") -> str:
    url = reverse("agencies:access-review", args=[agency.pk])
    return f"{url}?{query}" if query else url


def html(response) -> str:
    return response.content.decode()


def rows(response) -> list[str]:
    return re.findall(r'<tr id="assignment-(\d+)"', html(response))


def fresh(assignment: RoleAssignment) -> RoleAssignment:
    return RoleAssignment.objects.get(pk=assignment.pk)


def lead_assignments(world) -> set[str]:
    return {
        str(pk)
        for pk in RoleAssignment.objects.open()
        .filter(agency=world.lead)
        .values_list("pk", flat=True)
    }


# --- who sees it ---------------------------------------------------------------------------


def test_the_agency_administrator_sees_every_open_assignment_of_their_people(client, world):
    # a second task force: the review spans every task force the people hold roles in
    other = services.form_task_force(
        name="Coastal surge cell", mandate="Spring tides.", by=world.lead_liaison
    )
    services.assign_role(
        role=role_named(other, "observer"), person=world.lead_staff, assigned_by=world.lead_liaison
    )
    services.end_assignment(
        assignment=world.lead_staff_assignment, by=world.lead_liaison, reason="Moved on"
    )
    client.force_login(world.lead_admin)
    response = client.get(review_url(world.lead))
    assert response.status_code == 200
    listed = set(rows(response))
    assert listed == lead_assignments(world)
    assert len(listed) == 5  # commander, liaison ×2 (both task forces), observer
    assert str(world.lead_staff_assignment.pk) not in listed  # ended
    assert str(world.partner_staff_assignment.pk) not in listed  # another agency's
    page = html(response)
    assert "Coastal surge cell" in page and "River Severn flood response" in page
    assert "assign roles" in page  # the Liaison officer role's capabilities, in words
    assert "Never" in page  # never recertified


@pytest.mark.parametrize(
    "persona",
    ["portal_admin", "lead_liaison", "lead_staff", "partner_liaison", "partner_staff", "outsider"],
)
def test_everyone_else_gets_not_found(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get(review_url(world.lead)).status_code == 404
    response = client.post(
        review_url(world.lead),
        {"assignment": world.lead_staff_assignment.pk, "action": "recertify"},
    )
    assert response.status_code == 404
    assert fresh(world.lead_staff_assignment).recertified_at is None


def test_another_agencys_administrator_gets_not_found(client, world):
    partner_admin = person(world.partner, Membership.Role.ADMIN)
    client.force_login(partner_admin)
    assert client.get(review_url(world.lead)).status_code == 404
    assert client.get(review_url(world.partner)).status_code == 200
    assert client.get(reverse("agencies:access-review", args=[999999])).status_code == 404


def test_the_agency_page_links_to_it_for_its_administrators_only(client, world):
    link = review_url(world.lead)
    client.force_login(world.lead_admin)
    assert link in html(client.get(reverse("agencies:detail", args=[world.lead.pk])))
    for persona in ("portal_admin", "lead_liaison"):
        client.force_login(getattr(world, persona))
        assert link not in html(client.get(reverse("agencies:detail", args=[world.lead.pk])))


def test_the_page_needs_sign_in(client, world):
    response = client.get(review_url(world.lead))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- due flag and filters ------------------------------------------------------------------


def test_due_assignments_are_flagged_and_listed_first(client, world):
    backdate([world.lead_staff_assignment], days=91)
    client.force_login(world.lead_admin)
    response = client.get(review_url(world.lead))
    assert rows(response)[0] == str(world.lead_staff_assignment.pk)
    row = (
        html(response)
        .split(f'id="assignment-{world.lead_staff_assignment.pk}"')[1]
        .split("</tr>")[0]
    )
    assert "Due</strong> since" in row
    due_only = client.get(review_url(world.lead, "due=yes"))
    assert rows(due_only) == [str(world.lead_staff_assignment.pk)]
    not_due = client.get(review_url(world.lead, "due=no"))
    assert str(world.lead_staff_assignment.pk) not in rows(not_due)
    assert len(rows(not_due)) == 2


def test_filters_by_person_and_task_force(client, world):
    other = services.form_task_force(
        name="Coastal surge cell", mandate="Spring tides.", by=world.lead_liaison
    )
    client.force_login(world.lead_admin)
    by_person = client.get(review_url(world.lead, f"person={world.lead_staff.pk}"))
    assert rows(by_person) == [str(world.lead_staff_assignment.pk)]
    by_task_force = client.get(review_url(world.lead, f"task_force={other.pk}"))
    assert set(rows(by_task_force)) == {
        str(pk)
        for pk in RoleAssignment.objects.filter(role__task_force=other).values_list("pk", flat=True)
    }
    assert len(rows(by_task_force)) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("due=maybe", "due"),
        ("person=abc", "person"),
        ("person=999999", "person"),
        ("task_force=-1", "task_force"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(client, world, query, field):
    client.force_login(world.lead_admin)
    response = client.get(review_url(world.lead, query))
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in html(response)
    assert rows(response) == []


def test_another_agencys_person_or_task_force_is_not_a_choice(client, world):
    hidden = services.form_task_force(
        name="Partner operation", mandate="Elsewhere.", by=world.partner_liaison
    )
    client.force_login(world.lead_admin)
    for query in (f"person={world.partner_staff.pk}", f"task_force={hidden.pk}"):
        response = client.get(review_url(world.lead, query))
        assert response.status_code == 400
        assert "Partner operation" not in html(response)


@pytest.mark.parametrize("page", ["0", "x", "2"])
def test_a_bad_page_is_a_400(client, world, page):
    client.force_login(world.lead_admin)
    assert client.get(review_url(world.lead, f"page={page}")).status_code == 400


# --- actions -------------------------------------------------------------------------------


def test_recertify_from_the_page(client, world):
    assignment = world.lead_staff_assignment
    backdate([assignment], days=91)
    client.force_login(world.lead_admin)
    response = client.post(
        review_url(world.lead, "due=yes&page=1"),
        {"assignment": assignment.pk, "action": "recertify", "note": "Still needed"},
    )
    assert response.status_code == 302
    assert response["Location"] == review_url(world.lead, "due=yes")  # filters kept, page not
    assignment = fresh(assignment)
    assert assignment.recertified_by == world.lead_admin
    assert not assignment.is_due_for_recertification()
    event = AuditEvent.objects.filter(action="assignment.recertified").order_by("-id").first()
    assert event.actor == world.lead_admin and event.after["note"] == "Still needed"
    page = html(client.get(review_url(world.lead)))
    assert "is recertified; it is due again on" in page
    assert f"by {world.lead_admin}" in page


def test_end_from_the_page_needs_a_reason(client, world):
    assignment = world.lead_staff_assignment
    client.force_login(world.lead_admin)
    response = client.post(
        review_url(world.lead), {"assignment": assignment.pk, "action": "end", "reason": "  "}
    )
    assert response.status_code == 200
    assert "Give a reason; the holder will be told it." in html(response)
    assert fresh(assignment).ended_at is None
    response = client.post(
        review_url(world.lead),
        {"assignment": assignment.pk, "action": "end", "reason": "Access review: not needed"},
    )
    assert response.status_code == 302
    assignment = fresh(assignment)
    assert assignment.ended_by == world.lead_admin
    assert assignment.end_reason == "Access review: not needed"
    assert AuditEvent.objects.filter(
        action="assignment.ended", actor=world.lead_admin, object_id=str(assignment.pk)
    ).exists()
    assert str(assignment.pk) not in rows(client.get(review_url(world.lead)))


@pytest.mark.parametrize(
    "data",
    [
        {"action": "recertify"},  # no assignment
        {"assignment": "abc", "action": "recertify"},
        {"assignment": "PARTNER", "action": "recertify"},  # another agency's
        {"assignment": "ENDED", "action": "recertify"},  # no longer open
        {"assignment": "LEAD", "action": "promote"},
        {"assignment": "LEAD"},
        {"assignment": "LEAD", "action": "recertify", "note": "x" * 2001},
        {"assignment": "LEAD", "action": "end", "reason": "x" * 2001},
    ],
)
def test_bad_actions_are_form_errors_and_change_nothing(client, world, data):
    ended = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=world.lead_staff,
        assigned_by=world.lead_liaison,
    )
    services.end_assignment(assignment=ended, by=world.lead_liaison, reason="Done")
    ids = {
        "PARTNER": world.partner_staff_assignment.pk,
        "ENDED": ended.pk,
        "LEAD": world.lead_staff_assignment.pk,
    }
    data = {key: ids.get(value, value) for key, value in data.items()}
    client.force_login(world.lead_admin)
    audit_events = AuditEvent.objects.count()  # after signing in, which is recorded too
    response = client.post(review_url(world.lead), data)
    assert response.status_code == 200
    assert 'class="govuk-error-summary"' in html(response)
    assert AuditEvent.objects.count() == audit_events
    for assignment in (world.partner_staff_assignment, world.lead_staff_assignment):
        assert fresh(assignment).recertified_at is None
        assert fresh(assignment).ended_at is None


def test_ones_own_assignment_has_no_recertify_button_and_is_refused(client, world):
    own = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=world.lead_admin,
        assigned_by=world.lead_liaison,
    )
    client.force_login(world.lead_admin)
    page = html(client.get(review_url(world.lead)))
    row = page.split(f'id="assignment-{own.pk}"')[1].split("</tr>")[0]
    assert 'value="recertify"' not in row and "another administrator recertifies it" in row
    assert 'value="end"' in row
    other = page.split(f'id="assignment-{world.lead_staff_assignment.pk}"')[1].split("</tr>")[0]
    assert 'value="recertify"' in other
    response = client.post(review_url(world.lead), {"assignment": own.pk, "action": "recertify"})
    assert response.status_code == 403
    assert "another agency administrator of National Flood Agency must recertify it" in html(
        response
    )
    assert fresh(own).recertified_at is None


# --- query count -----------------------------------------------------------------------------


def test_the_page_costs_the_same_for_one_assignment_as_for_thirty(client, world):
    agency = AgencyFactory(name="Coastguard Agency", acronym="CGA")
    admin = person(agency, Membership.Role.ADMIN)
    liaison = person(agency, Membership.Role.LIAISON)
    participation = services.invite_agency(
        task_force=world.tf, agency=agency, by=world.lead_liaison
    )
    services.respond_to_invitation(participation=participation, accept=True, by=liaison)
    assert RoleAssignment.objects.open().filter(agency=agency).count() == 1  # the liaison's
    client.force_login(admin)
    url = review_url(agency)
    client.get(url)  # warm up (session, content types)
    access.access_for(admin)  # kept, as after their first request (tests/conftest.py)
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert len(rows(response)) == 1
    roles = [role_named(world.tf, slug) for slug in ("member", "observer", "intelligence-analyst")]
    for i in range(29):
        services.assign_role(role=roles[i % 3], person=person(agency), assigned_by=liaison)
    backdate(RoleAssignment.objects.filter(agency=agency)[:10], days=120)
    services.recertify_assignment(
        actor=admin, assignment=RoleAssignment.objects.filter(agency=agency).last()
    )
    access.access_for(admin)
    with CaptureQueriesContext(connection) as thirty:
        response = client.get(url)
    assert len(rows(response)) == 25  # the first page of 30
    assert "Page 1 of 2" in html(response)
    assert len(thirty.captured_queries) == len(one.captured_queries), [
        q["sql"] for q in thirty.captured_queries
    ]
    assert len(one.captured_queries) <= 16


# --- dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_flags_due_assignments_to_agency_administrators(client, world):
    client.force_login(world.lead_admin)
    assert "due for recertification" not in html(client.get(reverse("dashboard")))
    backdate([world.lead_staff_assignment], days=91)
    page = html(client.get(reverse("dashboard")))
    assert "1 role assignment of your people is due for recertification" in page
    assert review_url(world.lead, "due=yes") in page
    backdate(RoleAssignment.objects.filter(agency=world.lead), days=91)
    page = html(client.get(reverse("dashboard")))
    assert "3 role assignments of your people are due for recertification" in page
    # not for anyone who does not review the agency's access
    for persona in ("lead_liaison", "lead_staff", "portal_admin", "partner_liaison"):
        client.force_login(getattr(world, persona))
        assert "due for recertification" not in html(client.get(reverse("dashboard")))
