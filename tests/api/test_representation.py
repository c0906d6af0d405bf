"""The API's output serializers (``coordination.api.representation.ReadSerializer``) read
objects by a shorter path than Django REST framework's; what they answer must be exactly
what REST framework's own path answers. Every list and every object of the world, as
every persona sees it, is fetched both ways and compared."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from coordination.api.representation import ReadSerializer

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
    "audit-events",
)
PERSONAS = ("portal_admin", "lead_admin", "lead_liaison", "partner_staff", "outsider")


def answers(world: SimpleNamespace) -> dict[tuple[str, str, str], Any]:
    found: dict[tuple[str, str, str], Any] = {}
    for persona in PERSONAS:
        client = APIClient()
        client.force_authenticate(getattr(world, persona))
        for resource in RESOURCES:
            response = client.get(f"/api/v1/{resource}/?page_size=200")
            found[(persona, resource, "list")] = (response.status_code, response.json())
            if response.status_code != 200:
                continue
            for row in response.json()["results"]:
                detail = client.get(f"/api/v1/{resource}/{row['id']}/")
                found[(persona, resource, str(row["id"]))] = (detail.status_code, detail.json())
    return found


@pytest.mark.django_db
def test_every_answer_is_what_rest_framework_itself_would_give(world, monkeypatch) -> None:
    world.partner_staff.notifications.create(kind="x", title="Hello")  # a notification to show
    fast = answers(world)
    monkeypatch.setattr(
        ReadSerializer, "to_representation", serializers.ModelSerializer.to_representation
    )
    monkeypatch.setattr(ReadSerializer, "get_fields", serializers.ModelSerializer.get_fields)
    standard = answers(world)
    assert fast.keys() == standard.keys()
    differing = [key for key in fast if fast[key] != standard[key]]
    assert not differing, differing[:5]
    # the comparison covered something of every kind
    shown = {resource for (_, resource, what), (status, _) in fast.items() if what != "list"}
    assert shown == set(RESOURCES)
