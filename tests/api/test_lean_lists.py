"""The lean lists (``taskforces.api.lean``) answer exactly what the general path answers:
the same bytes, status, ETag-relevant headers and pages, for every persona, every lean
list and several page sizes; a request asking for more than a page, and a page past the
last one, go the general way. PostgreSQL only: the statements are PostgreSQL's."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from rest_framework.test import APIClient

from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.api import lean
from taskforces.models import Update

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the lean statements are PostgreSQL's"
    ),
]

LEAN = ("objectives", "tasks", "updates", "task-forces", "role-assignments")
PERSONAS = ("portal_admin", "lead_admin", "lead_liaison", "partner_staff", "outsider")
PAGES = ("", "?page_size=200", "?page_size=2", "?page=2&page_size=2", "?page=3&page_size=1")


def answers(people: list[User]) -> dict[tuple[int, str], tuple[int, bytes]]:
    found = {}
    for someone in people:
        client = APIClient()
        client.force_authenticate(someone)
        for resource in LEAN:
            for query in PAGES:
                response = client.get(f"/api/v1/{resource}/{query}")
                found[(someone.pk, f"{resource}/{query}")] = (
                    response.status_code,
                    response.content,
                )
    return found


def richer(world: SimpleNamespace) -> None:
    """Rows of every shape the lists show: an update asking roles and agencies, one
    acknowledged, a task for a role, an ended assignment."""
    asking = services.post_update(
        task_force=world.tf,
        title="Asks two",
        body="Please confirm.",
        by=world.lead_liaison,
        requires_acknowledgement=True,
        ack_roles=list(world.tf.roles.all()[:2]),
        ack_agencies=[world.partner, world.lead],
    )
    services.acknowledge_update(update=asking, by=world.lead_liaison)
    assert Update.objects.filter(ack_roles__isnull=False).exists()
    # a mandate the partner may not read (its agency sees less than TLP:RED there)
    services.update_task_force(task_force=world.tf, marking=Marking.RED, by=world.lead_liaison)


def test_every_lean_list_is_byte_for_byte_the_general_answer(world, monkeypatch) -> None:
    richer(world)
    people = [getattr(world, p) for p in PERSONAS]
    used = []
    original = lean.lean_answer

    def counting(view, request):
        answer = original(view, request)
        used.append(answer is not None)
        return answer

    monkeypatch.setattr("taskforces.api.views.lean_answer", counting)
    fast = answers(people)
    assert any(used) and not all(used)  # lean answers, and general ones past the last page
    monkeypatch.setattr("taskforces.api.views.lean_answer", lambda view, request: None)
    general = answers(people)
    assert fast.keys() == general.keys()
    differing = [key for key in fast if fast[key] != general[key]]
    assert not differing, [(key, fast[key], general[key]) for key in differing[:3]]
    # the comparison saw rows of every list, and nested references of every kind
    shown = b"".join(body for status, body in fast.values() if status == 200)
    for piece in (b'"contributing_agencies":[{', b'"ack_roles":[{', b'"ack_agencies":[{'):
        assert piece in shown
    assert b'"acknowledged_by_me":true' in shown and b'"mandate_withheld":true' in shown


def test_a_lean_list_writes_times_in_the_readers_zone_as_the_general_path(
    world, monkeypatch
) -> None:
    """Times are written in the reader's zone (``TimeZoneMiddleware``), read once per
    answer by the lean lists: the same text as the general path, offset included."""
    reader = world.lead_liaison
    reader.time_zone = "Pacific/Auckland"
    reader.save(update_fields=["time_zone"])
    client = APIClient()
    client.force_login(reader)  # a session: the middleware knows the reader
    lean_answers = {r: client.get(f"/api/v1/{r}/").content for r in LEAN}
    monkeypatch.setattr("taskforces.api.views.lean_answer", lambda view, request: None)
    general = {r: client.get(f"/api/v1/{r}/").content for r in LEAN}
    assert lean_answers == general
    offsets = re.findall(rb'"created_at":"[0-9T:.-]+([+-][0-9]{2}:[0-9]{2}|Z)"', general[LEAN[0]])
    assert offsets and set(offsets) <= {b"+12:00", b"+13:00"}


def test_anything_but_a_page_takes_the_general_path(world, monkeypatch) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    calls = []
    monkeypatch.setattr(lean, "statement_for", lambda *a: calls.append(a))
    for query in ("?status=done", "?ordering=id", "?task_force=1", "?page=abc"):
        response = client.get(f"/api/v1/tasks/{query}")
        assert response.status_code in (200, 400)
    assert calls == []
    assert client.get("/api/v1/tasks/?page=0").status_code == 400


def test_a_conditional_get_of_a_lean_list_answers_304_until_the_content_changes(world) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    first = client.get("/api/v1/updates/")
    again = client.get("/api/v1/updates/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    services.post_update(task_force=world.tf, title="New", body="News.", by=world.lead_liaison)
    changed = client.get("/api/v1/updates/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and b"News." in changed.content
    assignments = client.get("/api/v1/role-assignments/")
    assert (
        client.get("/api/v1/role-assignments/", HTTP_IF_NONE_MATCH=assignments["ETag"]).status_code
        == 304
    )


def test_posting_an_update_answers_it_as_the_general_path_shows_it(world, monkeypatch) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    roles = [role.pk for role in world.tf.roles.all()[:2]]
    body = {
        "task_force": world.tf.pk,
        "title": "Asking",
        "body": "Confirm, please.",
        "requires_acknowledgement": True,
        "ack_roles": roles,
        "ack_agencies": [world.partner.pk],
    }
    posted = client.post("/api/v1/updates/", body, format="json")
    assert posted.status_code == 201
    shown = client.get(f"/api/v1/updates/{posted.json()['id']}/")
    assert posted.content == shown.content
    # and the general path's answer to posting (the object re-read through the core)
    monkeypatch.setattr(lean, "one_update", lambda pk, user: None)
    again = client.post("/api/v1/updates/", {**body, "title": "Asking"}, format="json")
    assert again.status_code == 201
    assert again.json() | {"id": 0, "created_at": ""} == posted.json() | {
        "id": 0,
        "created_at": "",
    }


@pytest.mark.parametrize("resource", LEAN)
def test_a_lean_list_is_its_statement_and_the_persons_access(
    world, resource, django_assert_max_num_queries
) -> None:
    """The person's access (membership, holdings, ceilings: at most three statements) and
    the list's own statement, whatever the page shows; the general path took three to
    four more (the count, the prefetches)."""
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    client.get(f"/api/v1/{resource}/")  # anything read once per connection
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/v1/{resource}/?page_size=200")
    assert response.status_code == 200 and response.json()["count"] > 0
