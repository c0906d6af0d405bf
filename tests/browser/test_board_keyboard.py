"""From the keyboard alone, in Chromium (issue 17, items 2 and 3): Tab to a card's status
control on the objectives board, move it, and the card is in its new column without a
reload, with the focus on it; Tab to the critical banner's button and acknowledge in
place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Acknowledgement, Objective
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, name: str, limit: int = 80) -> None:
    """Press Tab until the focused element's accessible text is ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_moving_an_objective_on_the_board_from_the_keyboard(open_page, sign_in, shot) -> None:
    w = build_world()
    objective = w.objectives[Marking.GREEN]
    page = open_page()
    sign_in(page, w.lead_liaison.email)
    page.goto(f"/task-forces/{w.tf.pk}/objectives/")
    not_started = page.locator("#col-not_started")
    at_risk = page.locator("#col-at_risk")
    expect(not_started).to_contain_text(objective.title)
    expect(at_risk).not_to_contain_text(objective.title)
    shot(page, "board-before")
    page.evaluate("window.__sameDocument = true")

    tab_to(page, f"At risk: {objective.title}")
    with page.expect_response(re.compile(rf"/objectives/{objective.pk}/status/$")) as answer:
        page.keyboard.press("Enter")
    assert answer.value.request.headers.get("hx-request") == "true"
    assert answer.value.status == 200

    expect(at_risk).to_contain_text(objective.title)
    expect(page.locator("#col-not_started")).not_to_contain_text(objective.title)
    expect(page.locator("#board-status")).to_contain_text("is now at risk")
    # the moved card holds the focus, so the keyboard carries on from it
    expect(page.locator(f"#objective-{objective.pk}")).to_be_focused()
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    objective.refresh_from_db()
    assert objective.status == Objective.Status.AT_RISK
    shot(page, "board-after")

    # only the moves allowed from "at risk" are offered now; "At risk" itself is not
    card = page.locator(f"#objective-{objective.pk}")
    expect(card.get_by_role("button", name=re.compile("^At risk"))).to_have_count(0)
    expect(card.get_by_role("button", name=re.compile("^Complete"))).to_have_count(1)


def test_acknowledging_a_critical_update_from_the_banner_by_keyboard(
    open_page, sign_in, shot
) -> None:
    w = build_world()
    update = services.post_update(
        task_force=w.tf,
        title="Close the A38 bridge",
        body="Now.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        ack_agencies=[w.partner],
        by=w.lead_liaison,
    )
    page = open_page()
    sign_in(page, w.partner_staff.email)
    page.goto("/agencies/")
    banner = page.get_by_role("region", name="Critical: your acknowledgement is needed")
    expect(banner).to_contain_text("Close the A38 bridge")
    shot(page, "critical-banner")
    page.evaluate("window.__sameDocument = true")
    tab_to(page, "Acknowledge Close the A38 bridge")
    with page.expect_response(re.compile(rf"/updates/{update.pk}/acknowledge/$")):
        page.keyboard.press("Enter")
    expect(banner).to_contain_text("You acknowledged")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert Acknowledgement.objects.filter(update=update, person=w.partner_staff).exists()
    page.goto("/agencies/")
    expect(
        page.get_by_role("region", name="Critical: your acknowledgement is needed")
    ).to_have_count(0)
