"""Periodic checks run by Celery beat: reminders, recertification flags, escalation of
unacknowledged critical updates."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from coordination import notifications
from coordination.models import Event

from ..models import Acknowledgement, RoleAssignment, Task, TaskForce, Update


def send_reminders(*, now: datetime.datetime | None = None) -> int:
    """Warn of roles about to expire and tasks about to fall due; each warning once (the
    event key names the assignment's end or the task's due date)."""
    now = now or timezone.now()
    count = 0
    expiring = RoleAssignment.objects.filter(
        ended_at__isnull=True, ends_at__gt=now, ends_at__lte=now + datetime.timedelta(hours=48)
    ).select_related("role__task_force", "person", "agency")
    for assignment in expiring:
        with transaction.atomic():
            key = f"assignment.expiring:{assignment.pk}:{assignment.ends_at:%Y%m%d%H%M}"
            count += bool(notifications.emit("assignment.expiring", assignment, key=key))
    due_by = (now + datetime.timedelta(days=settings.CONCORD_DUE_SOON_DAYS)).date()
    due = Task.objects.filter(
        due_date__isnull=False, due_date__lte=due_by, due_date__gte=now.date()
    ).exclude(status__in=(Task.Status.DONE, Task.Status.CANCELLED))
    for task in due.exclude(task_force__status=TaskForce.Status.CLOSED):
        with transaction.atomic():
            key = f"task.due_soon:{task.pk}:{task.due_date:%Y%m%d}"
            count += bool(notifications.emit("task.due_soon", task, key=key))
    return count


RECERTIFY_BATCH = 500


def flag_unrecertified_assignments(*, now: datetime.datetime | None = None) -> int:
    """Tell the holder's agency's liaison officers about each assignment due for
    recertification, once per due cycle however often this runs: the event key names the
    assignment and the day it fell due, so recertifying starts a new cycle. Returns how
    many events were recorded."""
    now = now or timezone.now()
    due = RoleAssignment.objects.due_for_recertification(now).order_by("pk")
    count, last = 0, 0
    while True:
        batch = list(
            due.filter(pk__gt=last).only("pk", "starts_at", "recertified_at")[:RECERTIFY_BATCH]
        )
        if not batch:
            return count
        last = batch[-1].pk
        keys = {
            a.pk: f"recertify:{a.pk}:{a.recertification_due_at.astimezone(datetime.UTC).date().isoformat()}"
            for a in batch
        }
        # one query skips the cycles already flagged; the key's uniqueness still guards a race
        flagged = set(Event.objects.filter(key__in=keys.values()).values_list("key", flat=True))
        for assignment in batch:
            if keys[assignment.pk] in flagged:
                continue
            with transaction.atomic():
                count += bool(
                    notifications.emit(
                        "assignment.recertification_due",
                        assignment,
                        key=keys[assignment.pk],
                        data={"due_at": assignment.recertification_due_at.isoformat()},
                    )
                )


def escalate_unacknowledged(*, now: datetime.datetime | None = None) -> int:
    """Critical updates: remind whoever has not acknowledged after
    CONCORD_ACK_REMIND_HOURS, then tell their agency's liaison officers after
    CONCORD_ACK_ESCALATE_HOURS. Each person is reminded and escalated once per update."""
    from ..permissions import acknowledgement_audience

    now = now or timezone.now()
    remind_after = datetime.timedelta(hours=settings.CONCORD_ACK_REMIND_HOURS)
    escalate_after = datetime.timedelta(hours=settings.CONCORD_ACK_ESCALATE_HOURS)
    count = 0
    updates = Update.objects.filter(
        requires_acknowledgement=True,
        created_at__lte=now - remind_after,
        created_at__gte=now - datetime.timedelta(days=7),
    ).exclude(task_force__status=TaskForce.Status.CLOSED)
    for update in updates.select_related("task_force"):
        done = Acknowledgement.objects.filter(update=update).values("person_id")
        waiting = acknowledgement_audience(update).exclude(pk=update.author_id).exclude(pk__in=done)
        escalate = update.created_at <= now - escalate_after
        for person in waiting:
            with transaction.atomic():
                data = {"person": person.pk, "person_name": str(person)}
                key = f"update.ack_reminder:{update.pk}:{person.pk}"
                count += bool(notifications.emit("update.ack_reminder", update, key=key, data=data))
                if escalate:
                    key = f"update.ack_escalated:{update.pk}:{person.pk}"
                    count += bool(
                        notifications.emit("update.ack_escalated", update, key=key, data=data)
                    )
    return count
