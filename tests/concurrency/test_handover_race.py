"""Two incoming holders acknowledge the same handover brief at the same moment, on
PostgreSQL, in real threads with their own connections: exactly one acknowledgement is
recorded (one audit event, one timeline entry), the other is refused cleanly, and the
commanders are told the handover is complete once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from coordination.models import AuditEvent, Event
from taskforces import services
from taskforces.models import HandoverBrief, TimelineEntry

from ..conftest import build_world
from ..factories import person
from .harness import release_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL's row locks (set DATABASE_URL); SQLite serialises writers.",
    ),
]

WAIT = 30.0  # a safety net for a stuck thread, never a measurement
ROUNDS = 10
HOUR = datetime.timedelta(hours=1)


def together(*calls: Any) -> list[Any]:
    return release_together(None, *calls, timeout=WAIT)


def test_acknowledging_one_brief_twice_at_once_records_it_once() -> None:
    w = build_world()
    now = timezone.now()
    period = services.create_period(
        task_force=w.tf, starts_at=now - HOUR, ends_at=now + HOUR, by=w.lead_liaison
    )
    services.create_period(
        task_force=w.tf, starts_at=now + HOUR, ends_at=now + 5 * HOUR, by=w.lead_liaison
    )
    # lead_staff and partner_staff stay on: both take over from each person who leaves
    for _ in range(ROUNDS):
        leaver = person(w.lead)
        assignment = services.assign_role(
            role=w.member_role, person=leaver, assigned_by=w.lead_liaison, until=period.ends_at
        )
        brief = services.write_handover_brief(assignment=assignment, period=period, by=leaver)
        results = together(
            lambda b=brief: services.acknowledge_handover(brief=b, by=w.lead_staff),
            lambda b=brief: services.acknowledge_handover(brief=b, by=w.partner_staff),
        )
        done = [r for r in results if isinstance(r, HandoverBrief)]
        refused = [r for r in results if isinstance(r, ValidationError)]
        assert len(done) == 1 and len(refused) == 1, results
        assert "already acknowledged" in str(refused[0])
        brief.refresh_from_db()
        assert brief.acknowledged_by_id == done[0].acknowledged_by_id
        key = str(brief.pk)
        assert AuditEvent.objects.filter(action="handover.acknowledged", object_id=key).count() == 1
        assert (
            TimelineEntry.objects.filter(action="handover.acknowledged", object_id=brief.pk).count()
            == 1
        )
    assert Event.objects.filter(kind="handover.complete").count() == 1
