"""Every page works with the network cut and without script errors: nothing is fetched from
outside the live server (the browser context refuses it, and the ``problems`` fixture
fails the test if anything tried), the project's own stylesheet and htmx load, and the
console stays free of errors. Every journey in this folder is held to the same check;
this test walks the pages the journeys do not."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_complete_offline(page, base_url: str, path: str) -> None:
    """The page's stylesheet and htmx came from the live server and took effect."""
    resources = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    outside = [url for url in resources if not url.startswith(base_url)]
    assert not outside, (path, outside)
    assert any(url.endswith(".css") for url in resources), (path, resources)
    # GOV.UK Frontend's stylesheet (the page's white body on its grey template) and
    # Concord's (the Arial/Helvetica stack instead of GOV.UK's own font) both applied, and
    # GOV.UK Frontend's script ran (it marks the body as supported).
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(255, 255, 255)", (path, "GOV.UK Frontend's CSS did not apply")
    template = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert template == "rgb(243, 242, 241)", (path, "GOV.UK Frontend's CSS did not apply")
    font = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert font.lower().startswith("arial") and "transport" not in font.lower(), (path, font)
    supported = page.evaluate("document.body.classList.contains('govuk-frontend-supported')")
    assert supported, (path, "GOV.UK Frontend's script did not start")
    assert page.evaluate("typeof window.htmx") == "object", (path, "htmx did not load")


def visit(page, live_server, shot, pages: list[tuple[str, str]]) -> None:
    for step, path in pages:
        response = page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_complete_offline(page, live_server.url, path)
        shot(page, step)


def test_no_page_loads_anything_from_outside_or_logs_an_error(
    open_page, sign_in, shot, live_server
) -> None:
    w = build_world()
    objective = w.objectives[Marking.AMBER]

    anonymous = open_page()
    visit(
        anonymous,
        live_server,
        shot,
        [
            ("sign-in", "/accounts/login/"),
            ("apply", "/apply/"),
            ("password-reset", "/accounts/password/reset/"),
        ],
    )

    liaison = open_page()
    sign_in(liaison, w.lead_liaison.email)
    visit(
        liaison,
        live_server,
        shot,
        [
            ("liaison-dashboard", "/"),
            ("task-force-list", "/task-forces/"),
            ("task-force", f"/task-forces/{w.tf.pk}/"),
            ("organisation", f"/task-forces/{w.tf.pk}/organisation/"),
            ("objectives-board", f"/task-forces/{w.tf.pk}/objectives/"),
            ("objective", f"/objectives/{objective.pk}/"),
            ("task", f"/tasks/{w.tasks[Marking.AMBER].pk}/"),
            ("updates-feed", f"/task-forces/{w.tf.pk}/updates/"),
            ("update", f"/updates/{w.updates[Marking.AMBER].pk}/"),
            ("post-update-form", f"/task-forces/{w.tf.pk}/updates/new/"),
            ("new-objective-form", f"/task-forces/{w.tf.pk}/objectives/new/"),
            ("directory", "/agencies/"),
            ("agency", f"/agencies/{w.partner.pk}/"),
            ("notifications", "/notifications/"),
            ("account-security", "/accounts/2fa/"),
        ],
    )

    admin = open_page()
    sign_in(admin, w.portal_admin.email)
    visit(
        admin,
        live_server,
        shot,
        [
            ("admin-dashboard", "/"),
            ("review-queue", "/agencies/applications/"),
            ("agency-status", f"/agencies/{w.outsider_agency.pk}/status/"),
        ],
    )

    agency_admin = open_page()
    sign_in(agency_admin, w.lead_admin.email)
    visit(
        agency_admin,
        live_server,
        shot,
        [
            ("people", f"/agencies/{w.lead.pk}/people/"),
            ("invite-form", f"/agencies/{w.lead.pk}/people/invite/"),
            ("new-agreement-form", f"/agencies/{w.lead.pk}/agreements/new/"),
        ],
    )


def test_the_watch_notices_outside_requests_and_script_errors(open_page, problems) -> None:
    """The check above is only worth something if it notices; make a page misbehave."""
    page = open_page()
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
            const img = document.createElement('img');
            img.src = 'https://cdn.example.com/tracker.png';
            document.body.append(img);
            setTimeout(() => { throw new Error('boom'); }, 0);
            console.error('something broke');
        }"""
    )
    page.wait_for_timeout(300)
    found = problems.unexpected()
    assert found.get("requests outside the live server") == ["https://cdn.example.com/tracker.png"]
    assert any("boom" in error for error in found.get("uncaught script errors", []))
    assert any("something broke" in error for error in found.get("console errors", []))
    problems.clear()  # noticed as it should be; the test itself is clean
