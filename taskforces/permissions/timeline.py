"""Timeline entries and handover briefs: the access rule of what they are about.

A timeline entry about something with its own marking (an objective, a task, an update,
a handover brief) and a log entry (marked by its author) are ``marked``: seen like the
items (``ItemPolicy``: the task force seen, the marking within the viewer's ceiling). An
entry about the task force's own business (its status, roles, assignments, periods,
participation) is seen by whoever sees the task force, like those objects themselves.
Handover briefs carry their own marking and are items like any other."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from coordination.permissions import Explanation, InList, register

from ..access import Access, visible_items
from ..models import Capability, HandoverBrief, TimelineEntry
from .explanations import _task_force_chain
from .items import ItemPolicy


@register(TimelineEntry)
class TimelineEntryPolicy(ItemPolicy):
    """Seen as what it is about; marked significant ("change") by those who may post
    updates in the task force while it is open."""

    model = TimelineEntry

    def visible(self, queryset: QuerySet[Any], held: Access) -> QuerySet[Any]:
        return queryset.filter(
            (Q(marked=True) & visible_items(held, "task_force_id", "marking"))
            | (Q(marked=False) & Q(InList("task_force_id", held.task_forces(Capability.VIEW))))
        )

    def decides(self, user: Any, action: str, obj: Any) -> bool | None:
        """A marked entry is decided like any item (its task force and marking); one about
        the task force's own business follows ``visible``'s second branch, so it is asked
        of the database."""
        return super().decides(user, action, obj) if obj.marked else None

    def explain(self, user: Any, action: str, obj: Any) -> Explanation:
        if obj.marked:
            return super().explain(user, action, obj)
        steps, granted = _task_force_chain(user, obj.task_force, Capability.VIEW)
        if not granted or action == "view":
            return Explanation(granted, action, steps)
        return self.explain_change(user, obj, steps)


@register(HandoverBrief)
class HandoverBriefPolicy(ItemPolicy):
    """Seen like any marked item; changed by nobody once written (a new brief replaces
    nothing: the handover is a record). Acknowledging is the incoming holder's, which the
    service decides from the role's assignments in the next period."""

    model = HandoverBrief
    actions = ("view",)
