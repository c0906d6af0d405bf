"""Mutual aid in the browser, across two agencies, from request to demobilisation: the
lead agency's commander raises a request addressed to the partner agency; the partner's
liaison officer offers; the commander accepts it (an htmx form: the page's body changes
in place); the partner's liaison officer records mobilised, on scene and demobilised;
the commander sees the whole history and the ICS 213RR."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mutualaid.models import Commitment, ResourceRequest
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHAT = "Boat teams for the riverside streets"


def test_request_to_demobilisation_across_two_agencies(open_page, sign_in, shot, problems) -> None:
    w = build_world()
    needed = timezone.localtime(timezone.now() + datetime.timedelta(days=1))

    # --- the lead agency's commander raises the request -----------------------------------
    lead = open_page()
    sign_in(lead, w.lead_liaison.email)
    lead.goto(f"/task-forces/{w.tf.pk}/")
    lead.get_by_role("navigation", name=w.tf.name).get_by_role("link", name="Mutual aid").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Mutual aid in")
    lead.get_by_role("link", name="Request resources").click()
    lead.get_by_label("What is needed").fill(WHAT)
    lead.get_by_label("Quantity").fill("3")
    lead.get_by_label("Where it is needed").fill("Upton-upon-Severn, Old Street")
    lead.get_by_label("Needed by").fill(needed.strftime("%Y-%m-%dT%H:%M"))
    lead.get_by_label("Priority").select_option(label="Urgent")
    lead.get_by_label("Justification").fill("Evacuating 40 homes before the peak.")
    lead.get_by_label(w.partner.name).check()
    shot(lead, "raise")
    lead.get_by_role("button", name="Raise request").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("RR-1")
    rr = ResourceRequest.objects.get()
    assert list(rr.addressed_agencies.all()) == [w.partner]

    # --- the partner's liaison officer offers ---------------------------------------------
    partner = open_page()
    sign_in(partner, w.partner_liaison.email)
    partner.goto(f"/task-forces/{w.tf.pk}/mutual-aid/")
    partner.get_by_role("link", name="RR-1").click()
    partner.get_by_role("link", name="Offer resources").click()
    partner.get_by_label("What is offered").fill("3 boats with crews of 4")
    partner.get_by_label("Quantity").fill("3")
    partner.get_by_role("button", name="Make offer").click()
    expect(partner.locator("#offers")).to_contain_text("Pending")
    shot(partner, "offered")

    # --- the commander accepts it, in place ------------------------------------------------
    lead.reload()
    offers = lead.locator("#offers")
    expect(offers).to_contain_text("3 boats with crews of 4")
    url_before = lead.url
    offers.get_by_role("button", name="Accept").click()
    expect(lead.locator("#request-status")).to_have_text("Fulfilled")
    assert lead.url == url_before  # htmx swapped the body; no navigation
    expect(lead.locator("#commitments")).to_contain_text("Committed")
    shot(lead, "accepted")

    # --- the partner mobilises, arrives, and goes home -------------------------------------
    partner.reload()
    for step, label in (
        ("mobilised", "Mobilised"),
        ("on_scene", "On scene"),
        ("demobilised", "Demobilised"),
    ):
        row = partner.locator("#commitments tbody tr").first
        row.get_by_label("Move to").select_option(step)
        row.get_by_label("Note").fill(f"{label} at the slipway")
        row.get_by_role("button", name="Record").click()
        expect(partner.locator("#commitments tbody tr").first.locator(".govuk-tag")).to_have_text(
            label
        )
    shot(partner, "demobilised")
    assert Commitment.objects.get().status == Commitment.Status.DEMOBILISED

    # --- the commander sees the history and the ICS 213RR ---------------------------------
    lead.reload()
    history = lead.locator("#commitments")
    for label in ("Committed", "Mobilised", "On scene", "Demobilised"):
        expect(history).to_contain_text(label)
    expect(history).to_contain_text(w.partner.name)
    lead.get_by_role("link", name="page", exact=True).click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("ICS 213RR")
    expect(lead.get_by_role("main")).to_contain_text(re.compile("Demobilised by"))
    shot(lead, "ics-213rr")

    # --- an agency not addressed sees nothing of it ---------------------------------------
    problems.allow(r"status of 404")  # Chromium's note on the page opened to be refused
    outsider = open_page()
    sign_in(outsider, w.outsider.email)
    response = outsider.goto(f"/resource-requests/{rr.pk}/")
    assert response is not None and response.status == 404
