"""Urgency first (issue 17, item 2): a critical update the person must acknowledge is a
banner on every page until they do, with the acknowledge action in place; nobody else
sees it, least of all someone who may not see the update."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Acknowledgement

pytestmark = pytest.mark.usefixtures("module_world")


BANNER = 'id="critical-banner"'


def critical(world, title: str = "Evacuate zone 3", **extra):
    extra.setdefault("marking", Marking.GREEN)
    return services.post_update(
        task_force=world.tf,
        title=title,
        body="Now.",
        requires_acknowledgement=True,
        by=world.lead_liaison,
        **extra,
    )


def pages(world) -> list[str]:
    """Pages of every kind: the dashboard, lists, a task force's pages, an item's page,
    the person's own settings, an agency page."""
    return [
        reverse("dashboard"),
        reverse("taskforces:list"),
        reverse("taskforces:detail", args=[world.tf.pk]),
        reverse("taskforces:objectives", args=[world.tf.pk]),
        reverse("taskforces:objective", args=[world.objectives[Marking.GREEN].pk]),
        reverse("notifications:centre"),
        reverse("notifications:preferences"),
        reverse("agencies:directory"),
        reverse("tokens"),
    ]


def test_the_banner_is_on_every_page_for_the_person_asked(client, world):
    update = critical(world, ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    for url in pages(world):
        html = client.get(url).content.decode()
        assert BANNER in html, url
        assert update.title in html and reverse("taskforces:acknowledge", args=[update.pk]) in html
        assert "govuk-tag--red" in html


def test_every_page_links_the_urgency_styles_once(client, world):
    """In the page's head, once: the banner is on every page, so its styles are too."""
    critical(world, ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    for url in pages(world):
        html = client.get(url).content.decode()
        assert html.count("css/urgency") == 1, url
        assert html.index("css/urgency") < html.index("</head>"), url


@pytest.mark.parametrize("who", ["lead_staff", "outsider", "portal_admin", "lead_admin"])
def test_nobody_else_sees_the_banner(client, world, who):
    critical(world, ack_agencies=[world.partner])  # lead_staff may read it, is not asked
    client.force_login(getattr(world, who))
    for url in (reverse("dashboard"), reverse("notifications:centre")):
        assert BANNER not in client.get(url).content.decode()


def test_someone_who_may_not_see_the_update_never_sees_its_banner(client, world):
    """Asked by agency (everyone), but marked above the partner's agreement (AMBER): the
    partner's people may not see it, so no banner, no title anywhere."""
    critical(world, title="Source names", marking=Marking.AMBER_STRICT)
    client.force_login(world.partner_staff)
    html = client.get(reverse("dashboard")).content.decode()
    assert BANNER not in html and "Source names" not in html
    client.force_login(world.lead_staff)  # the lead's staff may, and are asked
    assert "Source names" in client.get(reverse("taskforces:list")).content.decode()


def test_acknowledging_from_the_banner_without_javascript(client, world):
    update = critical(world, ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    here = reverse("agencies:directory")
    response = client.post(reverse("taskforces:acknowledge", args=[update.pk]), {"next": here})
    assert response.status_code == 302 and response["Location"] == here
    assert Acknowledgement.objects.filter(update=update, person=world.partner_staff).exists()
    assert BANNER not in client.get(here).content.decode()


def test_acknowledging_from_the_banner_with_htmx_swaps_the_item(client, world):
    update = critical(world, ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    response = client.post(
        reverse("taskforces:acknowledge", args=[update.pk]),
        {"next": "/"},
        headers={"HX-Request": "true", "HX-Target": f"critical-{update.pk}"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith(f'<li id="critical-{update.pk}"') and "acknowledged" in html
    assert Acknowledgement.objects.filter(update=update, person=world.partner_staff).exists()


def test_someone_not_asked_cannot_acknowledge_through_the_banners_url(client, world):
    update = critical(world, ack_agencies=[world.partner])
    client.force_login(world.lead_staff)  # sees it, is not asked
    response = client.post(reverse("taskforces:acknowledge", args=[update.pk]), {"next": "/"})
    assert response.status_code == 403
    client.force_login(world.outsider)  # does not see it: not found
    response = client.post(reverse("taskforces:acknowledge", args=[update.pk]), {"next": "/"})
    assert response.status_code == 404
    assert not Acknowledgement.objects.filter(update=update).exists()


def test_the_banner_costs_the_same_queries_for_one_or_many_updates(
    client, world, django_assert_max_num_queries
):
    critical(world, ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    url = reverse("notifications:preferences")
    client.get(url)  # warm: session, sign-in checks
    with django_assert_max_num_queries(40) as one:
        client.get(url)
    # counted now: every request empties the connection's query log
    baseline = len(one.captured_queries)
    for n in range(8):
        critical(world, title=f"More {n}", ack_agencies=[world.partner])
    with django_assert_max_num_queries(baseline):
        html = client.get(url).content.decode()
    # three listed, the rest linked
    assert html.count('class="concord-critical-item"') == 3
    assert "More critical updates wait for your acknowledgement" in html


def test_the_banner_adds_at_most_one_query_beyond_reading_access(
    client, world, django_assert_max_num_queries
):
    """Against the same page for someone with nothing to acknowledge: the banner's own
    query, plus reading the person's access when the page had no other need of it."""
    from ..conftest import ACCESS_QUERIES

    critical(world, ack_agencies=[world.partner])
    url = reverse("notifications:preferences")
    client.force_login(world.outsider)
    client.get(url)
    with CaptureQueriesContext(connection) as plain:
        client.get(url)
    # counted now: every request empties the connection's query log
    baseline = len(plain.captured_queries)
    client.force_login(world.partner_staff)
    client.get(url)
    with django_assert_max_num_queries(baseline + 1 + ACCESS_QUERIES):
        assert BANNER in client.get(url).content.decode()


def test_critical_and_routine_notifications_look_different(
    client, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        critical(world, ack_agencies=[world.partner])
        services.post_update(
            task_force=world.tf,
            title="Routine note",
            body="Calm.",
            marking=Marking.GREEN,
            by=world.lead_liaison,
        )
    client.force_login(world.partner_staff)
    html = client.get(reverse("notifications:centre")).content.decode()
    assert html.count("concord-notification--critical") == 1
    assert html.count("concord-notification--routine") == 1
    assert "1 critical" in html and "1 routine" in html


def test_acknowledging_on_the_updates_page_refreshes_the_banner_out_of_band(client, world):
    update = critical(world, ack_agencies=[world.partner])
    other = critical(world, title="Boil water", ack_agencies=[world.partner])
    client.force_login(world.partner_staff)
    response = client.post(
        reverse("taskforces:acknowledge", args=[update.pk]),
        headers={"HX-Request": "true", "HX-Target": "ack-area"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'id="ack-area"' in html
    slot = html[html.index('id="critical-banner-slot"') :]
    assert 'hx-swap-oob="true"' in slot
    # the banner now asks only for the other one
    assert f'id="critical-{other.pk}"' in slot and f'id="critical-{update.pk}"' not in slot
