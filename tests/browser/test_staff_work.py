"""A staff member's day, in the browser: they open a task assigned to them and change its
status (an HTMX form: only the status fragment changes, the page stays), then open a
critical update that asks for their acknowledgement and acknowledge it; the dashboard
stops asking."""

from __future__ import annotations

import datetime
import re

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Acknowledgement, Task, Update
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASK = "Sandbag the Upton pumping station"
CRITICAL = "Evacuate the riverside wards tonight"


def test_a_staff_member_updates_a_task_and_acknowledges_a_critical_update(
    open_page, sign_in, shot
) -> None:
    w = build_world()
    task = services.create_task(
        objective=w.objectives[Marking.AMBER],
        title=TASK,
        description="Two hundred bags before the evening high tide.",
        assignee=w.lead_staff,
        due_date=datetime.date.today() + datetime.timedelta(days=2),
        by=w.lead_liaison,
    )
    critical = services.post_update(
        task_force=w.tf,
        title=CRITICAL,
        body="Water will overtop the defences at 22:00. Confirm you have read this.",
        kind=Update.Kind.SITREP,
        marking=Marking.AMBER,
        requires_acknowledgement=True,
        ack_roles=[w.member_role],
        by=w.lead_liaison,
    )

    page = open_page()
    sign_in(page, w.lead_staff.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    my_tasks = page.get_by_role("region", name="My tasks")
    waiting = page.get_by_role("region", name="Waiting for your acknowledgement")
    expect(my_tasks).to_contain_text(TASK)
    expect(waiting).to_contain_text(CRITICAL)
    shot(page, "dashboard-before")

    # --- the task: change its status through the HTMX form ---------------------------------
    my_tasks.get_by_role("link", name=TASK).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TASK)
    status = page.locator("#task-status")
    expect(status.locator(".govuk-tag")).to_have_text("To do")
    shot(page, "task-page")
    task_url = page.url
    # A marker a full page load would wipe out, and a scroll position it would reset.
    page.set_viewport_size({"width": 1280, "height": 400})
    page.evaluate("window.__sameDocument = true")
    page.evaluate("document.getElementById('task-status').scrollIntoView()")
    scrolled_to = page.evaluate("window.scrollY")

    with page.expect_response(re.compile(rf"/tasks/{task.pk}/status/$")) as answer:
        status.get_by_label("Change status").select_option(label="In progress")
        status.get_by_role("button", name="Update status").click()
    assert answer.value.request.headers.get("hx-request") == "true"
    assert answer.value.status == 200

    expect(page.locator("#task-status .govuk-tag")).to_have_text("In progress")
    expect(page.get_by_label("Change status")).to_have_value(Task.Status.IN_PROGRESS)
    assert page.url == task_url
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert page.evaluate("window.scrollY") == scrolled_to
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "task-status-changed")

    # The objectives board shows the new status too.
    page.get_by_role("link", name=w.tf.name).first.click()
    page.get_by_role("navigation", name=w.tf.name).get_by_role("link", name="Objectives").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Objectives")
    expect(page.get_by_role("main")).to_contain_text(TASK)
    shot(page, "objectives-board")

    # --- the critical update: acknowledge it -------------------------------------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(my_tasks).to_contain_text("In progress")
    waiting.get_by_role("link", name=CRITICAL).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(CRITICAL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("TLP:AMBER")
    expect(page.get_by_role("main")).to_contain_text("Water will overtop the defences")
    shot(page, "critical-update")
    update_url = page.url
    page.evaluate("window.__sameDocument = true")
    with page.expect_response(re.compile(rf"/updates/{critical.pk}/acknowledge/$")) as answer:
        # the update's own button (the critical banner above the page offers one too)
        page.get_by_role("main").get_by_role("button", name=re.compile("^Acknowledge")).click()
    assert answer.value.request.headers.get("hx-request") == "true"

    expect(page.get_by_text("Acknowledged by you")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    assert page.url == update_url
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert Acknowledgement.objects.filter(update=critical, person=w.lead_staff).exists()
    shot(page, "critical-update-acknowledged")
    after_acknowledging = page.get_by_role("main").inner_text()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(waiting).not_to_contain_text(CRITICAL)
    expect(waiting).to_contain_text("Nothing waits for your acknowledgement")
    shot(page, "dashboard-after")

    # Reloading the update keeps it acknowledged, with no button to press again.
    page.goto(update_url)
    expect(page.get_by_text("Acknowledged by you")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("Acknowledged by 1 person")

    # Right after the click, the page must not contradict itself ("Acknowledged by
    # 0 people" beside "Acknowledged by you").
    assert "Acknowledged by 0 people" not in after_acknowledging, after_acknowledging


def test_filtering_the_objectives_board_by_title_alone(open_page, sign_in, shot) -> None:
    """Typing a title and pressing Filter narrows by the title only; the other filters
    start at "any"."""
    w = build_world()
    page = open_page()
    sign_in(page, w.lead_staff.email)
    page.goto(f"/task-forces/{w.tf.pk}/objectives/")
    board = page.get_by_role("main")
    expect(board).to_contain_text(w.objectives[Marking.AMBER].title)
    filters = page.get_by_role("search", name="Filter objectives")
    filters.get_by_label("Title contains").fill("AMBER")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"\?q=AMBER"))
    shot(page, "objectives-filtered")
    expect(board).to_contain_text(w.objectives[Marking.AMBER].title)
    expect(board).to_contain_text(w.objectives[Marking.AMBER_STRICT].title)
    expect(board).not_to_contain_text(w.objectives[Marking.GREEN].title)

    for label in ("Status", "Priority", "Owner agency"):
        selected = filters.get_by_label(label).evaluate("el => el.selectedOptions[0].value")
        assert selected == "", f"the {label} filter is set to {selected!r}, not to any"
