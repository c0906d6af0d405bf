"""Pages and API answers not covered by the other constant-query tests (the lists and
main pages are: tests/taskforces/test_journeys.py, tests/agencies/test_pages.py,
tests/api/test_queries.py, tests/coordination/test_admin.py): every form page, the
notification preferences and API tokens pages, and every API resource's single object.

Each is measured on the small world, then again after more of everything the page could
list (agencies, participating agencies, people, holders, roles, tokens) was added through
the services; the count must not grow (an N+1 would add at least one query per row)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from agencies.models import Membership
from coordination.accounts.tokens import create_token
from coordination.models import AuditEvent, Notification
from coordination.permissions.markings import Marking
from taskforces import access, services
from taskforces.models import Participation

from ..conftest import role_named
from ..factories import AgencyFactory, person

pytestmark = pytest.mark.usefixtures("module_world")


MORE = 12


def grow(w: SimpleNamespace) -> None:
    """More of every kind of row a form lists or an object shows."""
    for n in range(MORE):
        agency = AgencyFactory(name=f"Growth agency {n}")
        liaison = person(agency, Membership.Role.LIAISON, email=f"liaison{n}@growth.example.gov")
        if n % 2:
            invited = services.invite_agency(task_force=w.tf, agency=agency, by=w.lead_liaison)
            services.respond_to_invitation(participation=invited, accept=True, by=liaison)
        staff = person(w.lead, email=f"officer{n}@nfa.example.gov")
        services.assign_role(role=w.member_role, person=staff, assigned_by=w.lead_liaison)
        services.create_role(
            task_force=w.tf,
            name=f"Sector lead {n}",
            responsibilities="Leads a sector.",
            capabilities=["view_taskforce", "post_updates"],
            eligible_agencies=[w.lead, w.partner],
            by=w.lead_liaison,
        )
        create_token(owner=w.partner_staff, name=f"Integration {n}")
        create_token(owner=w.lead_liaison, name=f"Integration {n}")
    update = w.updates[Marking.AMBER]
    w.critical = services.post_update(
        task_force=w.tf,
        title="Critical",
        body="Acknowledge.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        ack_roles=list(w.tf.roles.all()[:8]),
        ack_agencies=[w.partner],
        by=w.lead_liaison,
    )
    assert update.pk


# page name, its argument, who opens it
PAGES: list[tuple[str, Callable[[SimpleNamespace], Any] | None, str]] = [
    ("taskforces:create", None, "lead_liaison"),
    ("taskforces:edit", lambda w: w.tf, "lead_liaison"),
    ("taskforces:invite", lambda w: w.tf, "lead_liaison"),
    ("taskforces:role-create", lambda w: w.tf, "lead_liaison"),
    ("taskforces:assign", lambda w: w.member_role, "lead_liaison"),
    ("taskforces:assignment-end", lambda w: w.lead_staff_assignment, "lead_liaison"),
    ("taskforces:assignment-until", lambda w: w.lead_staff_assignment, "lead_liaison"),
    ("taskforces:objective-create", lambda w: w.tf, "lead_liaison"),
    ("taskforces:objective-edit", lambda w: w.objectives[Marking.GREEN], "lead_liaison"),
    ("taskforces:task-create", lambda w: w.objectives[Marking.GREEN], "lead_liaison"),
    ("taskforces:task-edit", lambda w: w.tasks[Marking.GREEN], "lead_liaison"),
    ("taskforces:update-create", lambda w: w.tf, "lead_liaison"),
    ("taskforces:withdraw", lambda w: w.participation, "partner_liaison"),
    ("agencies:invite", lambda w: w.lead, "lead_admin"),
    ("agencies:agreement-new", lambda w: w.lead, "lead_admin"),
    ("agencies:membership-role", lambda w: w.lead_staff.memberships.get(), "lead_admin"),
    ("agencies:membership-end", lambda w: w.lead_staff.memberships.get(), "lead_admin"),
    ("notifications:preferences", None, "partner_staff"),
    ("tokens", None, "partner_staff"),
]


def count(client: Any, url: str, person: Any) -> int:
    """The request's queries, the person's access kept beforehand (as after their first
    request: see ``kept_access`` in tests/conftest.py)."""
    access.access_for(person)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


@pytest.mark.parametrize(("name", "target", "persona"), PAGES, ids=[p[0] for p in PAGES])
def test_form_pages_keep_their_query_count(client, world, name, target, persona):
    client.force_login(getattr(world, persona))
    url = reverse(name, args=[target(world).pk]) if target else reverse(name)
    client.get(url)  # warm: sessions, content types
    small = count(client, url, getattr(world, persona))
    assert small <= 25
    grow(world)
    assert count(client, url, getattr(world, persona)) <= small


def test_the_lists_on_form_pages_did_grow(client, world):
    """The growth reaches the forms: more agencies to invite, more people to assign,
    more roles to give a task to."""
    client.force_login(world.lead_liaison)
    before = {
        name: len(client.get(reverse(name, args=[world.tf.pk])).content)
        for name in ("taskforces:invite", "taskforces:update-create")
    }
    grow(world)
    for name, size in before.items():
        assert len(client.get(reverse(name, args=[world.tf.pk])).content) > size, name


# resource, the object, who reads it
OBJECTS: list[tuple[str, Callable[[SimpleNamespace], Any], str]] = [
    ("task-forces", lambda w: w.tf, "lead_liaison"),
    ("participations", lambda w: w.participation, "lead_liaison"),
    ("roles", lambda w: w.member_role, "partner_staff"),
    ("role-assignments", lambda w: w.partner_staff_assignment, "partner_staff"),
    ("objectives", lambda w: w.objectives[Marking.GREEN], "partner_staff"),
    ("tasks", lambda w: w.tasks[Marking.GREEN], "partner_staff"),
    ("updates", lambda w: w.updates[Marking.AMBER], "partner_staff"),
    ("agencies", lambda w: w.partner, "partner_staff"),
    ("memberships", lambda w: w.partner_staff.memberships.get(), "partner_staff"),
    ("agreements", lambda w: w.agreement, "partner_staff"),
    (
        "notifications",
        lambda w: Notification.objects.create(recipient=w.partner_staff, kind="x", title="Hello"),
        "partner_staff",
    ),
    ("audit-events", lambda w: AuditEvent.objects.order_by("pk").first(), "portal_admin"),
]


@pytest.mark.parametrize(("resource", "target", "persona"), OBJECTS, ids=[o[0] for o in OBJECTS])
def test_every_api_object_keeps_its_query_count(world, resource, target, persona):
    client = APIClient()
    client.force_authenticate(getattr(world, persona))
    obj = target(world)
    url = f"/api/v1/{resource}/{obj.pk}/"
    client.get(url)
    small = count(client, url, getattr(world, persona))
    grow(world)
    assert count(client, url, getattr(world, persona)) <= small


def test_a_critical_update_with_many_roles_and_agencies_keeps_its_count(world):
    """An update asking many roles and agencies: its lists are prefetched."""
    client = APIClient()
    client.force_authenticate(world.partner_staff)
    grow(world)
    few = services.post_update(
        task_force=world.tf,
        title="Few",
        body="Acknowledge.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        ack_roles=[world.member_role],
        by=world.lead_liaison,
    )
    assert Participation.objects.filter(task_force=world.tf).count() > 2
    assert count(client, f"/api/v1/updates/{world.critical.pk}/", world.partner_staff) <= count(
        client, f"/api/v1/updates/{few.pk}/", world.partner_staff
    )
    assert role_named(world.tf, "member")
