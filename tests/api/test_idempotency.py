"""``Idempotency-Key`` on every API create (the operations answering 201, enumerated
from the schema): a retry with the same key and body gets the same answer and creates
nothing; the same key with another body is a 422; keys belong to their person, expire,
and are not left behind by a create that rolled back. Without the header nothing
changes. The race of two requests with one key is in ``tests/concurrency``."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from coordination.api.tasks import purge_idempotency_keys
from coordination.models import IdempotencyKey
from coordination.permissions.markings import Marking
from taskforces.models import Update

from ..conftest import role_named
from .operations import create_operations, database_fingerprint, schema
from .test_permission_matrix import CREATES, OPS

pytestmark = pytest.mark.usefixtures("module_world")

Build = Callable[[SimpleNamespace], tuple[str, str, dict[str, Any]]]


def matrix_op(op: str, persona: str, obj: Callable[[SimpleNamespace], Any]) -> Build:
    def build(w: SimpleNamespace) -> tuple[str, str, dict[str, Any]]:
        _, url, body = OPS[op](w, obj(w))
        return persona, url, body or {}

    return build


def matrix_create(op: str, persona: str) -> Build:
    def build(w: SimpleNamespace) -> tuple[str, str, dict[str, Any]]:
        resource, body = CREATES[op](w)
        return persona, f"/api/v1/{resource}/", body

    return build


# Each create operation of the schema: who makes one in the test world, and how.
CREATES_BY_PATH: dict[str, Build] = {
    "/api/v1/agencies/": matrix_create("apply_for_agency", "outsider"),
    "/api/v1/agreements/": matrix_create("create_agreement", "lead_admin"),
    "/api/v1/task-forces/": matrix_create("form_task_force", "lead_liaison"),
    "/api/v1/memberships/": matrix_op("add_member", "lead_admin", lambda w: w.lead),
    "/api/v1/roles/": matrix_op("create_role", "lead_liaison", lambda w: w.tf),
    "/api/v1/objectives/": matrix_op("create_objective", "lead_liaison", lambda w: w.tf),
    "/api/v1/updates/": matrix_op("post_update", "lead_liaison", lambda w: w.tf),
    "/api/v1/tasks/": matrix_op(
        "create_task", "lead_liaison", lambda w: next(iter(w.objectives.values()))
    ),
    "/api/v1/task-forces/{id}/invite/": matrix_op("invite", "lead_liaison", lambda w: w.tf),
    "/api/v1/roles/{id}/assign/": matrix_op(
        "assign", "lead_liaison", lambda w: role_named(w.tf, "observer")
    ),
    "/api/v1/timeline-entries/": lambda w: (
        "lead_liaison",
        "/api/v1/timeline-entries/",
        {"task_force": w.tf.pk, "text": "Gauge at 4.2 m", "marking": Marking.GREEN},
    ),
}


# mutual aid (issue 20)
def _aid_request(w: SimpleNamespace) -> Any:
    import datetime

    from django.utils import timezone

    from mutualaid import services as aid

    return aid.raise_request(
        task_force=w.tf,
        by=w.lead_liaison,
        description="Boat teams",
        quantity=5,
        location="Upton",
        needed_by=timezone.now() + datetime.timedelta(days=1),
        justification="Evacuation.",
        addressed_agencies=[w.partner],
    )


def _in_a_day() -> str:
    import datetime

    from django.utils import timezone

    return (timezone.now() + datetime.timedelta(days=1)).isoformat()


def _aid_offer(w: SimpleNamespace) -> Any:
    import datetime

    from django.utils import timezone

    from mutualaid import services as aid

    return aid.make_offer(
        request=_aid_request(w),
        by=w.partner_liaison,
        description="2 boats",
        quantity=2,
        available_from=timezone.now() + datetime.timedelta(hours=3),
    )


def _first_kind() -> int:
    from mutualaid import services as aid
    from mutualaid.models import ResourceKind

    aid.ensure_resource_kinds()
    return ResourceKind.objects.order_by("pk").values_list("pk", flat=True)[0]


CREATES_BY_PATH.update(
    {
        "/api/v1/resource-requests/": lambda w: (
            "lead_liaison",
            "/api/v1/resource-requests/",
            {
                "task_force": w.tf.pk,
                "description": "Sandbags",
                "quantity": 20,
                "location": "Upton",
                "needed_by": _in_a_day(),
                "justification": "Defences.",
            },
        ),
        "/api/v1/agency-capabilities/": lambda w: (
            "partner_liaison",
            "/api/v1/agency-capabilities/",
            {"kind": _first_kind(), "typical_quantity": 2},
        ),
        "/api/v1/resource-requests/{id}/offer/": lambda w: (
            "partner_liaison",
            f"/api/v1/resource-requests/{_aid_request(w).pk}/offer/",
            {"description": "Boats", "quantity": 1, "available_from": _in_a_day()},
        ),
        "/api/v1/resource-offers/{id}/accept/": lambda w: (
            "lead_liaison",
            f"/api/v1/resource-offers/{_aid_offer(w).pk}/accept/",
            {"quantity": 1},
        ),
    }
)
PATHS = sorted(CREATES_BY_PATH)


def send(user: Any, url: str, body: Any, key: str | None = None) -> Any:
    client = APIClient()
    client.force_authenticate(user)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def first_create(w: SimpleNamespace, path: str, key: str) -> tuple[Any, str, dict[str, Any], Any]:
    persona, url, body = CREATES_BY_PATH[path](w)
    user = getattr(w, persona)
    response = send(user, url, body, key)
    assert response.status_code == 201, response.content[:400]
    return user, url, body, response


def error_code(response: Any, status_code: int) -> str:
    assert response.status_code == status_code, response.content[:400]
    error = response.json()["error"]
    assert error["status"] == status_code and error["message"]
    return error["code"]


def test_every_create_operation_is_here() -> None:
    assert {path for method, path in create_operations()} == set(CREATES_BY_PATH)
    assert all(method == "post" for method, _ in create_operations())


def test_the_schema_documents_the_header_on_creates_only() -> None:
    creates = set(create_operations())
    for path, operations in schema()["paths"].items():
        for method, operation in operations.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if (method, path) in creates:
                assert "Idempotency-Key" in headers, (method, path)
                assert {"409", "422"} <= set(operation["responses"]), (method, path)
            else:
                assert "Idempotency-Key" not in headers, (method, path)


@pytest.mark.parametrize("path", PATHS)
def test_a_retry_gets_the_same_answer_and_creates_nothing(
    world: SimpleNamespace, path: str
) -> None:
    user, url, body, first = first_create(world, path, "retry-0001")
    after_first = database_fingerprint()
    # the same body, its keys in another order
    again = send(user, url, dict(reversed(list(body.items()))), "retry-0001")
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert database_fingerprint() == after_first


@pytest.mark.parametrize("path", PATHS)
def test_the_same_key_with_another_body_is_422(world: SimpleNamespace, path: str) -> None:
    user, url, body, _ = first_create(world, path, "reuse-0001")
    after_first = database_fingerprint()
    response = send(user, url, {**body, "note": "another request"}, "reuse-0001")
    assert error_code(response, 422) == "idempotency_key_reused"
    assert database_fingerprint() == after_first


@pytest.mark.parametrize("path", PATHS)
def test_a_refused_create_leaves_no_key(world: SimpleNamespace, path: str) -> None:
    persona, url, body = CREATES_BY_PATH[path](world)
    user = getattr(world, persona)
    before = database_fingerprint()
    assert send(user, url, {}, "refused-0001").status_code == 400
    assert database_fingerprint() == before
    assert not IdempotencyKey.objects.exists()
    # the corrected request runs under the same key
    assert send(user, url, body, "refused-0001").status_code == 201


def test_keys_belong_to_their_person(world: SimpleNamespace) -> None:
    _, url, body = CREATES_BY_PATH["/api/v1/updates/"](world)
    mine = send(world.lead_liaison, url, body, "shared-0001")
    theirs = send(world.lead_staff, url, body, "shared-0001")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_without_a_key_every_request_creates(world: SimpleNamespace) -> None:
    _, url, body = CREATES_BY_PATH["/api/v1/updates/"](world)
    before = Update.objects.count()
    first = send(world.lead_liaison, url, body)
    second = send(world.lead_liaison, url, body)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert Update.objects.count() == before + 2
    assert not IdempotencyKey.objects.exists()


def test_a_key_expires(world: SimpleNamespace, settings: Any) -> None:
    settings.CONCORD_IDEMPOTENCY_KEY_HOURS = 24
    _, url, body = CREATES_BY_PATH["/api/v1/updates/"](world)
    first = send(world.lead_liaison, url, body, "expiring-0001")
    stored = IdempotencyKey.objects.get(user=world.lead_liaison, key="expiring-0001")
    assert stored.expires_at - stored.created_at == datetime.timedelta(hours=24)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=23), tick=False):
        assert send(world.lead_liaison, url, body, "expiring-0001").json() == first.json()
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25), tick=False):
        later = send(world.lead_liaison, url, {**body, "title": "Later"}, "expiring-0001")
        assert later.status_code == 201
        assert later.json()["id"] != first.json()["id"]
        assert purge_idempotency_keys() == 0  # the one left is the new one
    assert IdempotencyKey.objects.get(key="expiring-0001").fingerprint != stored.fingerprint
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=50), tick=False):
        assert purge_idempotency_keys() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "tab\there"])
def test_a_malformed_key_is_a_400(world: SimpleNamespace, key: str) -> None:
    _, url, body = CREATES_BY_PATH["/api/v1/updates/"](world)
    before = database_fingerprint()
    response = send(world.lead_liaison, url, body, key)
    assert error_code(response, 400) == "invalid"
    assert list(response.json()["error"]["fields"]) == ["Idempotency-Key"]
    assert database_fingerprint() == before
