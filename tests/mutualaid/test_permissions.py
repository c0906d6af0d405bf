"""Mutual aid's permissions, from both sides, through every way of asking.

The table below says who may do what to each object; the tests check the permission core
(``can``, ``restrict``, ``explain``) against it, the audience notifications are sent to
(``mutualaid.permissions.audience``: the one access rule turned round) against ``view``,
and then the API: 404 where the person may not see the object, 403 where they see it but
may not act, success where they may."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIClient

from coordination.permissions import can, explain
from mutualaid.models import Commitment, Offer, ResourceRequest
from mutualaid.permissions import audience

from .conftest import PERSONAS, soon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aid_module_world")]

LEAD_SIDE = {"lead_liaison", "lead_staff"}
PARTNER = {"partner_liaison", "partner_staff"}
THIRD = {"third_liaison", "third_staff"}

# (object, action) → the personas who may; everyone else in PERSONAS may not
EXPECTED: dict[tuple[str, str], set[str]] = {
    # AMBER, addressed to the partner only: the third agency takes part but sees nothing
    ("rr", "view"): LEAD_SIDE | PARTNER,
    ("rr", "offer"): {"partner_liaison"},
    ("rr", "decide"): {"lead_liaison"},
    ("rr", "cancel"): {"lead_liaison"},
    # GREEN, addressed to every participating agency
    ("rr_all", "view"): LEAD_SIDE | PARTNER | THIRD,
    ("rr_all", "offer"): {"partner_liaison", "third_liaison"},
    ("rr_all", "decide"): {"lead_liaison"},
    ("rr_all", "cancel"): {"lead_liaison"},
    # RED, addressed to the partner, whose agreement stops at AMBER; the lead's member
    # lacks "view restricted"
    ("rr_red", "view"): {"lead_liaison"},
    ("rr_red", "offer"): set(),
    ("rr_red", "decide"): {"lead_liaison"},
    ("rr_red", "cancel"): {"lead_liaison"},
    # the partner's offer and commitment: the offering and the requesting agency only
    ("offer", "view"): LEAD_SIDE | PARTNER,
    ("offer", "withdraw"): {"partner_liaison"},
    ("offer", "decide"): {"lead_liaison"},
    ("commitment", "view"): LEAD_SIDE | PARTNER,
    ("commitment", "progress"): {"lead_liaison", "partner_liaison"},
}


def objects(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "rr": w.rr,
        "rr_all": w.rr_all,
        "rr_red": w.rr_red,
        "offer": w.offer,
        "commitment": w.commitment,
    }


CELLS = [(persona, name, action) for (name, action) in EXPECTED for persona in PERSONAS]


@pytest.mark.parametrize(("persona", "name", "action"), CELLS)
def test_core_answers_the_table(aw, persona, name, action):
    user = getattr(aw, persona)
    obj = objects(aw)[name]
    expected = persona in EXPECTED[(name, action)]
    model = type(obj)
    assert can(user, action, obj) is expected
    assert model.objects.restrict(user, action).filter(pk=obj.pk).exists() is expected
    explanation = explain(user, action, obj)
    assert bool(explanation) is expected, str(explanation)
    assert explanation.steps


def test_table_covers_every_action(aw):
    from coordination.permissions import policy_for

    for name, obj in objects(aw).items():
        actions = {action for (n, action) in EXPECTED if n == name}
        assert actions == set(policy_for(type(obj)).actions), name


@pytest.mark.parametrize("name", ["rr", "rr_all", "rr_red", "offer", "commitment"])
def test_audience_is_who_may_view(aw, name):
    """The one access rule three ways: who is notified (audience) is exactly who may see
    (restrict), for every persona."""
    obj = objects(aw)[name]
    people = {getattr(aw, p).pk: p for p in PERSONAS}
    heard = {people[pk] for pk in audience(obj).values_list("pk", flat=True) if pk in people}
    assert heard == EXPECTED[(name, "view")]


def test_lists_hold_only_what_each_persona_sees(aw):
    for persona in PERSONAS:
        user = getattr(aw, persona)
        for model, names in (
            (ResourceRequest, ("rr", "rr_all", "rr_red")),
            (Offer, ("offer",)),
            (Commitment, ("commitment",)),
        ):
            seen = set(model.objects.restrict(user, "view").values_list("pk", flat=True))
            wanted = {objects(aw)[n].pk for n in names if persona in EXPECTED[(n, "view")]}
            # the second (accepted) offer is seen exactly like the first one
            if model is Offer and persona in EXPECTED[("offer", "view")]:
                wanted.add(aw.commitment.offer_id)
            assert seen == wanted, (persona, model.__name__)


def test_a_suspended_agency_loses_sight_at_once(aw):
    from agencies import services as agency_services

    assert can(aw.partner_liaison, "view", aw.rr)
    agency_services.suspend_agency(agency=aw.partner, reason="Audit", by=aw.portal_admin)
    assert not can(aw.partner_liaison, "view", aw.rr)
    assert not can(aw.partner_liaison, "view", aw.offer)
    assert aw.partner_liaison.pk not in set(audience(aw.rr).values_list("pk", flat=True))


# --- the same table through the API ------------------------------------------------------

Op = tuple[str, str, str, dict[str, Any]]  # (object, action, url suffix, body)
OPS: list[Op] = [
    ("rr", "offer", "offer/", {"description": "Boats", "quantity": 1}),
    ("rr_all", "offer", "offer/", {"description": "Pumps", "quantity": 1}),
    ("rr", "cancel", "cancel/", {"reason": "No longer needed."}),
    ("rr_red", "cancel", "cancel/", {"reason": "No longer needed."}),
    ("offer", "decide", "accept/", {"quantity": 1}),
    ("offer", "decide", "decline/", {"reason": "Too far away."}),
    ("offer", "withdraw", "withdraw/", {}),
    ("commitment", "progress", "mobilise/", {"note": "On the road."}),
    ("commitment", "progress", "cancel/", {}),
]
RESOURCE = {
    ResourceRequest: "resource-requests",
    Offer: "resource-offers",
    Commitment: "commitments",
}


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: f"{op[0]}-{op[2].strip('/')}")
def test_api_answers_the_table(aw, persona, op):
    name, action, suffix, body = op
    obj = objects(aw)[name]
    user = getattr(aw, persona)
    if suffix == "offer/":
        body = {**body, "available_from": soon(3).isoformat()}
    url = f"/api/v1/{RESOURCE[type(obj)]}/{obj.pk}/{suffix}"
    response = client_for(user).post(url, body, format="json")
    if persona not in EXPECTED[(name, "view")]:
        assert response.status_code == 404, response.content
    elif persona not in EXPECTED[(name, action)]:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["message"]
    else:
        assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_retrieve_and_lists(aw, persona):
    user = getattr(aw, persona)
    client = client_for(user)
    for name, obj in objects(aw).items():
        response = client.get(f"/api/v1/{RESOURCE[type(obj)]}/{obj.pk}/")
        assert response.status_code == (200 if persona in EXPECTED[(name, "view")] else 404)
    listed = {r["id"] for r in client.get("/api/v1/resource-requests/").json()["results"]}
    assert listed == set(
        ResourceRequest.objects.restrict(user, "view").values_list("pk", flat=True)
    )
