"""The timeline over the API: listed as the person may see it, filtered (bad filters are
400s that name them), paginated, with ETags; log entries written and entries marked
significant, each from both sides."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from coordination.models import AuditEvent
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import TimelineEntry

from ..conftest import role_named
from ..factories import person

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]

URL = "/api/v1/timeline-entries/"


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def subjects(response: Any) -> set[str]:
    assert response.status_code == 200, response.content[:300]
    return {item["subject"] for item in response.json()["results"]}


def test_the_list_shows_what_each_person_may_see(world):
    w = world
    everything = subjects(api(w.lead_liaison).get(URL, {"page_size": 200}))
    partner = subjects(api(w.partner_staff).get(URL, {"page_size": 200}))
    assert "Objective TLP:RED" in everything and "Objective TLP:RED" not in partner
    assert "Objective TLP:AMBER" in partner and "Objective TLP:AMBER+STRICT" not in partner
    assert api(w.outsider).get(URL).json()["count"] == 0
    filtered = api(w.lead_liaison).get(URL, {"task_force": w.tf.pk, "kind": "update"})
    assert subjects(filtered) == {"Update TLP:AMBER", "Update TLP:RED"}
    red = TimelineEntry.objects.get(subject="Objective TLP:RED", action="objective.created")
    assert api(w.partner_staff).get(f"{URL}{red.pk}/").status_code == 404
    assert api(w.lead_liaison).get(f"{URL}{red.pk}/").json()["marking"] == Marking.RED


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "gossip"},
        {"since": "yesterday"},
        {"since": "2026-05-01"},  # a moment needs its zone
        {"significant": "yes"},
        {"period": "0"},
        {"period": "99999"},
        {"task_force": "x"},
        {"ordering": "subject"},
    ],
)
def test_bad_filters_are_400s_naming_them(world, params):
    response = api(world.lead_liaison).get(URL, params)
    assert response.status_code == 400, (params, response.content[:300])
    assert response.json()["error"]["fields"] or response.json()["error"]["message"]


def test_period_and_date_filters(world):
    w = world
    now = timezone.now()
    period = services.create_period(
        task_force=w.tf,
        starts_at=now - datetime.timedelta(days=2),
        ends_at=now - datetime.timedelta(days=1),
        by=w.lead_liaison,
    )
    services.write_log_entry(
        task_force=w.tf,
        text="Old news",
        occurred_at=now - datetime.timedelta(days=1, hours=12),
        by=w.lead_liaison,
    )
    client = api(w.lead_liaison)
    assert {i["text"] for i in client.get(URL, {"period": period.pk}).json()["results"]} == {
        "Old news"
    }
    since = (now - datetime.timedelta(hours=1)).isoformat()
    texts = {i["text"] for i in client.get(URL, {"since": since}).json()["results"]}
    assert "Old news" not in texts and texts
    # another task force's period, or one the person cannot see, names nothing
    assert api(w.outsider).get(URL, {"period": period.pk}).status_code == 400


def test_conditional_get_answers_304_until_the_timeline_changes(world):
    w = world
    client = api(w.partner_staff)
    first = client.get(URL)
    again = client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    services.write_log_entry(task_force=w.tf, text="New", by=w.lead_staff)
    assert client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_writing_a_log_entry_from_both_sides(world):
    w = world
    body = {"task_force": w.tf.pk, "text": "Pumps moved.", "marking": Marking.GREEN}
    created = api(w.partner_staff).post(URL, body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["kind"] == "log" and created.json()["actor"]["id"] == w.partner_staff.pk
    observer = person(w.lead)
    services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    assert api(observer).post(URL, body, format="json").status_code == 403
    refused = api(w.outsider).post(URL, body, format="json")
    assert refused.status_code == 400 and "task_force" in refused.json()["error"]["fields"]
    before = TimelineEntry.objects.count()
    for bad, field in (
        ({"text": ""}, "text"),
        ({"marking": Marking.RED}, "marking"),
        ({"marking": "2"}, "marking"),
        ({"kind": "update"}, "kind"),
        (
            {"occurred_at": (timezone.now() + datetime.timedelta(hours=2)).isoformat()},
            "occurred_at",
        ),
        ({"occurred_at": "tomorrow"}, "occurred_at"),
        ({"significant": "yes"}, "significant"),
    ):
        response = api(w.partner_staff).post(URL, body | bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert field in response.json()["error"]["fields"], (bad, response.json())
    assert TimelineEntry.objects.count() == before


def test_marking_significant_from_both_sides(world):
    w = world
    entry = TimelineEntry.objects.get(subject="Update TLP:AMBER", action="update.posted")
    red = TimelineEntry.objects.get(subject="Update TLP:RED", action="update.posted")
    url = f"{URL}{entry.pk}/significant/"
    done = api(w.partner_staff).post(url, {"significant": True}, format="json")
    assert done.status_code == 200 and done.json()["significant"] is True
    assert AuditEvent.objects.filter(action="timeline.significant").count() == 1
    assert api(w.partner_staff).post(url, {"significant": "true"}, format="json").status_code == 400
    assert (
        api(w.partner_staff)
        .post(f"{URL}{red.pk}/significant/", {"significant": True}, format="json")
        .status_code
        == 404
    )
    observer = person(w.lead)
    services.assign_role(
        role=role_named(w.tf, "observer"), person=observer, assigned_by=w.lead_liaison
    )
    assert api(observer).post(url, {"significant": False}, format="json").status_code == 403
    significant = api(w.lead_staff).get(URL, {"significant": "true"}).json()["results"]
    assert [item["id"] for item in significant] == [entry.pk]


def test_the_list_costs_the_same_queries_however_long(world, django_assert_max_num_queries):
    w = world
    client = api(w.partner_staff)
    with django_assert_max_num_queries(20) as captured:
        assert client.get(URL).status_code == 200
    small = len(captured.captured_queries)
    for n in range(40):
        services.write_log_entry(task_force=w.tf, text=f"Entry {n}", by=w.lead_staff)
    with django_assert_max_num_queries(small):
        assert client.get(URL, {"page_size": 100}).status_code == 200
