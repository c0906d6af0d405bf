"""The audit trail's pages: the list with filters, one event, and the CSV export.

Who reads what is the audit-event policy (``agencies.permissions.AuditEventPolicy``): portal
administrators every event, agency administrators the events of their agency's people
(while they belonged to it). Everyone else is refused, and the refusal is itself recorded.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from coordination.audit.policy import may_read_audit_trail
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, restrict
from coordination.web.exports import csv_response
from coordination.web.pages import filter_list, paginate, query_without_page, visible_or_404
from coordination.web.widgets import DateInput

REFUSED = "Only portal administrators and agency administrators read the audit trail."


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        ip = data.get("ip_address")
        if ip:
            try:
                forms.GenericIPAddressField().clean(ip)
            except forms.ValidationError:
                self.add_error("ip_address", "Enter a valid IPv4 or IPv6 address.")
        return data


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label="Person", max_length=254
    )
    agency = django_filters.CharFilter(
        field_name="actor_agency_label", lookup_expr="icontains", label="Agency", max_length=200
    )
    action = django_filters.CharFilter(
        field_name="action",
        lookup_expr="startswith",
        label="Action starts with",
        max_length=100,
        help_text='For example "assignment." or "auth.sign_in_failed".',
    )
    object_type = django_filters.ChoiceFilter(
        label="Object kind", choices=(), empty_label="Any kind of object"
    )
    object_id = django_filters.CharFilter(label="Object id", max_length=64)
    outcome = django_filters.ChoiceFilter(
        choices=AuditEvent.Outcome.choices, empty_label="Any outcome"
    )
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="From (date)",
        widget=DateInput(),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="To (date)",
        widget=DateInput(),
    )
    ip_address = django_filters.CharFilter(label="IP address", max_length=45)

    class Meta:
        model = AuditEvent
        form = AuditFilterForm
        fields = ["actor", "agency", "action", "object_type", "object_id", "outcome"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["object_type"].extra["choices"] = object_kinds()


def object_kinds() -> list[tuple[str, str]]:
    """Every kind of object the trail can name, as ``app.model`` with a readable label."""
    from django.apps import apps

    kinds = [
        (model._meta.label_lower, str(model._meta.verbose_name).capitalize())
        for label in ("coordination", "agencies", "taskforces")
        for model in apps.get_app_config(label).get_models()
    ]
    return sorted(kinds, key=lambda kind: kind[1])


def _readable_events(request: HttpRequest) -> QuerySet[AuditEvent]:
    if not may_read_audit_trail(request.user):
        raise PermissionDenied(REFUSED)
    return restrict(AuditEvent.objects.all(), request.user, "view").select_related("actor")


def _filtered(request: HttpRequest) -> tuple[AuditEventFilter, QuerySet[AuditEvent]]:
    filterset = AuditEventFilter(request.GET or None, queryset=_readable_events(request))
    return filterset, filter_list(request, filterset)


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    filterset, events = _filtered(request)
    return render(
        request,
        "audit/list.html",
        {
            "filter": filterset,
            "page_obj": paginate(request, events, per_page=50),
            "query": query_without_page(request),
        },
    )


@login_required
@require_GET
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    event = visible_or_404(_readable_events(request), request.user, pk)
    keys = sorted(set(event.before or {}) | set(event.after or {}))
    changes = [
        {
            "field": key,
            "before": (event.before or {}).get(key, ""),
            "after": (event.after or {}).get(key, ""),
            "changed": (event.before or {}).get(key) != (event.after or {}).get(key),
        }
        for key in keys
    ]
    return render(request, "audit/detail.html", {"event": event, "changes": changes})


EXPORT_HEADER = (
    "id",
    "time (UTC)",
    "actor",
    "actor agency",
    "action",
    "object kind",
    "object id",
    "object",
    "outcome",
    "IP address",
    "user agent",
    "before",
    "after",
    "hash",
    "previous hash",
)


@login_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV; the export is itself an audit event."""
    _filterset, events = _filtered(request)
    limit = settings.CONCORD_AUDIT_EXPORT_MAX_ROWS
    total = events.count()
    if total > limit:
        raise BadRequest(
            f"This export would hold {total} events; the most one export may hold is "
            f"{limit}. Narrow the filters (a shorter date range, say)."
        )
    rows = (
        (
            event.pk,
            event.created_at.isoformat(),
            event.actor_label,
            event.actor_agency_label,
            event.action,
            event.object_type,
            event.object_id,
            event.object_repr,
            event.outcome,
            event.ip_address or "",
            event.user_agent,
            "" if event.before is None else event.before,
            "" if event.after is None else event.after,
            event.hash or "",
            event.prev_hash or "",
        )
        for event in events.order_by("id").iterator(chunk_size=2000)
    )
    filters = {key: value for key, value in request.GET.items() if key != "page"}
    return csv_response(
        actor=request.user,
        kind="audit-events",
        header=EXPORT_HEADER,
        rows=rows,
        filters=filters,
    )
