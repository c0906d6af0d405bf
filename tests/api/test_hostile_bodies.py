"""Request bodies built to break the JSON parser, sent to every write operation of the
API (enumerated from its schema): each is a 400 in the error shape, and nothing in the
database changes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from coordination.api.errors import error_body

from .operations import database_fingerprint, url_for, write_operations

pytestmark = pytest.mark.usefixtures("module_world")

HOSTILE_BODIES = {
    # a RecursionError in json's scanner
    "nested_lists": "[" * 1000 + "]" * 1000,
    "nested_objects": '{"a":' * 1000 + "1" + "}" * 1000,
    # deep enough to refuse, too shallow to overflow anything
    "nested_40": '{"title": ' + "[" * 40 + "]" * 40 + "}",
    # lone surrogates, written as JSON escapes (valid JSON, not encodable as UTF-8)
    "surrogate_in_choice": r'{"status": "a\ud800b"}',
    "surrogate_in_key": r'{"reason\udfff": "x", "status": "active"}',
    "surrogate_in_list": r'{"capabilities": ["view_taskforce", "\udc80"], "reason": "ok"}',
}


@pytest.mark.parametrize(
    ("method", "path"), write_operations(), ids=[f"{m} {p}" for m, p in write_operations()]
)
@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=str)
def test_hostile_body_is_a_400_and_changes_nothing(
    world: SimpleNamespace, method: str, path: str, body: str
) -> None:
    user = world.lead_liaison
    url = url_for(path, user)
    before = database_fingerprint()
    client = APIClient()
    client.force_authenticate(user)
    response = client.generic(
        method.upper(), url, HOSTILE_BODIES[body], content_type="application/json"
    )
    assert response.status_code == 400, (url, response.content[:300])
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["code"] == "parse_error"
    assert error["message"]
    assert database_fingerprint() == before


def test_the_write_operations_are_all_there() -> None:
    """The enumeration is the schema's: all 36 write operations of today's API."""
    assert len(write_operations()) >= 36


def test_well_nested_bodies_still_parse(world: SimpleNamespace) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    response = client.post(
        "/api/v1/roles/",
        {
            "task_force": world.tf.pk,
            "name": "Hydrologist \U0001f30a",
            "responsibilities": "Models the river levels — in ℃.",
            "capabilities": ["view_taskforce"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "Hydrologist \U0001f30a"


def test_an_echoed_surrogate_cannot_break_the_error_answer() -> None:
    """Wherever a value is echoed into an error message, the answer still renders."""
    body = error_body(400, "invalid", '"a\ud800b" is not a valid choice.', {"st\udfffatus": ["x"]})
    rendered = JSONRenderer().render(body)
    assert b"is not a valid choice" in rendered
