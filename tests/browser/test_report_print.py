"""The printable report page, printed by Chromium: the marking banners (fixed header and
footer in print.css) appear on every printed page of a report several pages long, the
site's navigation does not, and the page needs nothing outside the server (no inline
script or style for the Content Security Policy to block)."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from coordination.permissions.markings import Marking
from taskforces import services
from tests.reports.conftest import build_report_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def placed_text(sheet) -> list[tuple[str, float]]:
    """Each piece of text on a PDF page with its height on the page (points from the
    bottom edge)."""
    found: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text.strip():
            found.append((text.strip(), tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

    sheet.extract_text(visitor_text=visit)
    return found


def test_a_printed_report_carries_its_marking_on_every_page(open_page, sign_in, shot):
    w = build_report_world()
    for i in range(60):
        services.create_objective(
            task_force=w.tf,
            title=f"Sandbag sector {i:02d} along the river embankment",
            owner_agency=w.lead,
            contributing_agencies=[w.partner],
            marking=Marking.GREEN,
            period=w.period,
            by=w.lead_liaison,
        )
    page = open_page()
    sign_in(page, w.partner_staff.email)
    page.goto(f"/task-forces/{w.tf.pk}/reports/")
    page.get_by_role("link", name="Page ICS 202 period 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ICS 202 — Incident objectives")
    expect(page.get_by_role("note", name="Marking of this report").first).to_have_text("TLP:AMBER")
    shot(page, "ics-202-screen")

    printed = PdfReader(io.BytesIO(page.pdf(format="A4", landscape=True)))
    texts = [p.extract_text() for p in printed.pages]
    for number, sheet in enumerate(printed.pages, start=1):
        # the repeated banners sit clear above and below the report's text on every page
        lines = placed_text(sheet)
        banner_heights = [y for text, y in lines if text == "TLP:AMBER"]
        others = [y for text, y in lines if text != "TLP:AMBER"]
        top, bottom = max(banner_heights), min(banner_heights)
        assert max(others) < top - 12 and min(others) > bottom + 12, f"page {number} overlaps"
    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert text.count("TLP:AMBER") >= 2, f"printed page {number} lacks the marking"
        assert "TLP:RED" not in text
        assert "Sign out" not in text  # the site's navigation is not printed
    assert "Sandbag sector 59" in texts[-1] or "Sandbag sector 59" in "".join(texts)


def test_a_report_reads_on_a_phone_as_labelled_cards(open_page, sign_in, shot):
    """On a phone a report's rows become cards, each value beside its column's name, with
    no sideways scrolling; printed, the same page is still a table."""
    from tests.browser.test_phone_and_keyboard import PHONE, sideways_scrolling

    w = build_report_world()
    page = open_page(PHONE)
    sign_in(page, w.partner_staff.email)
    page.goto(f"/task-forces/{w.tf.pk}/reports/ics-202/?period=1")
    expect(page.get_by_role("heading", level=1)).to_have_text("ICS 202 — Incident objectives")
    assert sideways_scrolling(page) is None, sideways_scrolling(page)
    first = page.locator(".report-table tbody tr").first
    labels = first.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    headers = page.locator(".report-table thead th").all_inner_texts()
    assert labels == [f'"{h}"' for h in headers], (labels, headers)
    assert first.evaluate("row => getComputedStyle(row).display") == "block"
    shot(page, "ics-202-phone")
    page.emulate_media(media="print")
    assert first.evaluate("row => getComputedStyle(row).display") == "table-row"
