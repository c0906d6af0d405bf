"""Recertifying through the API: ``POST /role-assignments/{id}/recertify/``, the same
service and permission core as the page."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from agencies.models import Membership
from coordination.models import AuditEvent
from taskforces import services
from taskforces.models import RoleAssignment

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")


def as_(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(assignment: RoleAssignment, action: str = "recertify/") -> str:
    return f"/api/v1/role-assignments/{assignment.pk}/{action}"


def test_an_agency_administrator_recertifies_through_the_api(world):
    assignment = world.lead_staff_assignment
    client = as_(world.lead_admin)
    response = client.post(url(assignment), {"note": "Confirmed with the duty manager"})
    assert response.status_code == 200, response.content
    body = response.json()
    assignment.refresh_from_db()
    assert assignment.recertified_by == world.lead_admin
    assert body["id"] == assignment.pk
    assert body["recertified_at"] is not None
    assert body["recertification_due_at"].startswith(
        assignment.recertification_due_at.date().isoformat()
    )
    event = AuditEvent.objects.filter(action="assignment.recertified").order_by("-id").first()
    assert event.after["note"] == "Confirmed with the duty manager"
    # without a note too; and the administrator lists their people's assignments
    assert client.post(url(assignment), {}).status_code == 200
    listed = client.get(f"/api/v1/role-assignments/?person={world.lead_staff.pk}").json()
    assert [item["id"] for item in listed["results"]] == [assignment.pk]


@pytest.mark.parametrize("body", [{"note": 5}, {"note": "x" * 2001}, {"note": None}])
def test_a_bad_note_is_a_400(world, body):
    response = as_(world.lead_admin).post(url(world.lead_staff_assignment), body, format="json")
    assert response.status_code == 400
    assert "note" in response.json()["error"]["fields"]
    world.lead_staff_assignment.refresh_from_db()
    assert world.lead_staff_assignment.recertified_at is None


def test_who_may_not(world):
    assignment = world.lead_staff_assignment
    # sees it (through the task force) but may not: 403 with the reason
    refused = as_(world.lead_liaison).post(url(assignment), {})
    assert refused.status_code == 403
    assert (
        "Only an agency administrator of National Flood Agency"
        in (refused.json()["error"]["message"])
    )
    # may not see it: 404
    partner_admin = person(world.partner, Membership.Role.ADMIN)
    for user in (partner_admin, world.portal_admin, world.outsider):
        assert as_(user).post(url(assignment), {}).status_code == 404
    assignment.refresh_from_db()
    assert assignment.recertified_at is None


def test_own_and_ended_assignments(world):
    own = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=world.lead_admin,
        assigned_by=world.lead_liaison,
    )
    assert as_(world.lead_admin).post(url(own), {}).status_code == 403
    services.end_assignment(
        assignment=world.lead_staff_assignment, by=world.lead_liaison, reason="Rotated out"
    )
    response = as_(world.lead_admin).post(url(world.lead_staff_assignment), {})
    assert response.status_code == 400
    assert "assignment" in response.json()["error"]["fields"]


def test_the_administrator_ends_through_the_api_but_does_not_re_date(world):
    client = as_(world.lead_admin)
    assignment = world.lead_staff_assignment
    assert client.post(url(assignment, "set-end/"), {"until": None}).status_code == 403
    assert client.post(url(assignment, "end/"), {"reason": "Access review"}).status_code == 200
    assignment.refresh_from_db()
    assert assignment.ended_by == world.lead_admin
