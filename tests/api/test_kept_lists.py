"""API lists of task-force content are kept between identical requests
(taskforces.api.kept), and never once anything they show, or the asker's access, has
changed — whoever changed it, however."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Agency
from coordination import epochs
from coordination.markings import Marking
from coordination.models import Notification, User
from taskforces import services
from taskforces.api import kept
from taskforces.models import Objective, RoleAssignment, Task

pytestmark = pytest.mark.django_db

LISTS = ("task-forces", "participations", "objectives", "tasks", "updates")


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def listed(client: APIClient, resource: str, query: str = "") -> tuple[list[Any], int]:
    """The list's results and the number of queries the request made."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/{resource}/{query}")
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"], len(queries)


def titles(client: APIClient) -> set[str]:
    return {row["title"] for row in listed(client, "objectives")[0]}


@pytest.mark.parametrize("resource", LISTS)
def test_the_same_request_again_is_answered_from_what_was_kept(world, resource):
    client = client_for(world.partner_staff)
    first, computed = listed(client, resource)
    again, kept = listed(client, resource)
    assert again == first
    assert kept == 1  # the epochs; no list query
    assert computed > kept


def test_a_change_through_a_service_shows_at_once(world):
    client = client_for(world.partner_staff)
    assert "Sandbags to the east bank" not in titles(client)
    services.create_objective(
        task_force=world.tf,
        title="Sandbags to the east bank",
        owner_agency=world.lead,
        marking=Marking.GREEN,
        by=world.lead_liaison,
    )
    assert "Sandbags to the east bank" in titles(client)


@pytest.mark.parametrize(
    ("resource", "change"),
    [
        (
            "objectives",
            lambda w: Objective.objects.filter(pk=w.objectives[Marking.GREEN].pk).update(
                title="Renamed outside the services"
            ),
        ),
        ("objectives", lambda w: Agency.objects.filter(pk=w.lead.pk).update(name="Renamed Agency")),
        (
            "objectives",
            lambda w: Task.objects.filter(objective=w.objectives[Marking.GREEN]).update(
                status="done"
            ),
        ),
        (
            "updates",
            lambda w: User.objects.filter(pk=w.lead_liaison.pk).update(last_name="Renamed"),
        ),
    ],
    ids=["objective", "agency name", "task (progress)", "author's name"],
)
def test_a_change_outside_the_services_shows_at_once(world, resource, change):
    client = client_for(world.partner_staff)
    before = listed(client, resource)[0]
    change(world)
    after = listed(client, resource)[0]
    assert after != before


def test_access_taken_away_empties_the_list_at_once(world):
    client = client_for(world.partner_staff)
    assert titles(client)
    RoleAssignment.objects.filter(pk=world.partner_staff_assignment.pk).update(
        ended_at=timezone.now()
    )
    assert titles(client) == set()


def test_an_expiring_assignment_is_not_answered_from_what_was_kept(world, time_machine):
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    services.set_assignment_end(
        assignment=world.partner_staff_assignment,
        until=now + datetime.timedelta(minutes=30),
        by=world.partner_liaison,
    )
    client = client_for(world.partner_staff)
    assert titles(client)
    time_machine.move_to(now + datetime.timedelta(minutes=30), tick=False)
    assert titles(client) == set()


def test_answers_are_kept_per_person_and_per_address(world):
    partner = client_for(world.partner_staff)
    commander = client_for(world.lead_liaison)
    assert titles(partner) != titles(commander)  # the commander also sees AMBER+STRICT, RED
    assert titles(partner) != titles(commander)  # and again, from what was kept
    one, _ = listed(partner, "objectives", "?page_size=1")
    everything, _ = listed(partner, "objectives")
    assert len(one) == 1 < len(everything)


def test_sign_ins_do_not_throw_kept_answers_away(world):
    client = client_for(world.partner_staff)
    listed(client, "objectives")
    content = epochs.current("content")
    User.objects.filter(pk=world.partner_staff.pk).update(last_login=timezone.now())
    assert epochs.current("content") == content
    assert listed(client, "objectives")[1] == 1


def test_with_keeping_off_every_request_is_computed(world, settings):
    settings.CONCORD_API_KEPT_LISTS = 0
    client = client_for(world.partner_staff)
    listed(client, "objectives")  # (computes and keeps the person's access)
    _, first = listed(client, "objectives")
    _, second = listed(client, "objectives")
    assert second == first > 1


def test_keeping_is_bounded_least_recently_used_first(world, settings):
    settings.CONCORD_API_KEPT_LISTS = 2
    client = client_for(world.partner_staff)
    for resource in ("objectives", "tasks", "updates"):
        listed(client, resource)
    assert len(kept.answers) == 2
    assert listed(client, "updates")[1] == 1  # still kept
    assert listed(client, "objectives")[1] > 1  # the oldest went first


def test_bad_filters_are_refused_and_not_kept(world):
    client = client_for(world.partner_staff)
    for _ in range(2):
        response = client.get("/api/v1/objectives/?status=purple")
        assert response.status_code == 400
        assert "status" in str(response.json())


def test_lists_outside_task_force_content_are_not_kept(world: SimpleNamespace):
    """Role assignments say whether each is current (it changes with time alone), and
    notifications are read and marked all the time: those lists are always computed."""
    Notification.objects.create(recipient=world.partner_staff, kind="x", title="Hello")
    client = client_for(world.partner_staff)
    for resource in ("role-assignments", "notifications"):
        listed(client, resource)
        _, first = listed(client, resource)
        _, second = listed(client, resource)
        assert second == first > 1


def test_a_kept_answer_is_the_bytes_and_headers_first_sent(world):
    client = client_for(world.partner_staff)
    first = client.get("/api/v1/objectives/?ordering=-id")
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/api/v1/objectives/?ordering=-id")
    assert len(queries) == 1  # the epochs: answered from what was kept
    assert again.content == first.content
    for header in ("Content-Type", "Vary", "Allow", "Content-Security-Policy"):
        assert again.get(header) == first.get(header), header
