"""The mutual aid API: the whole way from request to demobilisation across two agencies,
bad input refused with field messages (changing nothing), and lists whose queries do not
grow with the data."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from mutualaid import services as aid
from mutualaid.models import AgencyCapability, Commitment, Offer, ResourceRequest

from .conftest import soon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aid_module_world")]


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_request_to_demobilisation_through_the_api(aw):
    lead, partner = api(aw.lead_liaison), api(aw.partner_liaison)
    raised = lead.post(
        "/api/v1/resource-requests/",
        {
            "task_force": aw.tf.pk,
            "kind": aw.boats.pk,
            "quantity": 2,
            "location": "Bewdley",
            "needed_by": soon().isoformat(),
            "priority": 3,
            "justification": "Defences overtopped.",
            "addressed_agencies": [aw.partner.pk],
        },
        format="json",
    )
    assert raised.status_code == 201, raised.content
    rr = raised.json()
    assert rr["addressed_to_all"] is False and rr["committed"] == 0 and rr["number"] == 4
    offered = partner.post(
        f"/api/v1/resource-requests/{rr['id']}/offer/",
        {"description": "2 boat teams", "quantity": 2, "available_from": soon(3).isoformat()},
        format="json",
    )
    assert offered.status_code == 201, offered.content
    accepted = lead.post(
        f"/api/v1/resource-offers/{offered.json()['id']}/accept/", {"quantity": 2}, format="json"
    )
    assert accepted.status_code == 201, accepted.content
    commitment = accepted.json()
    assert commitment["quantity"] == 2 and commitment["status"] == "committed"
    assert lead.get(f"/api/v1/resource-requests/{rr['id']}/").json()["status"] == "fulfilled"
    for step, status in (
        ("mobilise", "mobilised"),
        ("on-scene", "on_scene"),
        ("demobilise", "demobilised"),
    ):
        moved = partner.post(
            f"/api/v1/commitments/{commitment['id']}/{step}/", {"note": step}, format="json"
        )
        assert moved.status_code == 200, moved.content
        assert moved.json()["status"] == status
    history = lead.get(f"/api/v1/commitments/{commitment['id']}/").json()["changes"]
    assert [c["to_status"] for c in history] == [
        "committed",
        "mobilised",
        "on_scene",
        "demobilised",
    ]
    assert [c["by_agency"]["id"] for c in history] == [aw.lead.pk] + [aw.partner.pk] * 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"needed_by": "tomorrow"}, "needed_by"),
        ({"needed_by": "2020-01-01T00:00:00Z"}, "needed_by"),
        ({"priority": 7}, "priority"),
        ({"marking": "2"}, "marking"),
        ({"kind": 999_999}, "kind"),
        ({"kind": None, "description": ""}, "description"),
        ({"addressed_agencies": [999_999]}, "addressed_agencies"),
        ({"location": ""}, "location"),
        ({"justification": 5}, "justification"),
        ({"task_force": 999_999}, "task_force"),
    ],
)
def test_bad_requests_are_400_with_field_messages(aw, changes, field):
    body = {
        "task_force": aw.tf.pk,
        "kind": aw.boats.pk,
        "quantity": 2,
        "location": "Bewdley",
        "needed_by": soon().isoformat(),
        "justification": "Defences overtopped.",
        **changes,
    }
    before = ResourceRequest.objects.count()
    response = api(aw.lead_liaison).post("/api/v1/resource-requests/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert ResourceRequest.objects.count() == before


def test_an_unaddressed_agency_cannot_be_named_nor_an_outsider(aw):
    body = {
        "task_force": aw.tf.pk,
        "description": "Sandbags",
        "quantity": 2,
        "location": "Bewdley",
        "needed_by": soon().isoformat(),
        "justification": "Defences overtopped.",
        "addressed_agencies": [aw.outsider_agency.pk],
    }
    response = api(aw.lead_liaison).post("/api/v1/resource-requests/", body, format="json")
    assert response.status_code == 400
    assert "addressed_agencies" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("offers", {"description": "Boats", "quantity": 11}, "quantity"),
        ("offers", {"description": "", "quantity": 1}, "description"),
        (
            "offers",
            {"description": "Boats", "quantity": 1, "available_from": "soon"},
            "available_from",
        ),
        ("accept", {"quantity": 7}, "quantity"),
        ("accept", {"quantity": -1}, "quantity"),
        ("accept", {}, "quantity"),
        ("decline", {"reason": ""}, "reason"),
        ("decline", {}, "reason"),
        ("step", {"note": 5}, "note"),
    ],
)
def test_bad_steps_are_400_and_change_nothing(aw, url, body, field):
    if url == "offers":
        body = {"available_from": soon(1).isoformat(), **body}
        client, path = api(aw.partner_liaison), f"/api/v1/resource-requests/{aw.rr.pk}/offer/"
    elif url == "step":
        client, path = api(aw.partner_liaison), f"/api/v1/commitments/{aw.commitment.pk}/mobilise/"
    else:
        client, path = api(aw.lead_liaison), f"/api/v1/resource-offers/{aw.offer.pk}/{url}/"
    counts = (Offer.objects.count(), Commitment.objects.count())
    response = client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"], response.json()
    assert (Offer.objects.count(), Commitment.objects.count()) == counts
    aw.offer.refresh_from_db()
    assert aw.offer.status == Offer.Status.PENDING


def test_state_refusals_are_400(aw):
    partner = api(aw.partner_liaison)
    response = partner.post(
        f"/api/v1/commitments/{aw.commitment.pk}/demobilise/", {}, format="json"
    )
    assert response.status_code == 400
    assert "cannot become" in response.json()["error"]["message"]


def test_filters_are_checked(aw):
    client = api(aw.lead_liaison)
    assert client.get("/api/v1/resource-requests/", {"status": "lost"}).status_code == 400
    assert client.get("/api/v1/resource-offers/", {"request": "abc"}).status_code == 400
    found = client.get("/api/v1/resource-requests/", {"priority": 3}).json()["results"]
    assert [r["id"] for r in found] == [aw.rr.pk]


def test_capabilities_through_the_api(aw):
    partner = api(aw.partner_liaison)
    created = partner.post(
        "/api/v1/agency-capabilities/", {"kind": aw.boats.pk, "typical_quantity": 4}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["agency"]["id"] == aw.partner.pk
    assert (
        api(aw.partner_staff)
        .post("/api/v1/agency-capabilities/", {"kind": aw.boats.pk}, format="json")
        .status_code
        == 403
    )
    seen = api(aw.outsider).get("/api/v1/agency-capabilities/", {"kind": aw.boats.pk}).json()
    assert [c["agency"]["id"] for c in seen["results"]] == [aw.partner.pk]
    removed = api(aw.lead_liaison).post(
        f"/api/v1/agency-capabilities/{created.json()['id']}/remove/"
    )
    assert removed.status_code == 403
    assert (
        partner.post(f"/api/v1/agency-capabilities/{created.json()['id']}/remove/").status_code
        == 200
    )
    assert not AgencyCapability.objects.exists()
    kinds = api(aw.outsider).get("/api/v1/resource-kinds/", {"category": "team"}).json()
    assert kinds["count"] >= 5


def grow(aw, n: int = 10) -> None:
    for i in range(n):
        rr = aid.raise_request(
            task_force=aw.tf,
            by=aw.lead_liaison,
            kind=aw.pumps,
            quantity=4,
            location=f"Site {i}",
            needed_by=soon(),
            justification="More.",
            addressed_agencies=[aw.partner],
        )
        offer = aid.make_offer(
            request=rr,
            by=aw.partner_liaison,
            description="Pumps",
            quantity=2,
            available_from=soon(2),
        )
        commitment = aid.accept_offer(offer=offer, by=aw.lead_liaison)
        aid.move_commitment(commitment=commitment, to_status="mobilised", by=aw.partner_liaison)


@pytest.mark.parametrize("resource", ["resource-requests", "resource-offers", "commitments"])
def test_list_queries_do_not_grow(aw, resource, django_assert_max_num_queries):
    client = api(aw.partner_liaison)
    with django_assert_max_num_queries(30) as small:
        assert client.get(f"/api/v1/{resource}/").status_code == 200
    grow(aw)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"/api/v1/{resource}/")
    assert response.json()["count"] >= 10
