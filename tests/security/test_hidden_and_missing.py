"""A hidden object and a missing id are indistinguishable (issue 15, item 5): the same
status and body, and the same work to give them, statement for statement, so the time
taken does not tell them apart either. ``manage.py benchmark_not_found`` measures the
time itself (benchmarks/README.md).

Every API resource and every page that opens one object by id, asked by someone who may
not see the object, against an id that names nothing: the SQL statements run are the
same once their literal values (ids, timestamps, strings) are blanked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from agencies.models import Agency
from coordination.models import AuditEvent
from coordination.permissions.markings import Marking

from ..api.test_permission_matrix import RESOURCE

LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
SAVEPOINT = re.compile(r'"s\d+_x\d+"')
# what differs between any two answers of a page: the masked CSRF token, the CSP nonce
PER_ANSWER = re.compile(rb'("X-CSRFToken": |value=|nonce=)"[^"]*"')


def shape(queries: list[dict[str, Any]]) -> list[str]:
    return [SAVEPOINT.sub("sp", LITERAL.sub("?", query["sql"])) for query in queries]


def missing_id(model: type[Any]) -> int:
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
    return last + 1000


def hidden_from(w: SimpleNamespace, model: type[Any]) -> tuple[Any, Any]:
    """An object of ``model`` and a person who may not see it."""
    red = w.objectives[Marking.RED]
    found = {
        "objective": (red, w.partner_staff),
        "task": (w.tasks[Marking.RED], w.partner_staff),
        "update": (w.updates[Marking.RED], w.partner_staff),
        "taskforce": (w.tf, w.outsider),
        "participation": (w.participation, w.outsider),
        "role": (w.member_role, w.outsider),
        "roleassignment": (w.lead_staff_assignment, w.outsider),
        "sharingagreement": (w.agreement, w.outsider),
        "membership": (w.lead_staff.memberships.get(), w.partner_staff),
        "agency": (applied(w), w.outsider),
    }
    return found[model._meta.model_name]


def applied(w: SimpleNamespace) -> Agency:
    from agencies import services

    return services.apply_for_agency(
        name="Coastal Volunteer Rescue",
        level=Agency.Level.NON_GOVERNMENTAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="hello@cvr.example.org",
    )


def compare(ask: Callable[[int], Any], hidden_pk: int, missing_pk: int, path: str) -> None:
    answers, shapes = [], []
    for pk in (hidden_pk, missing_pk, hidden_pk, missing_pk):
        before = AuditEvent.objects.filter(action="access.refused").count()
        with CaptureQueriesContext(connection) as queries:
            response = ask(pk)
        assert response.status_code == 404
        assert AuditEvent.objects.filter(action="access.refused").count() == before + 1
        body = PER_ANSWER.sub(rb'\1"?"', response.content)
        answers.append(body.replace(path.format(pk).encode(), b"<path>"))
        shapes.append(shape(queries.captured_queries))
    assert answers[0] == answers[1], "the bodies differ"
    # the second asking of each (nothing of the first left to warm up differently)
    assert shapes[2] == shapes[3], "\n".join(["hidden:", *shapes[2], "", "missing:", *shapes[3]])


@pytest.mark.parametrize("model", list(RESOURCE), ids=lambda m: RESOURCE[m])
def test_the_api_does_the_same_for_a_hidden_object_and_a_missing_id(world, model):
    obj, person = hidden_from(world, model)
    client = APIClient()
    client.force_authenticate(person)
    path = f"/api/v1/{RESOURCE[model]}/{{}}/"
    compare(lambda pk: client.get(path.format(pk)), obj.pk, missing_id(model), path)


PAGES = [
    ("taskforces:objective", "objective"),
    ("taskforces:task", "task"),
    ("taskforces:update", "update"),
    ("taskforces:detail", "taskforce"),
    ("agencies:agreement", "sharingagreement"),
    ("agencies:detail", "agency"),
]


@pytest.mark.parametrize(("name", "model_name"), PAGES, ids=[p[0] for p in PAGES])
def test_pages_do_the_same_for_a_hidden_object_and_a_missing_id(world, name, model_name):
    model = next(m for m in RESOURCE if m._meta.model_name == model_name)
    obj, person = hidden_from(world, model)
    client = Client()
    client.force_login(person)
    client.get("/")  # the session's first request does its own things once
    path = reverse(name, args=[0]).replace("/0/", "/{}/")
    compare(lambda pk: client.get(path.format(pk)), obj.pk, missing_id(model), path)
