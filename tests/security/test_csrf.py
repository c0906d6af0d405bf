"""CSRF on every form: a POST without the CSRF token, to every URL of the catalogue, is
refused with 403 and changes nothing, whoever sends it. The same POST with the token does
change something (for the forms the catalogue gives data for), so it is the token check,
not a bad form, that stops it. Every POST form a page shows carries the token (checked on
every page by test_csp.py), and htmx sends it as a header.

The JSON API: token requests carry no cookies, so they need no CSRF token; requests
authenticated by the browser's session cookie must carry it (DRF's SessionAuthentication).
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.test import Client
from rest_framework.test import APIClient

from taskforces.models import Acknowledgement

from .conftest import changes, client_for, path_of, snapshot
from .pages import PAGES, critical_update

pytestmark = pytest.mark.usefixtures("module_world")

WITH_DATA = [name for name, page in PAGES.items() if page.data is not None]


@pytest.mark.parametrize("name", list(PAGES))
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world, name) -> None:
    page = PAGES[name]
    visit = page.open(world)
    data = page.data(world) if page.data else {"anything": "at all"}
    client = client_for(visit, enforce_csrf_checks=True)
    path = path_of(name, visit)
    before = snapshot()

    response = client.post(path, data)

    assert response.status_code == 403, (name, response.status_code)
    assert "403_csrf.html" in [t.name for t in response.templates], name
    assert "could not be accepted" in response.content.decode()
    assert not changes(before, snapshot()), name


@pytest.mark.parametrize("name", WITH_DATA)
def test_the_same_post_with_the_token_does_change_something(world, name) -> None:
    """The control for the test above: its forms are valid, only the token was missing."""
    page = PAGES[name]
    visit = page.open(world)
    assert page.data is not None
    data = page.data(world)
    client = client_for(visit, enforce_csrf_checks=True)
    path = path_of(name, visit)
    # the token a page hands out: GET a page (for POST-only URLs, the dashboard)
    client.get(path if page.get else "/")
    token = client.cookies["csrftoken"].value
    before = snapshot()

    response = client.post(path, data, headers={"X-CSRFToken": token})

    assert response.status_code in (200, 302), (name, response.status_code)
    assert changes(before, snapshot()), f"{name}: the POST changed nothing"


def test_a_session_api_write_needs_the_csrf_token(world) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.lead_liaison)
    body = {"title": "Levee", "body": "Holding.", "marking": 1, "task_force": world.tf.pk}
    before = snapshot()

    response = client.post("/api/v1/updates/", body, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert not changes(before, snapshot())


def test_a_token_api_write_needs_no_csrf_token_because_it_carries_no_cookie(world) -> None:
    from coordination.accounts.tokens import create_token

    _, secret = create_token(owner=world.lead_liaison, name="Dispatch")
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/updates/",
        {"title": "Levee", "body": "Holding.", "marking": 1, "task_force": world.tf.pk},
        format="json",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 201, response.content


def test_htmx_requests_carry_the_token_the_page_gives_them(world) -> None:
    """htmx takes its headers from the body's hx-headers: the token there is accepted."""
    update = critical_update(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.lead_staff)
    html = client.get(f"/updates/{update.pk}/").content.decode()
    found = re.search(r"<body hx-headers='(\{[^']*\})'", html)
    assert found, "the page gives htmx no headers"
    headers = json.loads(unescape(found.group(1)))
    assert set(headers) == {"X-CSRFToken"}

    without = client.post(
        f"/updates/{update.pk}/acknowledge/",
        headers={"HX-Request": "true", "HX-Target": "ack-area"},
    )
    assert without.status_code == 403
    with_header = client.post(
        f"/updates/{update.pk}/acknowledge/",
        headers={"HX-Request": "true", "HX-Target": "ack-area", **headers},
    )
    assert with_header.status_code == 200
    assert Acknowledgement.objects.filter(update=update, person=world.lead_staff).exists()
