"""What changes inside task forces mean to open pages (``coordination.live``): which
regions of a task force's pages each kind of object alters, and who may hear of it --
the permission core's audience (``permissions.audience``), computed when the change is
sent, so TLP markings, ended assignments and withdrawn agencies count as they are then.

Every audited change of these models is pushed (the audit trail tells the live core), so
a new service that records its audit event needs nothing more here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from coordination import live
from coordination.live import Source
from coordination.models import LiveChange

from .models import (
    Acknowledgement,
    HandoverBrief,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from .permissions.audience import audience, holders

# what each kind of object alters on the task force's pages; every change of them also
# writes a timeline entry in the same transaction (taskforces.timeline), so the timeline
# region hears of each of them too
REGIONS: dict[type[Any], list[str]] = {
    # its name, status and marking head every page of it
    TaskForce: ["overview", "objectives", "tasks", "updates", "organisation", "timeline"],
    Participation: ["overview", "organisation", "timeline"],
    Role: ["organisation", "timeline"],
    RoleAssignment: ["overview", "organisation", "timeline"],
    OperationalPeriod: ["overview", "timeline"],
    Objective: ["overview", "objectives", "tasks", "timeline"],
    Task: ["overview", "objectives", "tasks", "timeline"],
    Update: ["overview", "updates", "timeline"],
    Acknowledgement: ["updates", "timeline"],
    # log entries written by hand, entries marked significant, handover briefs
    TimelineEntry: ["timeline"],
    HandoverBrief: ["timeline"],
}


def task_force_id_of(obj: Any) -> int | None:
    if isinstance(obj, TaskForce):
        return int(obj.pk)
    if isinstance(obj, RoleAssignment):
        return int(obj.role.task_force_id)
    if isinstance(obj, Acknowledgement):
        return int(obj.update.task_force_id)
    value = getattr(obj, "task_force_id", None)
    return int(value) if value is not None else None


def describe(obj: Any) -> tuple[str, list[str]] | None:
    task_force_id = task_force_id_of(obj)
    if task_force_id is None:
        return None
    return f"tf:{task_force_id}", REGIONS[type(obj)]


def who_may_see(change: LiveChange, obj: Any) -> Iterable[int]:
    """Everyone who may see ``obj`` now: an item's audience (its marking within their
    agency's ceiling, TLP:RED only with "view restricted"); for the task force's own
    rows, whoever may see the task force. A row that is gone (a deleted period) is
    heard of by whoever sees its task force."""
    if isinstance(obj, (Objective, Task, Update, TimelineEntry, HandoverBrief)):
        return audience(obj).values_list("pk", flat=True)
    if isinstance(obj, Acknowledgement):
        return audience(obj.update).values_list("pk", flat=True)
    task_force = TaskForce.objects.filter(pk=int(change.topic.split(":", 1)[1])).first()
    if task_force is None:
        return []
    return holders(task_force).values_list("pk", flat=True)


def versions(user: Any, topics: list[str]) -> dict[str, str]:
    """The content version of each named task force the person may see (``tf:*``: of all
    of them, as one version), for pages that poll. A task force the person no longer
    sees drops out, which changes the answer too."""
    visible = TaskForce.objects.restrict(user, "view")
    wanted = {int(t.split(":", 1)[1]) for t in topics if t != "tf:*"}
    answer: dict[str, str] = {}
    if wanted:
        for pk, version in visible.filter(pk__in=wanted).values_list("pk", "content_version"):
            answer[f"tf:{pk}"] = str(version)
    if "tf:*" in topics:
        rows = visible.order_by("pk").values_list("pk", "content_version")
        answer["tf:*"] = ",".join(f"{pk}.{version}" for pk, version in rows)
    return answer


source = Source(describe=describe, audience=who_may_see)
for model in REGIONS:
    live.register(model._meta.label_lower, source)
live.register_versions("tf", versions)
