"""Urgency at a glance: the critical updates a person must acknowledge (the banner every
page shows) and tags that give status and priority their meaning (GOV.UK Frontend tag
colours). Issue 17, items 2 and 3."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

from taskforces import selectors
from taskforces.models import Objective, Task, TaskForce, Update

register = template.Library()

# how many waiting updates the banner lists; the rest are counted and linked
BANNER_ITEMS = 3


@dataclass(frozen=True)
class Waiting:
    """What the banner shows: the first few updates waiting for the person's
    acknowledgement, and whether there are more."""

    items: list[Update]
    more: bool


@register.simple_tag(takes_context=True)
def awaiting_acknowledgement(context: template.Context) -> Waiting:
    """The critical updates the signed-in person is asked to acknowledge and has not: one
    query (plus reading their access, once per request, which most pages do anyway).
    Through the permission core's "acknowledge" rule, so nobody sees an update here
    they may not see. Nothing for pages rendered without a request (error pages)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Waiting([], more=False)
    rows = list(selectors.updates_awaiting_my_acknowledgement(user)[: BANNER_ITEMS + 1])
    return Waiting(rows[:BANNER_ITEMS], more=len(rows) > BANNER_ITEMS)


# GOV.UK Frontend tag colours: red needs action now, yellow watch, green fine or done,
# blue in hand, grey not started or over
STATUS_COLOURS: dict[str, str] = {
    # objectives
    Objective.Status.NOT_STARTED: "grey",
    Objective.Status.ON_TRACK: "green",
    Objective.Status.AT_RISK: "yellow",
    Objective.Status.OFF_TRACK: "red",
    Objective.Status.COMPLETED: "blue",
    Objective.Status.CANCELLED: "grey",
    # tasks
    Task.Status.TODO: "grey",
    Task.Status.IN_PROGRESS: "light-blue",
    Task.Status.BLOCKED: "red",
    Task.Status.DONE: "green",
    # task forces
    TaskForce.Status.FORMING: "yellow",
    TaskForce.Status.ACTIVE: "green",
    TaskForce.Status.STANDING_DOWN: "orange",
    TaskForce.Status.CLOSED: "grey",
}
PRIORITY_COLOURS: dict[int, str] = {
    Objective.Priority.LOW: "grey",
    Objective.Priority.MEDIUM: "blue",
    Objective.Priority.HIGH: "orange",
    Objective.Priority.CRITICAL: "red",
}


@register.inclusion_tag("includes/status_tag.html")
def status_tag(obj: Any) -> dict[str, Any]:
    """A coloured tag for an objective's, task's or task force's status."""
    return {
        "colour": STATUS_COLOURS.get(obj.status, "grey"),
        "label": obj.get_status_display(),
        "kind": "Status",
    }


@register.inclusion_tag("includes/status_tag.html")
def priority_tag(obj: Any) -> dict[str, Any]:
    """A coloured tag for an objective's priority ("Critical priority" in red)."""
    return {
        "colour": PRIORITY_COLOURS.get(obj.priority, "grey"),
        "label": f"{obj.get_priority_display()} priority",
        "kind": "Priority",
    }
