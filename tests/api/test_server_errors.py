"""Every answer under /api/ is in the API's JSON error shape, whatever failed and
wherever: a view raising something unexpected, a middleware raising, Django's own
refusals before any view runs (a bad Host header, an unknown path, a wrong method), also
with DEBUG on. Pages outside /api/ keep the portal's HTML error pages."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = [
    pytest.mark.usefixtures("module_world"),
    pytest.mark.urls("tests.api.error_urls"),
]


class RaisingMiddleware:
    """A middleware with a bug."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raise RuntimeError("SECRET-DETAIL in a middleware")


RAISING = "tests.api.test_server_errors.RaisingMiddleware"


def json_error(response: Any, status_code: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status_code, response.content[:300]
    assert response["Content-Type"] == "application/json"
    content = response.content.decode()
    assert "SECRET-DETAIL" not in content
    assert "Traceback" not in content and "<html" not in content.lower()
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert error["status"] == status_code
    assert error["message"] and error["fields"] == {}
    if code is not None:
        assert error["code"] == code
    return error


def html_page(response: Any, status_code: int) -> None:
    assert response.status_code == status_code
    assert response["Content-Type"].startswith("text/html")
    assert b"SECRET-DETAIL" not in response.content


def signed_in(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", ["/api/v1/crash/", "/api/v1/crash-drf/"])
def test_an_unexpected_exception_in_a_view_is_a_json_500(world: SimpleNamespace, url: str) -> None:
    json_error(signed_in(world.lead_liaison).get(url), 500, "server_error")


@pytest.mark.parametrize("url", ["/api/v1/crash/", "/api/v1/crash-drf/", "/api/v1/nothing/"])
def test_debug_pages_are_not_api_answers(world: SimpleNamespace, url: str) -> None:
    """With DEBUG on (``make run``), the API still answers in its shape; the details go
    to the log, as they do in production."""
    with override_settings(DEBUG=True):
        response = signed_in(world.lead_liaison).get(url)
    json_error(response, 404 if "nothing" in url else 500)


def test_outside_the_api_a_crash_keeps_the_portals_page(world: SimpleNamespace) -> None:
    response = signed_in(world.lead_liaison).get("/crash/")
    html_page(response, 500)
    assert b"Something went wrong on our side" in response.content


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_raising_middleware_is_a_json_500_under_the_api(
    world: SimpleNamespace, position: str
) -> None:
    middleware = list(settings.MIDDLEWARE)
    index = {"first": 0, "middle": len(middleware) // 2, "last": len(middleware)}[position]
    middleware.insert(index, RAISING)
    with override_settings(MIDDLEWARE=middleware):
        client = Client(raise_request_exception=False)
        json_error(client.get("/api/v1/agencies/"), 500, "server_error")
        json_error(client.post("/api/v1/agencies/", {}), 500, "server_error")
        html_page(client.get("/healthz/"), 500)


def test_a_bad_host_header_is_a_json_400(world: SimpleNamespace) -> None:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(world.lead_liaison)
    json_error(client.get("/api/v1/agencies/", HTTP_HOST="evil.example"), 400)
    html_page(Client().get("/healthz/", HTTP_HOST="evil.example"), 400)


def test_unknown_api_paths_are_json_404s(world: SimpleNamespace) -> None:
    client = signed_in(world.lead_liaison)
    for url in ["/api/", "/api/v2/agencies/", "/api/v1/agencies/1/nothing/", "/api/docs/x"]:
        json_error(client.get(url), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("delete", "/api/v1/agencies/"),
        ("put", "/api/v1/task-forces/"),
        ("post", "/api/schema/"),
        ("delete", "/api/docs/"),
        ("patch", "/api/v1/notifications/read-all/"),
    ],
)
def test_a_wrong_method_is_a_json_405(world: SimpleNamespace, method: str, url: str) -> None:
    response = getattr(signed_in(world.lead_liaison), method)(url)
    json_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_a_csrf_failure_is_a_json_403(world: SimpleNamespace) -> None:
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(world.lead_liaison)
    json_error(
        client.post(f"/api/v1/task-forces/{world.tf.pk}/transition/", {"status": "active"}), 403
    )
