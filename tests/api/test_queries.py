"""Every list endpoint costs the same number of queries however long the list is: each is
measured on the small world, then again after 30+ more rows were added through the
services, under the same bound (an N+1 would add at least 30 queries)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import Agency
from coordination.accounts.tokens import create_token
from coordination.models import Notification
from coordination.permissions.markings import Marking
from taskforces import services

from ..conftest import ACCESS_QUERIES, role_named
from ..factories import AgencyFactory, agreement_in_force, person
from .conftest import bearer

pytestmark = pytest.mark.usefixtures("module_world")


MORE = 32


def more_agencies(w: SimpleNamespace) -> None:
    for n in range(MORE):
        agency = agency_services.apply_for_agency(
            name=f"Volunteer group {n}",
            level=Agency.Level.LOCAL,
            sector=Agency.Sector.OTHER,
            contact_email=f"group{n}@example.org",
        )
        agency_services.begin_review(agency=agency, by=w.portal_admin)
        agency_services.approve_agency(agency=agency, by=w.portal_admin)


def more_memberships(w: SimpleNamespace) -> None:
    for n in range(MORE):
        agency_services.add_member(
            agency=w.lead,
            email=f"officer{n}@nfa.example.gov",
            first_name="Flood",
            last_name=f"Officer {n}",
            by=w.lead_admin,
        )


def more_agreements(w: SimpleNamespace) -> None:
    for n in range(MORE):
        agreement_in_force(
            title=f"Exchange {n}",
            parties=[w.lead, w.partner, w.outsider_agency],
            max_marking=Marking.GREEN,
            valid_from=datetime.date(2024, 1, 1) + datetime.timedelta(days=n),
        )


def more_task_forces(w: SimpleNamespace) -> None:
    for n in range(MORE):
        services.form_task_force(name=f"Cell {n}", mandate="Respond.", by=w.lead_liaison)


def more_participations(w: SimpleNamespace) -> None:
    for n in range(MORE):
        agency: Any = AgencyFactory(name=f"Invited agency {n}")
        services.invite_agency(task_force=w.tf, agency=agency, by=w.lead_liaison)


def more_roles(w: SimpleNamespace) -> None:
    for n in range(MORE):
        services.create_role(
            task_force=w.tf,
            name=f"Sector lead {n}",
            responsibilities="Leads a sector.",
            capabilities=["view_taskforce", "post_updates"],
            eligible_agencies=[w.lead, w.partner],
            by=w.lead_liaison,
        )


def more_assignments(w: SimpleNamespace) -> None:
    observer = role_named(w.tf, "observer")
    for n in range(MORE):
        staff = person(w.lead, email=f"observer{n}@nfa.example.gov")
        services.assign_role(role=observer, person=staff, assigned_by=w.lead_liaison)


def more_objectives(w: SimpleNamespace) -> None:
    for n in range(MORE):
        objective = services.create_objective(
            task_force=w.tf,
            title=f"Objective {n}",
            owner_agency=w.lead,
            contributing_agencies=[w.partner],
            marking=Marking.GREEN,
            by=w.lead_liaison,
        )
        services.create_task(objective=objective, title=f"First step {n}", by=w.lead_liaison)


def more_tasks(w: SimpleNamespace) -> None:
    objective = w.objectives[Marking.GREEN]
    for n in range(MORE):
        services.create_task(
            objective=objective,
            title=f"Task {n}",
            assignee=w.partner_staff if n % 2 else None,
            assigned_role=None if n % 2 else w.member_role,
            by=w.lead_liaison,
        )


def more_updates(w: SimpleNamespace) -> None:
    for n in range(MORE):
        update = services.post_update(
            task_force=w.tf,
            title=f"Situation {n}",
            body="Levels steady.",
            marking=Marking.GREEN,
            requires_acknowledgement=True,
            ack_roles=[w.member_role],
            ack_agencies=[w.partner],
            by=w.lead_liaison,
        )
        if n % 2:
            services.acknowledge_update(update=update, by=w.partner_staff)


def more_notifications(w: SimpleNamespace) -> None:
    # Notifications are written by the notification workers; a list only reads them.
    Notification.objects.bulk_create(
        Notification(recipient=w.partner_staff, kind="update.posted", title=f"Update {n}")
        for n in range(MORE)
    )


def more_audit_events(w: SimpleNamespace) -> None:
    objective = w.objectives[Marking.GREEN]
    for n in range(MORE):
        services.update_objective(objective=objective, by=w.lead_liaison, priority=1 + n % 4)


# resource, who lists it, how to add rows, the query bound
LISTS: list[tuple[str, str, Callable[[SimpleNamespace], None], int]] = [
    ("agencies", "portal_admin", more_agencies, 3),  # count, page, offboarding jobs
    ("memberships", "lead_admin", more_memberships, 2),
    ("agreements", "partner_staff", more_agreements, 4),  # count, page, parties, acceptances
    ("task-forces", "lead_liaison", more_task_forces, 2),
    ("participations", "lead_liaison", more_participations, 2),
    ("roles", "partner_staff", more_roles, 3),
    ("role-assignments", "partner_staff", more_assignments, 2),
    ("objectives", "partner_staff", more_objectives, 3),
    ("tasks", "partner_staff", more_tasks, 2),
    ("updates", "partner_staff", more_updates, 4),
    ("notifications", "partner_staff", more_notifications, 2),
    ("audit-events", "lead_admin", more_audit_events, 3),
]


# lists whose permission filter reads the person's access inside task forces
ACCESS_READERS = {
    "task-forces",
    "participations",
    "roles",
    "role-assignments",
    "objectives",
    "tasks",
    "updates",
}


def _list(user: Any, resource: str, client: APIClient | None = None) -> dict[str, Any]:
    if client is None:
        client = APIClient()
        client.force_authenticate(user)
    response = client.get(f"/api/v1/{resource}/?page_size=100")
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.mark.parametrize(
    ("resource", "persona", "grow", "bound"), LISTS, ids=[row[0] for row in LISTS]
)
def test_list_queries_do_not_grow(
    world: SimpleNamespace,
    django_assert_max_num_queries: Any,
    resource: str,
    persona: str,
    grow: Callable[[SimpleNamespace], None],
    bound: int,
) -> None:
    user = getattr(world, persona)
    # the lists inside task forces also read the person's access (tests/conftest.py)
    bound += ACCESS_QUERIES if resource in ACCESS_READERS else 0
    with django_assert_max_num_queries(bound):
        small = _list(user, resource)
    grow(world)
    with django_assert_max_num_queries(bound):
        big = _list(user, resource)
    assert len(big["results"]) >= len(small["results"]) + 30, "the rows must show in the list"


def test_token_authentication_adds_a_fixed_cost(
    world: SimpleNamespace, django_assert_max_num_queries: Any
) -> None:
    """A token costs one lookup on every request, and at most one write a minute for
    last_used_at."""
    _, secret = create_token(owner=world.partner_staff, name="Dashboard")
    client = bearer(secret)
    # the token, its last_used_at, the person's access, the list
    with django_assert_max_num_queries(2 + ACCESS_QUERIES + 4):
        _list(None, "updates", client)
    more_updates(world)
    # last_used_at written just now: the token, the person's access and the list
    with django_assert_max_num_queries(1 + ACCESS_QUERIES + 4):
        big = _list(None, "updates", client)
    assert len(big["results"]) >= 30


@pytest.mark.parametrize(
    ("resource", "obj", "bound"),
    [
        ("objectives", lambda w: w.objectives[Marking.GREEN], 2),
        ("updates", lambda w: w.updates[Marking.AMBER], 3),
        ("roles", lambda w: w.member_role, 2),
        ("task-forces", lambda w: w.tf, 1),
    ],
    ids=["objective", "update", "role", "task-force"],
)
def test_one_object_costs_its_query_and_prefetches(
    world: SimpleNamespace,
    django_assert_max_num_queries: Any,
    resource: str,
    obj: Callable[[SimpleNamespace], Any],
    bound: int,
) -> None:
    client = APIClient()
    client.force_authenticate(world.partner_staff)
    with django_assert_max_num_queries(bound + ACCESS_QUERIES):  # + the person's access
        response = client.get(f"/api/v1/{resource}/{obj(world).pk}/")
    assert response.status_code == 200
