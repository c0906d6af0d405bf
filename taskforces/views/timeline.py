"""The timeline page of a task force, its entries region (polled by conditional GET),
log entries written by hand, marking entries significant, and the CSV and PDF exports.

The entries region has its own address (``timeline-entries``) and the page polls it with
``If-None-Match``: its ETag is the person's access with the content version of each of
their task forces (``taskforces.access.Access.fingerprint``; the database moves a task
force's version whenever a row inside it, timeline entries included, changes) and the
query asked, so an unchanged timeline is answered 304 without reading an entry. A live
push (issue 19's server-sent events) can swap the same region on an event instead."""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import quote_etag
from django.views.decorators.http import require_GET, require_POST, require_safe

from coordination import audit
from coordination.permissions import can, require
from coordination.web.exports import csv_response
from coordination.web.pages import (
    AuthenticatedHttpRequest,
    paginate,
    query_without_page,
    visible_or_404,
)

from .. import forms, selectors, services
from ..access import access_for
from ..filtersets import TimelineFilter
from ..models import OperationalPeriod, TaskForce, TimelineEntry
from ..reports.data import Report, Row, Section, moment
from ..reports.pdf import render_pdf
from ._pages import form_page, task_force_or_404

PER_PAGE = 50
PDF_LIMIT = 5000  # entries in one PDF; the CSV has them all


def filtered_timeline(
    request: AuthenticatedHttpRequest, task_force: TaskForce, *, extra: frozenset[str] = frozenset()
) -> tuple[QuerySet[TimelineEntry], TimelineFilter]:
    """The entries the person may see, filtered by the query string; an unknown or bad
    parameter is a 400 that names it (``extra`` names parameters the caller reads)."""
    allowed = set(TimelineFilter.base_filters) | {"page"} | extra
    unknown = sorted(set(request.GET) - allowed)
    if unknown:
        raise BadRequest(f"Invalid filter — unknown parameter: {', '.join(unknown)}.")
    repeated = sorted(name for name in request.GET if len(request.GET.getlist(name)) > 1)
    if repeated:
        raise BadRequest(f"Invalid filter — give each parameter once: {', '.join(repeated)}.")
    periods = OperationalPeriod.objects.filter(task_force=task_force)
    filterset = TimelineFilter(
        request.GET or None,
        queryset=selectors.timeline_of(request.user, task_force),
        periods=periods,
        request=request,
    )
    if not (request.GET.keys() - {"page"} - extra):
        return filterset.queryset, filterset
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        raise BadRequest(f"Invalid filter — {problems}")
    return filterset.qs, filterset


def timeline_etag(request: AuthenticatedHttpRequest, region: str) -> str:
    """What a timeline answer depends on besides the code: who asks, what they ask and
    the state of everything they may see (see the module docstring)."""
    asked = f"{request.user.pk}\n{region}\n{request.get_full_path()}"
    state = access_for(request.user).fingerprint
    return quote_etag(hashlib.sha256(f"{asked}\n{state}".encode()).hexdigest()[:40])


def _context(
    request: AuthenticatedHttpRequest, task_force: TaskForce, entries: QuerySet[TimelineEntry]
) -> dict[str, Any]:
    return {
        "task_force": task_force,
        "page_obj": paginate(request, entries, per_page=PER_PAGE),
        "query": query_without_page(request),
        "may_write": can(request.user, "post_updates", task_force),
        "now": timezone.now(),
    }


def _conditional(request: AuthenticatedHttpRequest, region: str) -> tuple[str, HttpResponse | None]:
    etag = timeline_etag(request, region)
    return etag, get_conditional_response(request, etag=etag)


def _finish(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    # revalidate every time (a poll must see a change at once), keep it private
    patch_cache_control(response, private=True, no_cache=True)
    return response


@login_required
@require_safe
def timeline(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The task force's timeline, newest first, filtered and paginated. (The page itself
    is always rendered: it carries the messages of what the person just did; its entries
    region is what polls conditionally.)"""
    task_force = task_force_or_404(request, pk)
    entries, filterset = filtered_timeline(request, task_force)
    context = _context(request, task_force, entries)
    context["filter"] = filterset
    return render(request, "taskforces/timeline/page.html", context)


@login_required
@require_safe
def timeline_entries(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The entries region alone (what the page polls, and what a live push swaps)."""
    task_force = task_force_or_404(request, pk)
    entries, _ = filtered_timeline(request, task_force)
    etag, not_modified = _conditional(request, "entries")
    if not_modified is not None:
        return _finish(not_modified, etag)
    context = _context(request, task_force, entries)
    return _finish(render(request, "taskforces/timeline/_entries.html", context), etag)


@login_required
def log_entry_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "post_updates", task_force)

    def save(data: dict[str, Any]) -> TimelineEntry:
        return services.write_log_entry(
            task_force=task_force,
            by=request.user,
            kind=data["kind"],
            subject=data["subject"],
            text=data["text"],
            occurred_at=data["occurred_at"],
            marking=data["marking"],
            significant=data["significant"],
        )

    return form_page(
        request,
        forms.LogEntryForm(request.POST or None, task_force=task_force),
        save=save,
        saved="Log entry added to the timeline.",
        then=lambda entry: reverse("taskforces:timeline", args=[task_force.pk]),
        context={
            "title": f"Add to the timeline of {task_force}",
            "submit": "Add to the timeline",
            "task_force": task_force,
        },
    )


@login_required
@require_POST
def entry_significant(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark an entry significant (``significant=true``) or no longer (``false``)."""
    entry = visible_or_404(TimelineEntry.objects.select_related("task_force"), request.user, pk)
    value = request.POST.get("significant")
    if value not in ("true", "false"):
        raise BadRequest("significant: give true or false.")
    services.mark_significant(entry=entry, significant=value == "true", by=request.user)
    messages.success(
        request,
        "Marked significant." if value == "true" else "No longer marked significant.",
    )
    return redirect(reverse("taskforces:timeline", args=[entry.task_force_id]) + f"#e{entry.pk}")


# --- exports ---------------------------------------------------------------------------------

CSV_HEADER = (
    "ID",
    "Occurred at",
    "Kind",
    "Activity",
    "Person",
    "About",
    "Details",
    "Significant",
    "Marking",
)


def _filters(request: AuthenticatedHttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in request.GET if key != "page"}


@login_required
@require_GET  # not HEAD: a download is audited, so it is built only to be delivered
def timeline_csv(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Every entry matching the filters (not one page), as CSV."""
    task_force = task_force_or_404(request, pk)
    entries, _ = filtered_timeline(request, task_force)
    rows = (
        (
            entry.pk,
            entry.occurred_at.isoformat(),
            entry.get_kind_display(),
            entry.summary,
            str(entry.actor) if entry.actor_id else entry.actor_label,
            entry.subject,
            entry.text,
            "yes" if entry.significant else "no",
            entry.get_marking_display(),
        )
        for entry in entries.iterator(chunk_size=500)
    )
    return csv_response(
        actor=request.user,
        kind="timeline",
        header=CSV_HEADER,
        rows=rows,
        filters=_filters(request),
        scope=task_force,
        filename=f"concord-timeline-tf{task_force.pk}-{timezone.now():%Y%m%d-%H%M%S}.csv",
    )


@login_required
@require_GET
def timeline_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The entries matching the filters, oldest first, as a PDF with its marking (the
    highest among the entries included) on every page."""
    task_force = task_force_or_404(request, pk)
    entries, _ = filtered_timeline(request, task_force)
    chosen = list(entries.order_by("occurred_at", "id")[: PDF_LIMIT + 1])
    cut = len(chosen) > PDF_LIMIT
    rows = [
        Row(
            (
                moment(entry.occurred_at),
                str(entry.actor) if entry.actor_id else entry.actor_label,
                entry.summary + (" (significant)" if entry.significant else ""),
                entry.subject,
                entry.text,
            ),
            int(entry.marking),
        )
        for entry in chosen[:PDF_LIMIT]
    ]
    filters = _filters(request)
    report = Report(
        form="timeline",
        number="Timeline",
        title=task_force.name,
        task_force=task_force,
        period=None,
        viewer=request.user,
        columns=("Time", "Person", "Activity", "About", "Details"),
        weights=(1.5, 2, 2.3, 2.6, 4),
        sections=[
            Section(
                "Entries" + (f" (the first {PDF_LIMIT}; the CSV has them all)" if cut else ""),
                rows,
                empty="No entries you can see match these filters.",
            )
        ],
        subject=", ".join(f"{k}={v}" for k, v in filters.items()) or "All entries",
    )
    content = render_pdf(report)
    audit.record(
        actor=request.user,
        action="export.pdf",
        obj=task_force,
        after={
            "kind": "timeline",
            "rows": len(rows),
            "marking": report.marking_label,
            "filters": filters,
        },
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="concord-timeline-tf{task_force.pk}-{timezone.now():%Y%m%d-%H%M%S}.pdf"'
    )
    response["Cache-Control"] = "no-store"
    return response
