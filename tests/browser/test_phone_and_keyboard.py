"""Concord on a phone and from the keyboard: the pages a staff member uses fit a narrow
screen without sideways scrolling, and the first Tab from the top of a page reaches the
skip link, which shows where the focus is and leads to the content."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def sideways_scrolling(page) -> str | None:
    """None if the page fits the window's width; otherwise the widths and the widest
    elements that stick out, to say what to fix."""
    return page.evaluate(
        """() => {
            const scroll = document.documentElement.scrollWidth, inner = window.innerWidth;
            if (scroll <= inner) return null;
            const out = [...document.querySelectorAll('main *, header *')]
                .filter(el => el.getBoundingClientRect().right > inner + 0.5)
                .filter(el => !el.parentElement
                    || el.parentElement.getBoundingClientRect().right <= inner + 0.5)
                .slice(0, 5)
                .map(el => `<${el.tagName.toLowerCase()}${el.className ? '.' + el.className : ''}`
                    + `> "${el.textContent.trim().slice(0, 40)}"`
                    + ` ends at ${Math.round(el.getBoundingClientRect().right)}px`);
            return `scrollWidth ${scroll}px > innerWidth ${inner}px; sticking out: `
                + out.join('; ');
        }"""
    )


def focused_outline(page) -> dict[str, str]:
    """The focused element, whether the browser treats its focus as visible, and the
    outline it draws there."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                tag: el.tagName.toLowerCase(),
                cls: el.className,
                text: el.textContent.trim(),
                visible: String(el.matches(':focus-visible')),
                outlineStyle: style.outlineStyle,
                outlineWidth: style.outlineWidth,
            };
        }"""
    )


def test_pages_fit_a_phone_screen(open_page, sign_in, shot) -> None:
    w = build_world()
    page = open_page(PHONE)
    sign_in(page, w.lead_liaison.email)

    pages = [
        ("phone-dashboard", "/"),
        ("phone-task-force", f"/task-forces/{w.tf.pk}/"),
        ("phone-organisation", f"/task-forces/{w.tf.pk}/organisation/"),
        ("phone-objectives", f"/task-forces/{w.tf.pk}/objectives/"),
        ("phone-task", f"/tasks/{w.tasks[Marking.AMBER].pk}/"),
        ("phone-update", f"/updates/{w.updates[Marking.AMBER].pk}/"),
        ("phone-task-force-list", "/task-forces/"),
        ("phone-agency", f"/agencies/{w.lead.pk}/"),
    ]
    too_wide = {}
    for step, path in pages:
        response = page.goto(path)
        assert response is not None and response.ok, path
        shot(page, step)
        problem = sideways_scrolling(page)
        if problem:
            too_wide[path] = problem
    assert not too_wide, f"Pages that scroll sideways on a phone: {too_wide}"


def test_the_first_tab_reaches_the_skip_link_with_a_visible_focus(open_page, sign_in, shot) -> None:
    w = build_world()
    for viewport, who in ((None, "desktop"), (PHONE, "phone")):
        page = open_page(viewport)
        sign_in(page, w.partner_staff.email)
        page.goto(f"/task-forces/{w.tf.pk}/")
        expect(page.get_by_role("heading", level=1)).to_contain_text(w.tf.name)

        page.keyboard.press("Tab")
        focus = focused_outline(page)
        assert "govuk-skip-link" in focus["cls"], focus
        assert focus["text"] == "Skip to content"
        assert focus["visible"] == "true", focus
        assert focus["outlineStyle"] != "none", focus
        assert focus["outlineWidth"] != "0px", focus
        skip = page.get_by_role("link", name="Skip to content")
        expect(skip).to_be_in_viewport()
        shot(page, f"{who}-skip-link-focused")

        # Following it puts the focus on the content, past the navigation.
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        page.keyboard.press("Tab")
        in_main = page.evaluate("document.querySelector('main').contains(document.activeElement)")
        assert in_main, focused_outline(page)
        focus = focused_outline(page)
        assert focus["outlineStyle"] != "none", focus
        shot(page, f"{who}-first-link-in-content-focused")

    # Form fields show their focus too: tab from the search box to the status filter
    # (on the phone, once the folded filters are opened).
    page.goto("/task-forces/")
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Name or mandate contains").focus()
    page.keyboard.press("Tab")
    focus = focused_outline(page)
    assert focus["tag"] == "select", focus
    assert focus["outlineStyle"] != "none", focus
    shot(page, "phone-filter-field-focused")


def test_a_lists_filters_fold_away_on_a_phone(open_page, sign_in, shot) -> None:
    """On a phone the filters of a list are folded under "Filters", so the list comes first;
    open when a filter is in use (the summary says how many), and on a wider screen always
    shown, with no fold."""
    w = build_world()
    page = open_page(PHONE)
    sign_in(page, w.lead_liaison.email)
    board = f"/task-forces/{w.tf.pk}/objectives/"
    page.goto(board)
    filters = page.get_by_role("search", name="Filter objectives")
    summary = page.locator("summary", has_text="Filters")
    expect(summary).to_be_visible()
    expect(filters).to_be_hidden()
    shot(page, "phone-filters-folded")
    summary.click()
    expect(filters).to_be_visible()
    shot(page, "phone-filters-open")

    page.goto(f"{board}?status=on_track")
    expect(page.locator("summary", has_text="Filters (1 in use)")).to_be_visible()
    expect(page.get_by_role("search", name="Filter objectives")).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(board)
    expect(page.get_by_role("search", name="Filter objectives")).to_be_visible()
    expect(page.locator("summary", has_text="Filters")).to_be_hidden()
