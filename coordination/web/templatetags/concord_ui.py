"""Concord's template vocabulary on top of GOV.UK Frontend (docs/decisions/0009).

``{% load concord_ui %}`` gives:

* ``{% status_tag obj %}`` / ``{% status_tag value label %}``: a GOV.UK tag whose colour says
  what the status means (green: going well or in force; yellow/orange: needs attention; red:
  wrong or refused; grey: over or not started; blue: new or in progress). One mapping for
  every model's status, so "At risk" looks the same on every page.
* ``{% priority_tag obj %}`` / ``{% priority_tag value label %}``: the same for an objective's
  priority (1 low … 4 critical).
* ``{{ moment|when }}`` and ``{{ date|day }}``: times and dates the one way
  (``coordination.timefmt``), in the reader's zone.
* ``{% govuk_static "govuk-frontend.min.css" %}``: a file of the vendored GOV.UK Frontend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.forms import BoundField
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from coordination import timefmt
from coordination.audit.labels import action_label, object_kind_label

register = template.Library()

# The vendored release (coordination/static/vendor/govuk-frontend/<version>/); changed
# together with scripts/vendor_govuk_frontend.sh.
GOVUK_FRONTEND_VERSION = "5.14.0"

# status value -> GOV.UK tag colour modifier. Values shared by several models mean the same
# thing in each ("active" is in force, "cancelled" is over).
STATUS_COLOURS: dict[str, str] = {
    # objectives
    "not_started": "grey",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "red",
    "completed": "green",
    "cancelled": "grey",
    # tasks
    "todo": "grey",
    "in_progress": "light-blue",
    "blocked": "red",
    "done": "green",
    # task forces
    "forming": "light-blue",
    "active": "green",
    "standing_down": "orange",
    "closed": "grey",
    # agencies
    "applied": "blue",
    "under_review": "yellow",
    "changes_requested": "orange",
    "suspended": "red",
    "offboarded": "grey",
    "rejected": "red",
    # participations, agreements
    "invited": "blue",
    "accepted": "green",
    "declined": "red",
    "withdrawn": "grey",
    "proposed": "yellow",
    "terminated": "grey",
    # mutual aid: resource requests, commitments (offers: pending, accepted, declined,
    # withdrawn, as above)
    "open": "yellow",
    "fulfilled": "green",
    "committed": "blue",
    "mobilised": "light-blue",
    "on_scene": "green",
    "demobilised": "grey",
    # offboarding jobs, e-mails
    "pending": "grey",
    "running": "light-blue",
    "sent": "green",
    # audit outcomes
    "success": "green",
    "denied": "red",
    "failure": "red",
}

PRIORITY_COLOURS: dict[int, str] = {1: "grey", 2: "blue", 3: "orange", 4: "red"}


def _value_and_label(obj: Any, field: str, label: str | None) -> tuple[Any, str]:
    """Accept a model instance (its ``field`` and display) or a raw value and label."""
    if hasattr(obj, field) and hasattr(obj, f"get_{field}_display"):
        return getattr(obj, field), label or getattr(obj, f"get_{field}_display")()
    return obj, label if label is not None else str(obj).replace("_", " ").capitalize()


@register.simple_tag
def status_tag(obj: Any, label: str | None = None) -> SafeString:
    """A coloured GOV.UK tag for a status (see STATUS_COLOURS)."""
    value, text = _value_and_label(obj, "status", label)
    colour = STATUS_COLOURS.get(str(value), "grey")
    return format_html(
        '<strong class="govuk-tag govuk-tag--{} status-tag" data-status="{}">{}</strong>',
        colour,
        value,
        text,
    )


@register.simple_tag
def priority_tag(obj: Any, label: str | None = None) -> SafeString:
    """A coloured GOV.UK tag for an objective's priority, saying it is a priority."""
    value, text = _value_and_label(obj, "priority", label)
    try:
        colour = PRIORITY_COLOURS.get(int(value), "grey")
    except (TypeError, ValueError):
        colour = "grey"
    return format_html(
        '<strong class="govuk-tag govuk-tag--{} priority-tag" data-priority="{}">{} priority</strong>',
        colour,
        value,
        text,
    )


@register.filter
def when(value: dt.datetime | None) -> str:
    """A moment in the reader's zone, with the zone: "6 December 2026, 14:05 GMT"."""
    return timefmt.format_moment(value)


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    """A date the one way: "6 December 2026" (a moment's date in the reader's zone)."""
    return timefmt.format_date(value)


@register.simple_tag
def govuk_static(name: str) -> str:
    """The URL of a file of the vendored GOV.UK Frontend release."""
    return static(f"vendor/govuk-frontend/{GOVUK_FRONTEND_VERSION}/{name}")


# widget type (BoundField.widget_type) -> GOV.UK Frontend class of the control
_WIDGET_CLASSES = {
    "select": "govuk-select",
    "selectmultiple": "govuk-select",
    "textarea": "govuk-textarea",
    "checkbox": "govuk-checkboxes__input",
}


@register.filter
def govuk_widget(field: BoundField) -> SafeString:
    """Render a form field's control with GOV.UK Frontend's class (and its error variant),
    described by its hint and error messages for screen readers."""
    kind = field.widget_type
    base = _WIDGET_CLASSES.get(kind, "govuk-input")
    classes = [base]
    if field.errors and kind != "checkbox":
        classes.append(f"{base}--error")
    own = field.field.widget.attrs.get("class")
    if own:
        classes.append(own)
    described = []
    if getattr(field.field.widget, "hint", None):
        described.append(f"{field.auto_id}_hint")
    if field.help_text:
        described.append(f"{field.auto_id}_helptext")
    if field.errors:
        described.append(f"{field.auto_id}_error")
    attrs: dict[str, str | bool] = {"class": " ".join(classes)}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)


@register.filter
def audit_action(code: str) -> str:
    """An audit action's code in words (coordination.audit.labels)."""
    return action_label(code)


@register.filter
def object_kind(object_type: str) -> str:
    """An audit event's object kind (``app.model``) in words."""
    return object_kind_label(object_type)


@register.filter
def labelled(cells: Any, columns: Any) -> list[tuple[str, Any]]:
    """A table row's cells with their columns' names, for a phone's labelled cards
    (``{% for label, cell in row.cells|labelled:columns %}<td data-label="{{ label }}">``)."""
    return list(zip(columns, cells, strict=False))
