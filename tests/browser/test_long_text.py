"""Long text never makes a page wider than the window (issue 15 item 17): an update whose
body is one unbroken word of the largest length allowed, and an agency suspended with the
longest reason allowed, both typed into the portal's own forms, then every page that shows
them looked at on a desktop and on a phone."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from agencies.models import Agency
from coordination.validators import PROSE_LENGTH, REASON_LENGTH
from taskforces.models import Update
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def assert_fits(page, what: str) -> None:
    scroll_width, client_width = page.evaluate(WIDTHS)
    assert scroll_width <= client_width, (
        f"{what} ({page.url}) is {scroll_width}px wide in a {client_width}px window"
    )


def test_long_words_wrap_on_every_page_that_shows_them(open_page, sign_in, shot) -> None:
    w = build_world()
    word = "Sandbag" * (PROSE_LENGTH // 7) + "x" * (PROSE_LENGTH % 7)
    reason = "Unpaid" * (REASON_LENGTH // 6) + "y" * (REASON_LENGTH % 6)
    assert len(word) == PROSE_LENGTH and len(reason) == REASON_LENGTH

    page = open_page(DESKTOP)
    sign_in(page, w.lead_liaison.email)
    page.goto(reverse("taskforces:update-create", args=[w.tf.pk]))
    page.locator("#id_title").fill("Levee report")
    page.locator("#id_body").fill(word)
    page.get_by_role("main").get_by_role("button", name=re.compile("post", re.I)).click()
    expect(page).to_have_url(re.compile(r"/updates/\d+/$"))
    update = Update.objects.get(title="Levee report")
    assert update.body == word

    admin = open_page(DESKTOP)
    sign_in(admin, w.portal_admin.email)
    admin.goto(reverse("agencies:status", args=[w.outsider_agency.pk]))
    admin.locator("#id_suspend-reason").fill(reason)
    admin.get_by_role("main").get_by_role("button", name="Suspend").click()
    expect(admin).to_have_url(re.compile(rf"/agencies/{w.outsider_agency.pk}/$"))
    w.outsider_agency.refresh_from_db()
    assert w.outsider_agency.status == Agency.Status.SUSPENDED
    assert w.outsider_agency.status_reason == reason

    for viewport in (DESKTOP, PHONE):
        for who, url, what in (
            (page, reverse("taskforces:update", args=[update.pk]), "the update"),
            (page, reverse("taskforces:updates", args=[w.tf.pk]), "the updates feed"),
            (admin, reverse("agencies:detail", args=[w.outsider_agency.pk]), "the agency"),
            (admin, reverse("agencies:status", args=[w.outsider_agency.pk]), "its status page"),
        ):
            who.set_viewport_size(viewport)
            who.goto(url)
            shot(who, f"{what.replace(' ', '-')}-{viewport['width']}")
            assert_fits(who, what)
