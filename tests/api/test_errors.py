"""One error shape for every failure; bad query parameters are 400s, never 500s or
silently ignored; request limits per person and per token answer 429."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from coordination.accounts.tokens import create_token
from coordination.permissions.markings import Marking

ERROR_KEYS = {"status", "code", "message", "fields"}

# The world is built once for the module; each test changes it only in its own savepoint.
pytestmark = pytest.mark.usefixtures("module_world")


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def error_of(response: Any, status_code: int) -> dict[str, Any]:
    assert response.status_code == status_code, response.content[:400]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS
    assert error["status"] == status_code
    assert error["message"]
    return error


def test_400_names_the_fields(world: SimpleNamespace) -> None:
    response = client_for(world.lead_liaison).post(
        "/api/v1/objectives/", {"title": "", "marking": 9}, format="json"
    )
    error = error_of(response, 400)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"task_force", "title", "owner_agency", "marking"}
    assert all(isinstance(messages, list) for messages in error["fields"].values())


def test_400_from_a_service_carries_its_field_messages(world: SimpleNamespace) -> None:
    """The service refuses (a TLP:RED objective by someone without view_restricted is not
    possible here, so: a task force cannot go from forming to standing down)."""
    response = client_for(world.lead_liaison).post(
        f"/api/v1/task-forces/{world.tf.pk}/transition/",
        {"status": "standing_down"},
        format="json",
    )
    error = error_of(response, 400)
    # the refusal names the moves that are allowed (taskforces.lifecycles)
    said = (
        "A task force that is forming cannot become standing down (it can become: active, closed)."
    )
    assert error["fields"] == {"status": [said]}
    assert error["message"] == said


def test_400_for_a_body_that_is_not_an_object(world: SimpleNamespace) -> None:
    response = client_for(world.lead_liaison).post("/api/v1/objectives/", [1, 2], format="json")
    assert error_of(response, 400)["fields"]["non_field_errors"]
    response = client_for(world.lead_liaison).generic(
        "POST", "/api/v1/objectives/", "{not json", content_type="application/json"
    )
    assert error_of(response, 400)["code"] == "parse_error"


def test_400_for_nested_list_items(world: SimpleNamespace) -> None:
    response = client_for(world.lead_liaison).post(
        "/api/v1/roles/",
        {
            "task_force": world.tf.pk,
            "name": "Hydrologist",
            "responsibilities": "Models.",
            "capabilities": ["view_taskforce", "fly"],
        },
        format="json",
    )
    error = error_of(response, 400)
    assert list(error["fields"]) == ["capabilities.1"]


def test_401_without_credentials(world: SimpleNamespace) -> None:
    response = client_for(None).get("/api/v1/agencies/")
    error = error_of(response, 401)
    assert error["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_403_says_why(world: SimpleNamespace) -> None:
    response = client_for(world.partner_staff).patch(
        f"/api/v1/objectives/{world.objectives[Marking.GREEN].pk}/",
        {"priority": 4},
        format="json",
    )
    error = error_of(response, 403)
    assert error["code"] == "permission_denied"
    assert (
        "None of your roles in River Severn flood response includes the capability"
        in (error["message"])
    )


def test_404_for_hidden_and_missing_alike(world: SimpleNamespace) -> None:
    client = client_for(world.partner_staff)
    hidden = client.get(f"/api/v1/objectives/{world.objectives[Marking.RED].pk}/")
    missing = client.get("/api/v1/objectives/987654/")
    nonsense = client.get("/api/v1/objectives/abc/")
    huge = client.get(f"/api/v1/objectives/{2**70}/")
    nowhere = client.get("/api/v1/no-such-thing/")
    bodies = {r.content for r in (hidden, missing, nonsense, huge, nowhere)}
    assert len(bodies) == 1
    assert error_of(hidden, 404)["code"] == "not_found"


def test_405_for_methods_the_api_does_not_offer(world: SimpleNamespace) -> None:
    client = client_for(world.lead_liaison)
    objective = world.objectives[Marking.GREEN].pk
    for method, url in [
        ("delete", f"/api/v1/objectives/{objective}/"),
        ("put", f"/api/v1/objectives/{objective}/"),
        ("post", "/api/v1/participations/"),
        ("patch", f"/api/v1/updates/{world.updates[Marking.AMBER].pk}/"),
        ("get", f"/api/v1/updates/{world.updates[Marking.AMBER].pk}/acknowledge/"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert error_of(response, 405)["code"] == "method_not_allowed", (method, url)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/objectives/?status=nonsense", "status"),
        ("/api/v1/objectives/?priority=7", "priority"),
        ("/api/v1/objectives/?owner_agency=abc", "owner_agency"),
        ("/api/v1/objectives/?task_force=abc", "task_force"),
        ("/api/v1/objectives/?task_force=-1", "task_force"),
        ("/api/v1/tasks/?assignee=1.5", "assignee"),
        ("/api/v1/agencies/?level=galactic", "level"),
        ("/api/v1/agencies/?q=" + "x" * 101, "q"),
        ("/api/v1/agencies/?q=a%00b", "q"),
        ("/api/v1/audit-events/?since=yesterday", "since"),
        ("/api/v1/objectives/?ordering=password", "ordering"),
        ("/api/v1/objectives/?ordering=title,-title", "ordering"),
        ("/api/v1/objectives/?ordering=task_force__lead_agency__name", "ordering"),
        ("/api/v1/objectives/?page=0", "page"),
        ("/api/v1/objectives/?page=-2", "page"),
        ("/api/v1/objectives/?page=two", "page"),
        ("/api/v1/objectives/?page=", "page"),
        ("/api/v1/objectives/?status=", "status"),
        ("/api/v1/memberships/?is_active=yes", "is_active"),
        ("/api/v1/audit-events/?until=2026-01-01", "until"),
        ("/api/v1/audit-events/?until=9999-12-31T23:59:59-23:00", "until"),
        ("/api/v1/audit-events/?since=2026-13-45T10:00:00Z", "since"),
        ("/api/v1/objectives/?page=99", "page"),
        ("/api/v1/objectives/?page_size=0", "page_size"),
        ("/api/v1/objectives/?page_size=1000", "page_size"),
        ("/api/v1/objectives/?page=" + "9" * 40, "page"),
    ],
)
def test_bad_query_parameters_are_400(world: SimpleNamespace, url: str, field: str) -> None:
    error = error_of(
        client_for(world.portal_admin if "audit" in url else world.lead_liaison).get(url), 400
    )
    assert list(error["fields"]) == [field], error


def test_any_rfc_3339_offset_is_understood(world: SimpleNamespace) -> None:
    """PostgreSQL refuses offsets beyond ±15:59 (found by schemathesis): times are turned
    into UTC before they reach the database, the same moment either way."""
    from urllib.parse import quote

    client = client_for(world.portal_admin)
    far = client.get("/api/v1/audit-events/?since=" + quote("2875-07-04T12:20:16+18:29"))
    assert far.status_code == 200, far.content
    assert far.json()["count"] == 0
    near = client.get("/api/v1/audit-events/?since=" + quote("2000-01-01T18:29:00+18:29"))
    assert near.json()["count"] > 0


def test_good_query_parameters_work(world: SimpleNamespace) -> None:
    client = client_for(world.lead_liaison)
    response = client.get("/api/v1/objectives/?ordering=-priority,title&page=1&page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["next"]
    priorities = [o["priority"] for o in body["results"]]
    assert priorities == sorted(priorities, reverse=True)
    only_red = client.get(f"/api/v1/objectives/?task_force={world.tf.pk}&status=not_started&q=RED")
    assert [o["title"] for o in only_red.json()["results"]] == ["Objective TLP:RED"]
    empty = client.get("/api/v1/notifications/?page=1")
    assert empty.status_code == 200 and empty.json()["count"] == 0


def _rates(user: str, token: str) -> Any:
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": user, "token": token},
        }
    )


def test_session_requests_are_limited_per_person(world: SimpleNamespace) -> None:
    with _rates(user="3/min", token="100/min"):
        client = client_for(world.partner_staff)
        for _ in range(3):
            assert client.get("/api/v1/agencies/").status_code == 200
        response = client.get("/api/v1/task-forces/")
        error = error_of(response, 429)
        assert error["code"] == "throttled"
        assert int(response["Retry-After"]) > 0
        # another person has their own budget
        assert client_for(world.partner_liaison).get("/api/v1/agencies/").status_code == 200


def test_token_requests_are_limited_per_token(world: SimpleNamespace) -> None:
    _, first = create_token(owner=world.partner_staff, name="Dashboard")
    _, second = create_token(owner=world.partner_staff, name="Dispatch")
    with _rates(user="100/min", token="2/min"):
        one = APIClient()
        one.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
        assert one.get("/api/v1/agencies/").status_code == 200
        assert one.get("/api/v1/agencies/").status_code == 200
        error_of(one.get("/api/v1/agencies/"), 429)
        two = APIClient()
        two.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
        assert two.get("/api/v1/agencies/").status_code == 200
        # the person's browser session has its own budget too
        assert client_for(world.partner_staff).get("/api/v1/agencies/").status_code == 200
