"""Conditional GET: every API list and object answers with an ETag; sending it back as
``If-None-Match`` gets ``304 Not Modified`` without serialising anything, until something
the answer shows changes — through a service or straight in the database (the task
forces' content versions are moved by triggers) — or the asker's access does."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Agency
from coordination.accounts.tokens import create_token
from coordination.api.representation import ReadSerializer
from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, RoleTemplate, TaskForce

from ..conftest import ACCESS_QUERIES
from .conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]

RESOURCES = (
    "agencies",
    "memberships",
    "agreements",
    "task-forces",
    "participations",
    "roles",
    "role-assignments",
    "objectives",
    "tasks",
    "updates",
    "notifications",
)
TASK_FORCE_CONTENT = ("task-forces", "roles", "objectives", "tasks", "updates")


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def first_id(client: APIClient, resource: str) -> int:
    return client.get(f"/api/v1/{resource}/").json()["results"][0]["id"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_list_and_object_answers_304_to_its_own_etag(world, resource, monkeypatch) -> None:
    world.lead_liaison.notifications.create(kind="x", title="Hello")
    client = client_for(world.lead_liaison)
    for url in (f"/api/v1/{resource}/", f"/api/v1/{resource}/{first_id(client, resource)}/"):
        first = client.get(url)
        assert first.status_code == 200
        etag = first["ETag"]
        assert etag.startswith('"') and len(etag) > 10
        assert client.get(url)["ETag"] == etag  # nothing changed: the same validator

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a 304 serialises nothing")

        with monkeypatch.context() as patch:
            patch.setattr(ReadSerializer, "to_representation", refuse)
            again = client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == etag
        # another validator, or none: the full answer
        assert client.get(url, HTTP_IF_NONE_MATCH='"something else"').status_code == 200


@pytest.mark.parametrize("resource", TASK_FORCE_CONTENT)
def test_a_304_of_task_force_content_costs_only_the_askers_access(world, resource) -> None:
    client = client_for(world.partner_staff)
    etag = client.get(f"/api/v1/{resource}/")["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/api/v1/{resource}/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert len(queries) <= ACCESS_QUERIES


def test_the_etag_depends_on_who_asks_and_what_they_ask(world) -> None:
    lead = client_for(world.lead_liaison).get("/api/v1/objectives/")["ETag"]
    partner = client_for(world.partner_staff).get("/api/v1/objectives/")["ETag"]
    filtered = client_for(world.partner_staff).get("/api/v1/objectives/?status=on_track")["ETag"]
    assert len({lead, partner, filtered}) == 3


@pytest.mark.parametrize("resource", ["objectives", "role-assignments", "agencies"])
def test_the_etag_depends_on_the_zone_times_are_written_in(world, resource) -> None:
    """A reader who changes their time zone gets their times in it at once: what they
    kept, written in the old zone, is not answered 304."""
    reader = world.lead_liaison
    client = APIClient()
    client.force_login(reader)  # a session: the reader's zone applies (TimeZoneMiddleware)
    before = client.get(f"/api/v1/{resource}/")
    reader.time_zone = "Pacific/Auckland"
    reader.save(update_fields=["time_zone"])
    after = client.get(f"/api/v1/{resource}/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert after.content != before.content  # the same rows, their times in another zone


def rename_lead_agency(w: SimpleNamespace) -> None:
    Agency.objects.filter(pk=w.lead.pk).update(name="National Flood Authority")


CHANGES: dict[str, tuple[str, Callable[[SimpleNamespace], Any]]] = {
    "objective edited": (
        "objectives",
        lambda w: services.update_objective(
            objective=w.objectives[Marking.GREEN], by=w.lead_liaison, status="at_risk"
        ),
    ),
    "objective edited in the database": (
        "objectives",
        lambda w: Objective.objects.filter(pk=w.objectives[Marking.GREEN].pk).update(title="X"),
    ),
    "task done (progress)": (
        "objectives",
        lambda w: services.update_task(
            task=w.tasks[Marking.GREEN], by=w.lead_liaison, status="done"
        ),
    ),
    "task edited": (
        "tasks",
        lambda w: services.update_task(task=w.tasks[Marking.GREEN], by=w.lead_liaison, title="Y"),
    ),
    "update posted": (
        "updates",
        lambda w: services.post_update(
            task_force=w.tf, title="Levels", body="Rising.", by=w.lead_liaison
        ),
    ),
    "update acknowledged": (
        "updates",
        lambda w: services.acknowledge_update(update=w.ack_update, by=w.partner_staff),
    ),
    "task force renamed": (
        "task-forces",
        lambda w: services.update_task_force(task_force=w.tf, by=w.lead_liaison, name="Severn"),
    ),
    "lead agency renamed": ("task-forces", rename_lead_agency),
    "owner agency renamed": ("objectives", rename_lead_agency),
    "assignee renamed": (
        "tasks",
        lambda w: User.objects.filter(pk=w.lead_staff.pk).update(first_name="Renamed"),
    ),
    "role template slug changed": (
        "roles",
        lambda w: RoleTemplate.objects.filter(slug="member").update(slug="team-member"),
    ),
    "assignment ended": (
        "role-assignments",
        lambda w: services.end_assignment(
            assignment=w.lead_staff_assignment, by=w.lead_liaison, reason="Rotated out."
        ),
    ),
    "assignment expired": (
        "role-assignments",
        lambda w: (
            type(w.lead_staff_assignment)
            .objects.filter(pk=w.lead_staff_assignment.pk)
            .update(ends_at=timezone.now() + datetime.timedelta(seconds=1))
        ),
    ),
    "agency invited": (
        "participations",
        lambda w: services.invite_agency(
            task_force=w.tf, agency=w.outsider_agency, by=w.lead_liaison
        ),
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_to_what_a_list_shows_changes_its_etag(world, change) -> None:
    resource, make = CHANGES[change]
    world.lead_staff_task = services.update_task(
        task=world.tasks[Marking.GREEN], by=world.lead_liaison, assignee=world.lead_staff
    )
    world.ack_update = services.post_update(
        task_force=world.tf,
        title="Evacuate",
        body="Now.",
        requires_acknowledgement=True,
        by=world.lead_liaison,
    )
    # (what "acknowledged by me" says changes for the one who acknowledges)
    asker = world.partner_staff if change == "update acknowledged" else world.lead_liaison
    client = client_for(asker)
    before = client.get(f"/api/v1/{resource}/")
    make(world)
    if change == "assignment expired":
        import time

        time.sleep(1.1)
    after = client.get(f"/api/v1/{resource}/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.json() != before.json()


@pytest.mark.parametrize("signed_in", ["session", "token"])
def test_losing_access_changes_the_etag(world, signed_in: str) -> None:
    """Whoever asks, with a session or a token (whose owner's access is read with it:
    ``taskforces.api.authentication``), the access is read afresh by every request."""
    if signed_in == "token":
        client = bearer(create_token(owner=world.partner_staff, name="script")[1])
    else:
        client = client_for(world.partner_staff)
    before = client.get("/api/v1/objectives/")
    assert before.json()["count"] > 0
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Done."
    )
    after = client.get("/api/v1/objectives/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["count"] == 0


def test_a_change_in_another_task_force_leaves_the_etag_alone(world) -> None:
    other = services.form_task_force(
        name="Coastal surge", mandate="Prepare the coast.", by=world.lead_liaison
    )
    client = client_for(world.partner_staff)  # takes no part in the other task force
    before = client.get("/api/v1/objectives/")["ETag"]
    services.create_objective(
        task_force=other, title="Sandbags", owner_agency=world.lead, by=world.lead_liaison
    )
    assert client.get("/api/v1/objectives/", HTTP_IF_NONE_MATCH=before).status_code == 304


def test_a_hidden_object_is_a_404_whatever_the_header(world) -> None:
    red = world.objectives[Marking.RED]
    client = client_for(world.partner_staff)
    response = client.get(f"/api/v1/objectives/{red.pk}/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "table_change",
    [
        lambda w: TaskForce.objects.filter(pk=w.tf.pk).update(mandate="New."),
        lambda w: w.objectives[Marking.GREEN].contributing_agencies.remove(w.partner),
        lambda w: w.member_role.eligible_agencies.add(w.partner),
        lambda w: Objective.objects.filter(pk=w.objectives[Marking.GREEN].pk).delete(),
    ],
    ids=["own row", "contributing agencies", "eligible agencies", "deleted objective"],
)
def test_the_database_moves_the_content_version_whoever_writes(world, table_change) -> None:
    def version() -> int:
        return TaskForce.objects.values_list("content_version", flat=True).get(pk=world.tf.pk)

    before = version()
    table_change(world)
    assert version() > before


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(
    "query", ["page=0", "page=2147483648", "page_size=201", "page_size=x", "ordering=nope"]
)
def test_a_malformed_query_is_a_400_whatever_if_none_match_says(world, resource, query) -> None:
    """``If-None-Match: *`` matches any ETag, but a query the schema refuses is still
    refused (found by schemathesis): the query is checked before the ETag."""
    response = client_for(world.lead_liaison).get(
        f"/api/v1/{resource}/?{query}", HTTP_IF_NONE_MATCH="*"
    )
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["fields"]
