"""The mutual aid pages: what each persona sees, the htmx fragments, the forms' errors,
the CSV export and the ICS 213RR (page, PDF, CSV), with query counts that do not grow
with the data."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from coordination.models import AuditEvent
from mutualaid import services as aid
from mutualaid.models import AgencyCapability, Commitment, Offer, ResourceRequest

from ..factories import PASSWORD
from .conftest import soon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aid_module_world")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def login(client, user) -> None:
    assert client.login(email=user.email, password=PASSWORD)


def test_the_list_shows_each_persona_what_they_may_see(client, aw):
    url = reverse("mutualaid:list", args=[aw.tf.pk])
    login(client, aw.lead_liaison)
    page = client.get(url).content.decode()
    assert all(r.reference in page for r in (aw.rr, aw.rr_all, aw.rr_red))
    assert "Request resources" in page
    client.logout()
    login(client, aw.third_staff)
    page = client.get(url).content.decode()
    assert aw.rr_all.reference in page
    assert aw.rr.what not in page and aw.rr_red.what not in page
    assert "Request resources" not in page
    client.logout()
    login(client, aw.outsider)
    assert client.get(url).status_code == 404


def test_the_task_force_page_links_to_mutual_aid(client, aw):
    login(client, aw.partner_staff)
    page = client.get(reverse("taskforces:detail", args=[aw.tf.pk])).content.decode()
    assert reverse("mutualaid:list", args=[aw.tf.pk]) in page


def test_htmx_filter_swaps_the_table_only(client, aw):
    login(client, aw.lead_liaison)
    url = reverse("mutualaid:list", args=[aw.tf.pk])
    response = client.get(
        url, {"status": "open", "priority": "3"}, HTTP_HX_TARGET="request-table", **HTMX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert aw.rr.reference in body and aw.rr_all.reference not in body


@pytest.mark.parametrize(
    "query", [{"status": "lost"}, {"priority": "9"}, {"colour": "red"}, {"page": "0"}]
)
def test_bad_filters_are_400(client, aw, query):
    login(client, aw.lead_liaison)
    assert client.get(reverse("mutualaid:list", args=[aw.tf.pk]), query).status_code == 400
    assert client.get(reverse("mutualaid:csv", args=[aw.tf.pk]), query).status_code in (200, 400)


def grow(aw, n: int = 8) -> None:
    """More requests, offers and commitments, so an N+1 would show."""
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
        aid.make_offer(
            request=rr,
            by=aw.partner_liaison,
            description="Pumps",
            quantity=1,
            available_from=soon(2),
        )
        commitment = aid.accept_offer(offer=offer, by=aw.lead_liaison)
        aid.move_commitment(commitment=commitment, to_status="mobilised", by=aw.partner_liaison)
    for i in range(n):  # more offers and commitments on the one request the detail shows
        offer = aid.make_offer(
            request=aw.rr,
            by=aw.partner_liaison,
            description=f"Boat {i}",
            quantity=1,
            available_from=soon(2),
        )
        if i < 3:  # rr asks for 10, 4 committed: three more, and the offers stay open
            commitment = aid.accept_offer(offer=offer, by=aw.lead_liaison)
            aid.move_commitment(commitment=commitment, to_status="mobilised", by=aw.lead_liaison)


@pytest.mark.parametrize("persona", ["lead_liaison", "partner_liaison"])
def test_page_queries_do_not_grow_with_data(client, aw, persona, django_assert_max_num_queries):
    login(client, getattr(aw, persona))
    pages = [
        reverse("mutualaid:list", args=[aw.tf.pk]),
        # the request every persona here sees with an offer and a commitment in each list
        reverse("mutualaid:request", args=[aw.rr.pk]),
        reverse("mutualaid:ics-213rr", args=[aw.rr.pk]),
        reverse("mutualaid:csv", args=[aw.tf.pk]),
    ]
    small = []
    for url in pages:
        with django_assert_max_num_queries(30) as counted:
            assert client.get(url).status_code == 200
        small.append(len(counted.captured_queries))
    grow(aw)
    for url, before in zip(pages, small, strict=True):
        with django_assert_max_num_queries(before):
            assert client.get(url).status_code == 200, url


def test_raising_a_request_through_the_form(client, aw):
    login(client, aw.lead_liaison)
    url = reverse("mutualaid:create", args=[aw.tf.pk])
    page = client.get(url).content.decode()
    assert aw.partner.name in page and aw.lead.name not in page.split("Addressed to")[1][:400]
    bad = client.post(url, {"quantity": "0", "location": "", "needed_by": "soon"})
    assert bad.status_code == 200
    for message in ("Choose a kind of resource or say what is needed.", "This field is required."):
        assert message in bad.content.decode()
    before = ResourceRequest.objects.count()
    response = client.post(
        url,
        {
            "kind": aw.boats.pk,
            "quantity": "3",
            "location": "Bewdley",
            "needed_by": soon().strftime("%Y-%m-%dT%H:%M"),
            "priority": "2",
            "justification": "Defences overtopped.",
            "marking": "2",
            "addressed_agencies": [aw.third.pk],
        },
    )
    assert response.status_code == 302
    assert ResourceRequest.objects.count() == before + 1
    created = ResourceRequest.objects.latest("pk")
    assert list(created.addressed_agencies.all()) == [aw.third]


def test_only_holders_of_request_resources_see_the_form(client, aw):
    login(client, aw.partner_liaison)
    assert client.get(reverse("mutualaid:create", args=[aw.tf.pk])).status_code == 403


def test_offering_through_the_form(client, aw):
    url = reverse("mutualaid:offer", args=[aw.rr.pk])
    login(client, aw.third_liaison)
    assert client.get(url).status_code == 404  # not addressed: not even seen
    client.logout()
    login(client, aw.partner_staff)
    assert client.get(url).status_code == 403
    client.logout()
    login(client, aw.partner_liaison)
    bad = client.post(
        url,
        {
            "description": "Boats",
            "quantity": "11",
            "available_from": soon().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert "offer at most that many" in bad.content.decode()
    response = client.post(
        url,
        {
            "description": "Boats",
            "quantity": "2",
            "available_from": soon().strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    assert Offer.objects.filter(request=aw.rr, description="Boats").exists()


def test_accepting_with_htmx(client, aw):
    login(client, aw.lead_liaison)
    url = reverse("mutualaid:accept", args=[aw.offer.pk])
    refused = client.post(url, {"quantity": "7"}, **HTMX)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "The offer is for 6 at most." in body and "<html" not in body
    assert not Commitment.objects.filter(offer=aw.offer).exists()
    done = client.post(url, {"quantity": "6"}, **HTMX)
    assert done.status_code == 200
    assert "Fulfilled" in done.content.decode()


def test_declining_needs_a_reason_and_others_may_not(client, aw):
    url = reverse("mutualaid:decline", args=[aw.offer.pk])
    login(client, aw.lead_staff)
    assert client.post(url, {"reason": "No."}).status_code == 403
    client.logout()
    login(client, aw.lead_liaison)
    response = client.post(url, {"reason": ""})
    assert response.status_code == 302
    aw.offer.refresh_from_db()
    assert aw.offer.status == Offer.Status.PENDING
    client.post(url, {"reason": "Too far."})
    aw.offer.refresh_from_db()
    assert aw.offer.status == Offer.Status.DECLINED


def test_commitment_steps_on_the_page(client, aw):
    login(client, aw.partner_liaison)
    url = reverse("mutualaid:commitment-step", args=[aw.commitment.pk])
    assert client.post(url, {"status": "on_scene"}, **HTMX).status_code == 400
    response = client.post(url, {"status": "mobilised", "note": "Left base 09:00"}, **HTMX)
    assert response.status_code == 200
    assert "Left base 09:00" in response.content.decode()
    aw.commitment.refresh_from_db()
    assert aw.commitment.status == Commitment.Status.MOBILISED
    client.logout()
    login(client, aw.partner_staff)
    assert client.post(url, {"status": "on_scene"}).status_code == 403


def test_csv_export_holds_only_what_the_person_sees(client, aw):
    login(client, aw.third_staff)
    response = client.get(reverse("mutualaid:csv", args=[aw.tf.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [r[0] for r in rows[1:]] == [aw.rr_all.reference]
    assert AuditEvent.objects.filter(action="export.csv", actor=aw.third_staff).exists()


def test_ics_213rr_page_pdf_and_csv(client, aw):
    login(client, aw.lead_liaison)
    url = reverse("mutualaid:ics-213rr", args=[aw.rr.pk])
    page = client.get(url).content.decode()
    assert "ICS 213RR" in page and aw.rr.reference in page and aw.partner.name in page
    pdf = client.get(url, {"format": "pdf"})
    assert pdf.content.startswith(b"%PDF") and pdf["Content-Type"] == "application/pdf"
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "TLP:AMBER" in text and aw.rr.reference in text
    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    assert rows[0] == ["Section", "Field", "Value", "Marking"]
    assert ["Request", "3. Resource request number", aw.rr.reference, "TLP:AMBER"] in rows
    assert any(r[0] == "Offers (suppliers)" for r in rows)
    for bad in ({"format": "docx"}, {"period": "1"}):
        assert client.get(url, bad).status_code == 400
    client.logout()
    login(client, aw.third_staff)
    assert client.get(url).status_code == 404


def test_capabilities(client, aw):
    url = reverse("mutualaid:capabilities")
    login(client, aw.partner_staff)
    assert "Publish for" not in client.get(url).content.decode()
    assert client.post(url, {"kind": aw.boats.pk}).status_code == 403
    client.logout()
    login(client, aw.partner_liaison)
    assert client.post(url, {"kind": aw.boats.pk, "typical_quantity": "-1"}).status_code == 400
    assert client.post(url, {"kind": aw.boats.pk, "typical_quantity": "4"}).status_code == 302
    capability = AgencyCapability.objects.get(agency=aw.partner, kind=aw.boats)
    client.logout()
    login(client, aw.lead_liaison)
    page = client.get(reverse("mutualaid:create", args=[aw.tf.pk])).content.decode()
    assert "Whom to ask" in page and aw.partner.name in page
    remove = reverse("mutualaid:capability-remove", args=[capability.pk])
    assert client.post(remove).status_code == 404  # not theirs to change
    client.logout()
    login(client, aw.partner_liaison)
    assert client.post(remove).status_code == 302
    assert not AgencyCapability.objects.filter(pk=capability.pk).exists()
