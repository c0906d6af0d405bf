"""Migration taskforces/0011 writes the timeline of the history so far from the audit
trail: run on what the services recorded, it gives back the entries they wrote."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from coordination.models import AuditEvent
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import TimelineEntry

pytestmark = pytest.mark.django_db

FIELDS = (
    "task_force_id",
    "kind",
    "action",
    "summary",
    "actor_id",
    "object_type",
    "object_id",
    "subject",
    "text",
    "marking",
    "marked",
)


def test_the_backfill_gives_back_what_the_services_wrote(world):
    w = world
    services.update_task(task=w.tasks[Marking.RED], by=w.lead_liaison, status="in_progress")
    services.end_assignment(assignment=w.lead_staff_assignment, by=w.lead_liaison, reason="Off")
    services.post_update(
        task_force=w.tf, title="Sitrep", body="Calm.", kind="sitrep", by=w.lead_liaison
    )
    written = sorted(TimelineEntry.objects.values_list(*FIELDS), key=repr)
    assert len(written) > 20
    TimelineEntry.objects.all().delete()
    migration = importlib.import_module("taskforces.migrations.0011_timeline_and_handover")
    migration.backfill(apps, None)
    assert sorted(TimelineEntry.objects.values_list(*FIELDS), key=repr) == written
    # at the audit event's moment (the service's own clock reading differs by microseconds)
    events = dict(AuditEvent.objects.values_list("pk", "created_at"))
    assert set(TimelineEntry.objects.values_list("occurred_at", flat=True)) <= set(events.values())
