"""The timeline's manual actions: log entries written by hand, and marking entries
significant. (Entries about changes are written by the services that make them, through
``_common.record``.)"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from coordination import audit
from coordination.models import User
from coordination.permissions import require

from ..models import TaskForce, TimelineEntry
from ._common import _check_marking, _reread_or_rollback
from .locks import lock_in_task_force, lock_task_forces

# a log entry may say what happened up to this long before it is written (an entry
# typed in after the radio call), never after it is written
CLOCK_SKEW = datetime.timedelta(minutes=5)


@transaction.atomic
def write_log_entry(
    *,
    task_force: TaskForce,
    text: str,
    by: User,
    occurred_at: datetime.datetime | None = None,
    marking: int | None = None,
    kind: str = TimelineEntry.Kind.LOG,
    subject: str = "",
    significant: bool = False,
) -> TimelineEntry:
    """Add a log entry (or a decision) written by hand to the task force's timeline, with
    the time it happened and its own marking. Those who may post updates do this, while
    the task force is open."""
    lock_task_forces([task_force.pk])
    require(by, "post_updates", task_force)
    if kind not in TimelineEntry.MANUAL_KINDS:
        raise ValidationError({"kind": "A hand-written entry is a log entry or a decision."})
    marking = int(task_force.marking) if marking is None else marking
    _check_marking(marking, by, task_force)
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + CLOCK_SKEW:
        raise ValidationError(
            {"occurred_at": "A log entry records what has happened: not a time in the future."}
        )
    if not text.strip():
        raise ValidationError({"text": "Say what happened."})
    action = f"{kind}.written"
    entry = TimelineEntry(
        task_force=task_force,
        kind=kind,
        action=action,
        summary=TimelineEntry.Kind(kind).label,
        occurred_at=occurred_at,
        actor=by,
        actor_label=str(by),
        subject=subject.strip(),
        text=text.strip(),
        marking=marking,
        marked=True,
        significant=significant,
        significant_by=by if significant else None,
        significant_at=now if significant else None,
    )
    entry.full_clean()
    entry.save()
    _reread_or_rollback(entry, by)
    audit.record(
        actor=by,
        action=action,
        obj=entry,
        after={
            "occurred_at": occurred_at.isoformat(),
            "marking": marking,
            "significant": significant,
        },
    )
    return entry


@transaction.atomic
def mark_significant(*, entry: TimelineEntry, significant: bool, by: User) -> TimelineEntry:
    """Mark a timeline entry significant (or no longer): it then shows under "significant
    only". Those who may post updates in the task force and may see the entry do this."""
    entry = lock_in_task_force(
        TimelineEntry.objects.all(), entry.pk, task_force_id=entry.task_force_id
    )
    require(by, "change", entry)
    if entry.significant == significant:
        return entry
    before = {"significant": entry.significant}
    entry.significant = significant
    entry.significant_by = by if significant else None
    entry.significant_at = timezone.now() if significant else None
    entry.save(update_fields=["significant", "significant_by", "significant_at", "changed_at"])
    audit.record(
        actor=by,
        action="timeline.significant" if significant else "timeline.not_significant",
        obj=entry,
        before=before,
        after={"significant": significant},
    )
    return entry
