"""The Content Security Policy in a real browser. The page sweeps in test_csp.py read the
HTML; this proves what the HTML does when it runs: htmx loads and swaps without injecting
a <style>, the API documentation (Swagger UI) renders with its script served from this
server, and the Django admin's own scripts work, all under the one policy.

Chromium refuses what the policy does not allow and reports it on the console, and the
``open_page`` fixture (tests/browser/conftest.py) fails a test on any console error; so
every browser journey in tests/browser is held to the policy as well. Here a
``securitypolicyviolation`` listener also records each refusal, and the first test shows
that it does see one.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from coordination.permissions.markings import Marking
from taskforces.models import Task
from tests.conftest import build_world
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def watch_violations(page) -> None:
    page.context.add_init_script(VIOLATIONS)


def violations(page) -> list[str]:
    found = page.evaluate("window.__cspViolations")
    assert isinstance(found, list), "the violation listener did not run"
    return found


def test_htmx_works_under_the_policy_without_injecting_styles(open_page, sign_in, problems) -> None:
    w = build_world()
    task = w.tasks[Marking.AMBER]
    page = open_page()
    watch_violations(page)
    sign_in(page, w.lead_liaison.email)

    response = page.goto(f"/tasks/{task.pk}/")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("htmx.config.allowEval") is False
    page.locator("#task-status select").select_option("in_progress")
    page.locator("#task-status").get_by_role("button", name="Update status").click()
    expect(page.locator("#task-status .govuk-tag")).to_have_text("In progress")
    assert page.url.endswith(f"/tasks/{task.pk}/"), "htmx did not swap; the page reloaded"
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS
    assert page.evaluate("document.querySelectorAll('style').length") == 0
    assert page.evaluate("document.querySelectorAll('[style]').length") == 0
    assert violations(page) == []

    # and the listener sees a refusal: inline style is refused here
    problems.allow(r"Applying inline style violates .*Content Security Policy")
    page.evaluate("""document.body.insertAdjacentHTML('beforeend', '<p style="color:red">x</p>')""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert any(v.startswith("style-src") for v in violations(page)), violations(page)


def test_the_api_documentation_renders_under_the_policy(open_page, sign_in) -> None:
    w = build_world()
    page = open_page()
    watch_violations(page)
    sign_in(page, w.lead_staff.email)

    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Concord API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert violations(page) == []


def test_the_django_admin_works_under_the_policy(open_page, sign_in) -> None:
    build_world()
    admin = UserFactory(
        email="superuser@concord.example.gov",
        is_staff=True,
        is_superuser=True,
        is_portal_admin=True,
    )
    page = open_page()
    watch_violations(page)
    sign_in(page, admin.email)

    for path in ("/admin/", "/admin/taskforces/roletemplate/", "/admin/agencies/agency/"):
        response = page.goto(path)
        assert response is not None and response.ok, path
        expect(page.locator("#content")).to_be_visible()
    # the admin's own scripts run: the changelist's "select all" box ticks every row
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text(re.compile(r"[1-9]\d* of \d+ selected"))
    assert violations(page) == []
