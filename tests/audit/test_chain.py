"""The audit trail is a hash chain, append-only, verified by a command, purged only past
its retention period (and the purge is itself recorded)."""

from __future__ import annotations

import datetime as dt
import itertools
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import override_settings

from coordination import audit
from coordination.audit import chain
from coordination.models import AuditEvent, AuditTrailIsAppendOnly
from coordination.permissions.markings import Marking
from tests.factories import AgencyFactory, person

pytestmark = pytest.mark.django_db

ON_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


def tamper(sql: str, params: list[object]) -> None:
    """What someone with direct database access could do: on PostgreSQL a superuser would
    first have to switch triggers off (within this test's transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.fixture
def actor():
    return person(AgencyFactory(name="Audit Agency"), email="actor@audit.example")


def some_events(actor, n: int = 5) -> list[AuditEvent]:
    """Events recorded and then sealed into the chain (as the sealer does after commit)."""
    recorded = [
        audit.record(actor=actor, action="test.did", obj=actor, after={"n": i, "text": "é ✓"})
        for i in range(n)
    ]
    audit.seal()
    return list(AuditEvent.objects.filter(pk__in=[e.pk for e in recorded]).order_by("id"))


def test_each_event_carries_the_hash_of_the_one_before(actor) -> None:
    events = some_events(actor)
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.pk for e in stored][-5:] == [e.pk for e in events]
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    for before, after in itertools.pairwise(stored):
        assert after.prev_hash == before.hash
    assert stored[0].prev_hash == AuditEvent.GENESIS
    # what was stored hashes to what was computed before storing (JSON and time round-trip)
    assert all(event.compute_hash() == event.hash for event in stored)
    assert audit.verify_chain().intact


@pytest.mark.parametrize(
    "field,value",
    [
        ("created_at", dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
        ("actor_label", "someone@else.example"),
        ("actor_agency_label", "Another Agency"),
        ("action", "test.other"),
        ("object_type", "coordination.other"),
        ("object_id", "999"),
        ("object_repr", "changed"),
        ("before", {"n": 1}),
        ("after", {"n": 99}),
        ("outcome", "denied"),
        ("ip_address", "10.9.8.7"),
        ("user_agent", "curl"),
        ("prev_hash", "f" * 64),
    ],
)
def test_the_hash_covers_every_recorded_value(actor, field: str, value: object) -> None:
    event = some_events(actor, 1)[0]
    original = event.hash
    setattr(event, field, value)
    assert chain.hash_of(event) != original


def test_the_application_cannot_change_or_remove_an_event(actor) -> None:
    event = some_events(actor, 1)[0]
    event.action = "test.rewritten"
    with pytest.raises(AuditTrailIsAppendOnly):
        event.save()
    with pytest.raises(AuditTrailIsAppendOnly):
        event.delete()
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.did"


def test_a_person_with_audit_history_cannot_be_deleted(actor) -> None:
    from django.db.models import ProtectedError

    some_events(actor, 1)
    with pytest.raises(ProtectedError):
        actor.delete()


@ON_POSTGRES
@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE coordination_auditevent SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM coordination_auditevent WHERE id = %s",
    ],
)
def test_on_postgresql_a_trigger_refuses_update_and_delete(actor, sql: str) -> None:
    """Of a sealed event: its content, its seal and its existence are fixed."""
    event = some_events(actor, 1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.did"


@ON_POSTGRES
@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        # changing an unsealed event's content while sealing it
        "UPDATE coordination_auditevent SET seq = 999999, prev_hash = 'x', hash = 'y', "
        "action = 'rewritten' WHERE id = %s",
        # changing the content only
        "UPDATE coordination_auditevent SET action = 'rewritten' WHERE id = %s",
    ],
)
def test_on_postgresql_an_unsealed_event_may_only_be_sealed(actor, sql: str) -> None:
    event = audit.record(actor=actor, action="test.did", obj=actor)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.did"


@ON_POSTGRES
@pytest.mark.postgres
def test_on_postgresql_an_event_cannot_be_inserted_already_sealed(actor) -> None:
    with (
        pytest.raises(DatabaseError, match="unsealed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO coordination_auditevent (created_at, actor_label, actor_agency_label, "
            "action, object_type, object_id, object_repr, outcome, user_agent, seq, "
            "prev_hash, hash) VALUES (now(), 'x', '', 'test.forged', '', '', '', 'success', "
            "'', 1, 'a', 'b')"
        )


@ON_POSTGRES
@pytest.mark.postgres
def test_even_the_purge_switch_does_not_let_young_events_be_deleted(actor) -> None:
    event = some_events(actor, 1)[0]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL concord.audit_purge = 'on'")
        cursor.execute("DELETE FROM coordination_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_verify_names_the_first_changed_event(actor) -> None:
    events = some_events(actor)
    tamper(
        "UPDATE coordination_auditevent SET after = %s WHERE id = %s", ['{"n": 42}', events[2].pk]
    )
    report = audit.verify_chain()
    assert report.broken_at == events[2].pk
    assert "content" in report.problem
    with pytest.raises(CommandError, match=f"broken at event #{events[2].pk}"):
        call_command("verify_audit_chain", stdout=StringIO())


def test_verify_names_the_event_after_a_removed_one(actor) -> None:
    events = some_events(actor)
    tamper("DELETE FROM coordination_auditevent WHERE id = %s", [events[1].pk])
    report = audit.verify_chain()
    assert report.broken_at == events[2].pk
    assert "removed or inserted" in report.problem


def test_verify_finds_a_removed_first_event(actor) -> None:
    some_events(actor)
    first, second = AuditEvent.objects.order_by("id")[:2]
    tamper("DELETE FROM coordination_auditevent WHERE id = %s", [first.pk])
    report = audit.verify_chain()
    assert report.broken_at == second.pk
    assert "first event" in report.problem


def test_verify_command_reports_an_intact_chain(actor) -> None:
    some_events(actor, 3)
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    total = AuditEvent.objects.count()
    assert f"{total} events verified" in out.getvalue()
    assert AuditEvent.objects.order_by("-seq").first().hash in out.getvalue()


def test_recorded_events_wait_unsealed_until_the_sealer_chains_them(actor) -> None:
    event = audit.record(actor=actor, action="test.did", obj=actor)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.hash, stored.prev_hash) == (None, None, None)
    assert audit.verify_chain(seal_first=False).unsealed >= 1
    assert audit.seal() >= 1
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.seq is not None and stored.hash == stored.compute_hash()
    assert audit.seal() == 0  # nothing is sealed twice


def test_a_sealed_event_inserted_in_the_middle_breaks_the_chain(actor) -> None:
    events = some_events(actor, 3)
    forged = AuditEvent(
        created_at=events[1].created_at,
        actor_label="forger@example",
        action="test.forged",
        seq=events[1].seq,
        prev_hash=events[0].hash,
    )
    forged.hash = forged.compute_hash()
    # make room for it, as a forger rewriting the places after it would have to
    tamper("UPDATE coordination_auditevent SET seq = seq + 1000 WHERE seq >= %s", [events[1].seq])
    tamper(
        "INSERT INTO coordination_auditevent (created_at, actor_label, actor_agency_label, "
        "action, object_type, object_id, object_repr, outcome, user_agent, seq, prev_hash, "
        "hash) VALUES (%s, %s, '', %s, '', '', '', 'success', '', %s, %s, %s)",
        [
            forged.created_at,
            forged.actor_label,
            forged.action,
            forged.seq,
            forged.prev_hash,
            forged.hash,
        ],
    )
    report = audit.verify_chain()
    assert not report.intact


# --- retention ---------------------------------------------------------------------------


def events_at(actor, when: dt.datetime, n: int) -> list[AuditEvent]:
    with time_machine.travel(when, tick=False):
        return some_events(actor, n)


def test_purge_removes_only_events_past_retention_and_records_that_it_ran(actor) -> None:
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    AuditEvent.objects.all()  # the world may hold events; they are "now" in real time
    old = events_at(actor, now - dt.timedelta(days=400), 3)
    kept = events_at(actor, now - dt.timedelta(days=364), 2)
    with time_machine.travel(now, tick=False):
        out = StringIO()
        call_command("purge_audit_events", stdout=out)
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in kept]).count() == 2
    purge = AuditEvent.objects.get(action="audit.purged")
    assert purge.after["removed"] >= 3
    assert purge.after["first_kept_id"] == kept[0].pk
    assert purge.after["first_kept_seq"] == kept[0].seq
    assert purge.actor_label == "system"
    assert "Removed" in out.getvalue()
    # what remains still verifies: the purge recorded where the chain now starts
    assert audit.verify_chain().intact


def test_a_dry_run_removes_nothing(actor) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    old = events_at(actor, now - dt.timedelta(days=500), 2)
    with time_machine.travel(now, tick=False):
        out = StringIO()
        call_command("purge_audit_events", "--dry-run", stdout=out)
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in old]).count() == 2
    assert not AuditEvent.objects.filter(action="audit.purged").exists()
    assert "Would remove" in out.getvalue()


def test_a_purge_with_nothing_to_remove_is_still_recorded(actor) -> None:
    some_events(actor, 2)
    call_command("purge_audit_events", stdout=StringIO())
    assert AuditEvent.objects.get(action="audit.purged").after["removed"] == 0


@override_settings(CONCORD_AUDIT_RETENTION_DAYS=30)
def test_retention_never_goes_below_a_year(actor) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    young = events_at(actor, now - dt.timedelta(days=200), 2)
    with time_machine.travel(now, tick=False):
        summary = audit.purge_expired()
    assert summary["retention_days"] == 365
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in young]).count() == 2


def test_the_settings_refuse_a_retention_under_a_year(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CONCORD_AUDIT_RETENTION_DAYS": "90"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "import coordination.settings.local"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "CONCORD_AUDIT_RETENTION_DAYS must be at least 365" in result.stderr


# --- what is never written -----------------------------------------------------------------


def test_secrets_are_never_recorded(actor) -> None:
    event = audit.record(
        actor=actor,
        action="test.secret",
        before={"password": "hunter2hunter2", "nested": {"token": "abc", "ok": 1}},
        after={"key_hash": "deadbeef", "name": "visible"},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    text = str(stored.before) + str(stored.after)
    assert "hunter2" not in text and "abc" not in text and "deadbeef" not in text
    assert stored.before["nested"]["ok"] == 1
    assert stored.after["name"] == "visible"


def test_texts_of_red_items_are_withheld(world) -> None:
    red = world.objectives[Marking.RED]
    event = audit.record(
        actor=world.lead_liaison,
        action="objective.updated",
        obj=red,
        before={"title": red.title, "status": "on_track"},
        after={"title": "New secret title", "status": "at_risk"},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert red.title not in stored.object_repr
    assert "TLP:RED" in stored.object_repr
    assert stored.before["title"] == audit.RED_PLACEHOLDER
    assert stored.after["title"] == audit.RED_PLACEHOLDER
    assert stored.after["status"] == "at_risk"
    amber = world.objectives[Marking.AMBER]
    kept = audit.record(actor=world.lead_liaison, action="objective.updated", obj=amber)
    assert kept.object_repr == amber.title
