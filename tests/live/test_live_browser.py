"""Live pages in Chromium: two people of different agencies watch the task force's updates
page while the other posts, and see each other's update appear without reloading; a
third person, of an agency outside the task force, has the portal open too and hears of
nothing. The whole chain is real: uvicorn serving the portal on PostgreSQL, the relay
through Redis, Server-Sent Events into the pages.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings

from coordination.permissions.markings import Marking
from tests.browser.conftest import Problems

from .conftest import Uvicorn, session_cookie

pytestmark = pytest.mark.browser


def person_page(chromium: Any, server: Uvicorn, user: Any, problems: Problems) -> Any:
    """A browser context of the person's own, signed in, cut off from everything but
    the server."""
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.route(re.compile(r"^(?!" + re.escape(server.url) + ").*"), lambda route: route.abort())
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie(user), "url": server.url}]
    )
    page = context.new_page()
    problems.watch(page, server.url)
    return page


def wait_for_push(page: Any) -> None:
    page.wait_for_function("() => window.concordLive && window.concordLive.mode === 'push'")
    # marks this very document: a reload would lose it
    page.evaluate("window.__sameDocument = true")


def post_update(page: Any, task_force_id: int, title: str) -> None:
    page.goto(f"/task-forces/{task_force_id}/updates/new/")
    page.locator("#id_title").fill(title)
    page.locator("#id_body").fill("Posted while the others watch.")
    page.locator("#id_marking").select_option(str(int(Marking.AMBER)))
    page.get_by_role("main").get_by_role("button", name=re.compile("Post")).click()
    page.wait_for_url(re.compile(r"/updates/"))


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agencies_see_each_others_update_appear_and_an_outsider_hears_nothing(
    browser: Any,
    uvicorn: Uvicorn,
    world: SimpleNamespace,
) -> None:
    from playwright.sync_api import expect

    problems = Problems()
    problems.allow(r"favicon\.ico")  # Chromium asks for one; the portal has none
    feed = f"/task-forces/{world.tf.pk}/updates/"
    nfa = person_page(browser, uvicorn, world.lead_staff, problems)
    rhs = person_page(browser, uvicorn, world.partner_staff, problems)
    outsider = person_page(browser, uvicorn, world.outsider, problems)
    nfa.goto(feed)
    rhs.goto(feed)
    outsider.goto("/")
    for page in (nfa, rhs, outsider):
        wait_for_push(page)

    # NFA posts (from a second tab); RHS's open page shows it without reloading
    nfa_writer = nfa.context.new_page()
    started = time.monotonic()
    post_update(nfa_writer, world.tf.pk, "NFA: levee breach at Upton")
    expect(rhs.locator("#live-updates")).to_contain_text("NFA: levee breach at Upton")
    rhs_seen_after = time.monotonic() - started

    # RHS posts; NFA's open page shows it without reloading
    rhs_writer = rhs.context.new_page()
    post_update(rhs_writer, world.tf.pk, "RHS: field hospital open")
    expect(nfa.locator("#live-updates")).to_contain_text("RHS: field hospital open")
    expect(nfa.locator("#live-updates")).to_contain_text("NFA: levee breach at Upton")

    for page in (nfa, rhs):
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
        assert page.evaluate("window.concordLive.refreshes") >= 1
    objects = [e["object"] for e in rhs.evaluate("window.concordLive.events")]
    assert any(o.startswith("taskforces.update:") for o in objects)

    # the outsider's dashboard: no event arrived, nothing of either update on the page
    time.sleep(1.5)  # past the moment the others' pages had theirs
    assert outsider.evaluate("window.concordLive.events") == []
    assert outsider.evaluate("window.__sameDocument === true")
    text = outsider.locator("body").inner_text()
    assert "levee breach" not in text and "field hospital" not in text

    found = problems.unexpected()
    assert not found, f"The pages had problems: {found}"
    print(f"RHS saw NFA's update {rhs_seen_after:.2f}s after NFA pressed Post (page load included)")
    for page in (nfa, rhs, outsider):
        page.context.close()


def test_without_push_the_page_polls_and_still_shows_the_change(
    browser: Any, live_server: Any, world: SimpleNamespace, settings: Any
) -> None:
    """Django's WSGI server (as ``make run`` serves the portal, no live Redis): the stream
    answers 204, the page polls its versions with conditional GET and refetches."""
    settings.CONCORD_LIVE_REDIS_URL = ""
    settings.CONCORD_LIVE_POLL_SECONDS = 1
    problems = Problems()
    problems.allow(r"favicon\.ico")  # Chromium asks for one; the portal has none
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session_cookie(world.partner_staff),
                "url": live_server.url,
            }
        ]
    )
    try:
        polls_and_refreshes(context, live_server, world, problems)
    finally:
        context.close()


def polls_and_refreshes(
    context: Any, live_server: Any, world: SimpleNamespace, problems: Problems
) -> None:
    from playwright.sync_api import expect

    from taskforces import services

    page = context.new_page()
    problems.watch(page, live_server.url)
    polls: list[int] = []
    page.on(
        "response",
        lambda r: polls.append(r.status) if "/live/versions/" in r.url else None,
    )
    page.goto(f"/task-forces/{world.tf.pk}/updates/")
    page.wait_for_function("() => window.concordLive && window.concordLive.mode === 'polling'")
    page.evaluate("window.__sameDocument = true")
    page.wait_for_timeout(2500)
    assert 304 in polls  # nothing changed yet: answered without a body

    services.post_update(
        task_force=world.tf,
        title="Sandbags at the bridge",
        body="Polled, not pushed.",
        marking=Marking.AMBER,
        by=world.lead_liaison,
    )
    expect(page.locator("#live-updates")).to_contain_text("Sandbags at the bridge")
    assert page.evaluate("window.__sameDocument === true")
    # Chromium logs nothing for the 204 that told it to poll; anything else is a problem
    found = problems.unexpected()
    assert not found, f"The page had problems: {found}"
