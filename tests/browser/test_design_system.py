"""GOV.UK Frontend in Concord (docs/decisions/0009-design-system.md), proved in Chromium:

* on a phone (375 px) tables become labelled cards (each cell shows its column's name), the
  "Menu" button opens the navigation, and no page scrolls sideways;
* axe-core (vendored in tests/browser/vendor/, injected by the tests only) finds no WCAG 2.1
  A/AA violation on a representative set of pages, /api/docs/ included;
* GOV.UK Frontend's script starts under the strict Content Security Policy, and GOV.UK's
  own font is never used nor fetched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from tests.browser.test_phone_and_keyboard import sideways_scrolling
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
# WCAG 2.0/2.1 A and AA: what a public-sector service must meet.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


FONT_REQUESTS: list[str] = []


def with_axe(page):
    """Make axe-core available on every page this tab opens. An init script is injected by
    the browser itself, so the page's Content Security Policy (no inline script) stays on.
    Any font the page asks for is noted (GOV.UK's own must never be)."""
    page.context.add_init_script(path=str(AXE))
    page.on(
        "request",
        lambda r: (
            FONT_REQUESTS.append(f"{r.url} (on {page.url})") if r.resource_type == "font" else None
        ),
    )
    return page


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the current page: rule, impact, and the first few nodes."""
    result = page.evaluate(
        """async (tags) => {
            // no CSSOM preload: axe would re-read the stylesheets into a document of its
            // own, which fetches the fonts they declare and no page ever uses
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, preload: false});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.length,
                where: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.html.slice(0, 120)),
            }));
        }""",
        AXE_TAGS,
    )
    return result


def test_on_a_phone_tables_are_labelled_cards_and_the_menu_opens(open_page, sign_in, shot) -> None:
    w = build_world()
    page = open_page(PHONE)
    sign_in(page, w.lead_liaison.email)

    page.goto("/task-forces/")
    shot(page, "phone-task-forces")
    # the header row is out of sight (kept for screen readers), each row is a card ...
    head = page.locator("main table thead").first
    assert head.bounding_box()["width"] <= 1
    row = page.locator("main table tbody tr").first
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    # ... and each cell shows its column's name above its value
    cells = row.locator("td")
    labels = [
        cells.nth(i).evaluate("c => getComputedStyle(c, '::before').content")
        for i in range(cells.count())
    ]
    assert labels == ['"Name"', '"Lead agency"', '"Status"', '"Marking"'], labels
    assert row.locator("td").first.evaluate("c => getComputedStyle(c).display") == "block"

    # The navigation is behind the "Menu" button until it is pressed.
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    task_forces = page.get_by_role("navigation", name="Main").get_by_role("link", name="Agencies")
    expect(task_forces).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(task_forces).to_be_visible()
    shot(page, "phone-menu-open")
    task_forces.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agencies")

    # On a wide screen the same table is a table, and there is no menu button.
    wide = open_page()
    sign_in(wide, w.lead_liaison.email)
    wide.goto("/task-forces/")
    assert (
        wide.locator("main table tbody tr").first.evaluate("r => getComputedStyle(r).display")
        == "table-row"
    )
    expect(wide.get_by_role("button", name="Menu")).to_be_hidden()


def test_pages_with_tables_fit_a_phone(open_page, sign_in, shot) -> None:
    """The audit trail (seven columns) and the other tables read as cards, with nothing
    sticking out sideways."""
    w = build_world()
    admin = open_page(PHONE)
    sign_in(admin, w.lead_admin.email)
    liaison = open_page(PHONE)
    sign_in(liaison, w.lead_liaison.email)
    too_wide = {}
    for page, step, path in (
        (admin, "audit", "/audit/"),
        (admin, "people", f"/agencies/{w.lead.pk}/people/"),
        (admin, "access-review", f"/agencies/{w.lead.pk}/access-review/"),
        (liaison, "tasks", f"/task-forces/{w.tf.pk}/tasks/"),
        (liaison, "objective", f"/objectives/{w.objectives[Marking.AMBER].pk}/"),
        (liaison, "tokens", "/api-tokens/"),
        (liaison, "settings", "/settings/"),
        (liaison, "directory", "/agencies/"),
    ):
        response = page.goto(path)
        assert response is not None and response.ok, path
        shot(page, f"phone-{step}")
        problem = sideways_scrolling(page)
        if problem:
            too_wide[path] = problem
        # every body cell of every table names its column
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('main table.govuk-table tbody td')]
                .filter(td => !td.hasAttribute('colspan') && !td.dataset.label).length"""
        )
        assert unlabelled == 0, (path, f"{unlabelled} cells without a data-label")
    assert not too_wide, f"Pages that scroll sideways on a phone: {too_wide}"
    # The audit trail's actions read as words, not codes.
    admin.goto("/audit/")
    expect(admin.locator("main table tbody td[data-label='Action']").first).not_to_contain_text(".")


def test_axe_finds_no_violations(open_page, sign_in, shot) -> None:
    w = build_world()
    found: dict[str, list[dict]] = {}

    def check(page, step: str, path: str) -> None:
        response = page.goto(path)
        assert response is not None and response.ok, path
        if path.startswith("/api/docs/"):
            expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        else:
            expect(page.get_by_role("heading", level=1)).to_be_visible()
        violations = axe_violations(page)
        if violations:
            found[path] = violations
            shot(page, f"axe-{step}")

    anonymous = with_axe(open_page())
    for step, path in (("sign-in", "/accounts/login/"), ("apply", "/apply/")):
        check(anonymous, step, path)

    liaison = with_axe(open_page())
    sign_in(liaison, w.lead_liaison.email)
    for step, path in (
        ("dashboard", "/"),
        ("task-forces", "/task-forces/"),
        ("task-force", f"/task-forces/{w.tf.pk}/"),
        ("organisation", f"/task-forces/{w.tf.pk}/organisation/"),
        ("tasks", f"/task-forces/{w.tf.pk}/tasks/"),
        ("objective", f"/objectives/{w.objectives[Marking.AMBER].pk}/"),
        ("update", f"/updates/{w.updates[Marking.AMBER].pk}/"),
        ("new-objective", f"/task-forces/{w.tf.pk}/objectives/new/"),
        ("agency", f"/agencies/{w.lead.pk}/"),
        ("notifications", "/notifications/"),
        ("preferences", "/notifications/preferences/"),
        ("settings", "/settings/"),
        ("api-docs", "/api/docs/"),
    ):
        check(liaison, step, path)
    # a form with errors: the error summary and field messages
    liaison.goto(f"/task-forces/{w.tf.pk}/objectives/new/")
    liaison.get_by_role("button", name="Add objective").click()
    expect(liaison.locator(".govuk-error-summary")).to_be_visible()
    violations = axe_violations(liaison)
    if violations:
        found["new objective, with errors"] = violations

    admin = with_axe(open_page())
    sign_in(admin, w.portal_admin.email)
    for step, path in (
        ("review-queue", "/agencies/applications/"),
        ("audit", "/audit/"),
    ):
        check(admin, step, path)

    phone = with_axe(open_page(PHONE))
    sign_in(phone, w.lead_admin.email)
    for step, path in (
        ("phone-people", f"/agencies/{w.lead.pk}/people/"),
        ("phone-audit", "/audit/"),
    ):
        check(phone, step, path)

    assert not found, "axe-core found:\n" + json.dumps(found, indent=1)


def test_govuk_frontend_starts_under_the_csp_without_gds_transport(
    open_page, sign_in, live_server
) -> None:
    w = build_world()
    page = open_page()
    fonts: list[str] = []
    page.on("request", lambda r: fonts.append(r.url) if r.resource_type == "font" else None)
    sign_in(page, w.lead_liaison.email)
    page.goto(f"/task-forces/{w.tf.pk}/")
    assert page.evaluate("document.body.classList.contains('js-enabled')")
    assert page.evaluate("document.body.classList.contains('govuk-frontend-supported')")
    # initAll() ran: the skip link and the service navigation are initialised components
    expect(page.locator("[data-module='govuk-service-navigation']")).to_have_attribute(
        "data-govuk-service-navigation-init", ""
    )
    for selector in ("h1", ".govuk-button, .govuk-link", "body"):
        family = page.locator(selector).first.evaluate("e => getComputedStyle(e).fontFamily")
        assert family.lower().startswith("arial"), (selector, family)
        assert "transport" not in family.lower(), (selector, family)
    assert fonts == [], f"fonts were fetched: {fonts}"
    assert page.locator("link[rel=stylesheet][href*='govuk-frontend']").count() == 1
