"""The audit pages: portal administrators read every event, agency administrators their
agency's people's; filters are validated; the CSV export holds the same rows and is
itself recorded."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from coordination import audit
from coordination.models import AuditEvent

pytestmark = pytest.mark.usefixtures("module_world")


def as_(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_ids(response) -> set[int]:
    return {event.pk for event in response.context["page_obj"]}


def test_a_portal_administrator_reads_every_event(world) -> None:
    response = as_(world.portal_admin).get(reverse("audit:list"))
    assert response.status_code == 200
    assert response.context["page_obj"].paginator.count == AuditEvent.objects.count()


def test_an_agency_administrator_reads_only_their_peoples_events(world) -> None:
    ours = audit.record(actor=world.lead_staff, action="test.ours")
    theirs = audit.record(actor=world.partner_staff, action="test.theirs")
    response = as_(world.lead_admin).get(reverse("audit:list"), {"action": "test."})
    assert response.status_code == 200
    assert listed_ids(response) == {ours.pk}
    assert as_(world.lead_admin).get(reverse("audit:detail", args=[ours.pk])).status_code == 200
    assert as_(world.lead_admin).get(reverse("audit:detail", args=[theirs.pk])).status_code == 404
    page = as_(world.portal_admin).get(reverse("audit:list"), {"action": "test."})
    assert listed_ids(page) == {ours.pk, theirs.pk}


@pytest.mark.parametrize("persona", ["lead_liaison", "lead_staff", "partner_staff", "outsider"])
def test_everyone_else_is_refused_and_the_refusal_is_recorded(world, persona) -> None:
    user = getattr(world, persona)
    response = as_(user).get(reverse("audit:list"))
    assert response.status_code == 403
    assert "audit trail" in response.content.decode()
    event = AuditEvent.objects.filter(action="access.refused").order_by("-id").first()
    assert event.actor == user
    assert as_(user).get(reverse("audit:export")).status_code == 403


def test_the_navigation_shows_the_audit_trail_to_its_readers_only(world) -> None:
    link = reverse("audit:list")
    assert link in as_(world.lead_admin).get("/").content.decode()
    assert link in as_(world.portal_admin).get("/").content.decode()
    assert link not in as_(world.lead_staff).get("/").content.decode()


def test_filters_narrow_the_list(world) -> None:
    target = audit.record(
        actor=world.lead_staff,
        action="test.filtered",
        obj=world.lead,
        outcome=AuditEvent.Outcome.DENIED,
    )
    audit.record(actor=world.lead_staff, action="test.filtered")
    response = as_(world.portal_admin).get(
        reverse("audit:list"),
        {
            "actor": "staff@nfa",
            "agency": "flood",
            "action": "test.filt",
            "object_type": "agencies.agency",
            "object_id": str(world.lead.pk),
            "outcome": "denied",
            "since": target.created_at.date().isoformat(),
            "until": target.created_at.date().isoformat(),
        },
    )
    assert response.status_code == 200
    assert listed_ids(response) == {target.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2026-05-02", "until": "2026-05-01"},
        {"outcome": "maybe"},
        {"object_type": "auth.nothing"},
        {"ip_address": "999.1.1.1"},
        {"action": "x" * 101},
        {"page": "0"},
    ],
)
def test_invalid_filters_are_a_clear_400(world, params) -> None:
    response = as_(world.portal_admin).get(reverse("audit:list"), params)
    assert response.status_code == 400
    exports = AuditEvent.objects.filter(action="export.csv").count()
    assert as_(world.portal_admin).get(reverse("audit:export"), params).status_code in (400, 200)
    if "page" not in params:
        assert AuditEvent.objects.filter(action="export.csv").count() == exports


def read_csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csv_export_holds_what_the_reader_may_see_and_is_recorded(world) -> None:
    ours = audit.record(actor=world.lead_staff, action="test.export", after={"n": 1})
    audit.record(actor=world.partner_staff, action="test.export")
    audit.seal()  # as the sealer does just after the commit
    ours.refresh_from_db()
    response = as_(world.lead_admin).get(reverse("audit:export"), {"action": "test.export"})
    assert response.status_code == 200
    rows = read_csv(response)
    assert [row["id"] for row in rows] == [str(ours.pk)]
    assert rows[0]["hash"] == ours.hash
    export = AuditEvent.objects.filter(action="export.csv").order_by("-id").first()
    assert export.actor == world.lead_admin
    assert export.after == {
        "kind": "audit-events",
        "rows": 1,
        "filters": {"action": "test.export"},
    }


@override_settings(CONCORD_AUDIT_EXPORT_MAX_ROWS=1)
def test_an_export_over_the_limit_asks_for_narrower_filters(world) -> None:
    audit.record(actor=world.lead_staff, action="test.many")
    audit.record(actor=world.lead_staff, action="test.many")
    response = as_(world.portal_admin).get(reverse("audit:export"), {"action": "test.many"})
    assert response.status_code == 400
    assert "Narrow the filters" in response.content.decode()


def test_the_detail_shows_values_before_and_after(world) -> None:
    event = audit.record(
        actor=world.lead_staff,
        action="test.changed",
        before={"status": "on_track"},
        after={"status": "at_risk"},
    )
    audit.seal()
    event.refresh_from_db()
    html = as_(world.portal_admin).get(reverse("audit:detail", args=[event.pk])).content.decode()
    assert "on_track" in html and "at_risk" in html and event.hash in html


def test_the_list_costs_the_same_queries_however_many_events(world) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_(world.lead_admin)
    client.get(reverse("audit:list"))  # session and caches warm
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("audit:list"))
    for i in range(30):
        audit.record(actor=world.lead_staff, action="test.volume", after={"i": i})
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("audit:list"))
    assert len(many) == len(few)
