"""What `make run` shows for ordinary mistakes: the portal's own 400/403/404/500 pages,
never Django's debug pages (issue 15, item 16).

`make run` serves coordination.settings.local with no DJANGO_DEBUG in the environment; a
subprocess loads exactly that and asks the portal through Django's test client, as a browser
would ask runserver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.urls import reverse

from coordination.permissions.markings import Marking

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1:8000")
answers = {"debug": settings.DEBUG}
for name, path in (("static", "/static/css/concord.css"), ("missing", "/no-such-page/")):
    response = client.get(path)
    body = b"".join(response) if response.streaming else response.content
    answers[name] = {"status": response.status_code, "body": body.decode(errors="replace")}
print(json.dumps(answers))
"""


def _as_make_run_serves() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "DATABASE_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "coordination.settings.local"
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_run_serves_without_debug_pages_and_with_static_files() -> None:
    answers = _as_make_run_serves()
    assert answers["debug"] is False
    assert answers["static"]["status"] == 200
    css = (ROOT / "coordination" / "static" / "css" / "concord.css").read_text()
    assert answers["static"]["body"] == css
    missing = answers["missing"]
    assert missing["status"] == 404
    assert ">Not found</h1>" in missing["body"]
    assert "Concord" in missing["body"]
    assert "Traceback" not in missing["body"]
    assert "URLconf" not in missing["body"]


def test_the_makefile_run_target_uses_the_local_settings_without_debug() -> None:
    makefile = (ROOT / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "DJANGO_DEBUG" not in run
    assert "DJANGO_SETTINGS_MODULE" not in run or "settings.local" in run
    assert "coordination.settings.local" in (ROOT / "manage.py").read_text()


# --- the portal's pages for each mistake, with DEBUG as `make run` has it ----------------------


def _portal_page(response, status: int, heading: str) -> None:
    body = response.content.decode()
    assert response.status_code == status, body[:500]
    assert heading in body
    assert "Concord" in body
    assert "Traceback" not in body
    assert "URLconf" not in body


@pytest.fixture
def no_debug(settings):
    settings.DEBUG = False


def test_a_hidden_item_is_the_portal_s_404(client, world, no_debug) -> None:
    client.force_login(world.outsider)
    response = client.get(
        reverse("taskforces:objective", args=[world.objectives[Marking.AMBER].pk])
    )
    _portal_page(response, 404, ">Not found</h1>")


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-13-45",
        "outcome=maybe",
        "object_type=nope",
        "since=2026-05-02&until=2026-05-01",
        "ip_address=300.1.1.1",
    ],
)
def test_a_bad_audit_filter_is_the_portal_s_400(client, world, no_debug, query: str) -> None:
    client.force_login(world.portal_admin)
    response = client.get(reverse("audit:list") + "?" + query)
    _portal_page(response, 400, "could not be understood")


def test_a_forbidden_page_is_the_portal_s_403(client, world, no_debug) -> None:
    client.force_login(world.lead_staff)
    _portal_page(client.get(reverse("audit:list")), 403, "Not allowed")


def test_a_server_error_is_the_portal_s_500(client, world, no_debug) -> None:
    client.raise_request_exception = False
    client.force_login(world.lead_staff)
    with mock.patch("taskforces.views.home.render", side_effect=RuntimeError("boom")):
        response = client.get(reverse("dashboard"))
    _portal_page(response, 500, "Something went wrong on our side")
