"""Urgency at a glance: the critical updates a person must acknowledge (the banner every
page shows). Status and priority tags are the builtin ``status_tag`` / ``priority_tag`` of
``coordination.web.templatetags.concord_ui``, the one mapping of status to colour."""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from taskforces import selectors
from taskforces.models import Update

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
    rows = selectors.awaiting_my_acknowledgement(user, BANNER_ITEMS + 1)
    return Waiting(rows[:BANNER_ITEMS], more=len(rows) > BANNER_ITEMS)
