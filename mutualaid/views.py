"""The mutual aid pages: a task force's requests (filtered with htmx, exported as CSV), a
request with its offers and commitments (each step a small form; with htmx the page's body
is swapped in place), the forms to raise a request and to offer, the ICS 213RR report,
and the agencies' published capabilities.

Each view fetches through the permission core, calls a service, renders."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST, require_safe

from agencies.selectors import membership_of
from coordination import audit
from coordination.permissions import PermissionDenied, can, explain
from coordination.web.exports import csv_response
from coordination.web.pages import (
    AuthenticatedHttpRequest,
    paginate,
    query_without_page,
    run_service,
    visible_or_404,
)
from taskforces.access import access_for
from taskforces.models import TaskForce
from taskforces.views._pages import form_page

from . import forms, reports, selectors, services
from .models import AgencyCapability, Commitment, Offer, ResourceRequest
from .permissions import may_keep_capabilities, may_raise

# --- a task force's requests ----------------------------------------------------------------


def _filtered(request: AuthenticatedHttpRequest, task_force: TaskForce) -> Any:
    """The task force's requests the person sees, filtered by the query string (a bad
    filter is a 400 naming it)."""
    unknown = sorted(set(request.GET) - {"status", "priority", "page"})
    if unknown:
        raise BadRequest(f"Invalid filter — unknown parameter: {', '.join(unknown)}")
    form = forms.StatusFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        raise BadRequest(f"Invalid filter — {problems}")
    queryset = selectors.status_filter(
        selectors.visible_requests(request.user, task_force), form.cleaned_data
    )
    return form, queryset.order_by("-number")


@login_required
@require_safe
def request_list(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    form, queryset = _filtered(request, task_force)
    context = {
        "task_force": task_force,
        "filter_form": form,
        "page_obj": paginate(request, queryset, per_page=25),
        "query": query_without_page(request),
        "may_raise": bool(may_raise(request.user, task_force)),
    }
    if request.htmx and request.htmx.target == "request-table":
        return render(request, "mutualaid/_request_table.html", context)
    return render(request, "mutualaid/request_list.html", context)


@login_required
@require_GET
def requests_csv(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    _, queryset = _filtered(request, task_force)
    rows = (
        [
            r.reference,
            r.what,
            r.quantity,
            r.committed_total,
            r.pending_offers,
            r.get_priority_display(),
            r.get_status_display(),
            r.requesting_agency.name,
            r.location,
            r.needed_by.isoformat(),
            r.get_marking_display(),
            r.created_at.isoformat(),
        ]
        for r in queryset.prefetch_related("addressed_agencies")
    )
    return csv_response(
        actor=request.user,
        kind="resource-requests",
        header=(
            "Request",
            "What",
            "Quantity",
            "Committed",
            "Pending offers",
            "Priority",
            "Status",
            "Requesting agency",
            "Where",
            "Needed by",
            "Marking",
            "Raised",
        ),
        rows=rows,
        filters=dict(request.GET.items()),
        scope=task_force,
    )


@login_required
def request_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    explanation = may_raise(request.user, task_force)
    if not explanation:
        raise PermissionDenied(explanation, obj=task_force)
    held = access_for(request.user)
    return form_page(
        request,
        forms.RequestForm(request.POST or None, task_force=task_force, agency_id=held.agency_id),
        save=lambda data: services.raise_request(task_force=task_force, by=request.user, **data),
        saved=lambda r: f"Request {r.reference} raised.",
        then=lambda r: reverse("mutualaid:request", args=[r.pk]),
        template="mutualaid/request_form.html",
        context={
            "title": f"Request resources for {task_force}",
            "submit": "Raise request",
            "task_force": task_force,
            "providers": selectors.providers(task_force),
        },
    )


# --- one request --------------------------------------------------------------------------


def _detail_context(request: AuthenticatedHttpRequest, rr: ResourceRequest) -> dict[str, Any]:
    user = request.user
    offers = list(selectors.visible_offers(user, rr))
    commitments = list(selectors.visible_commitments(user, rr))
    may_decide = can(user, "decide", rr)
    committed = services.committed_quantity(rr)
    # which buttons to show, from the permission core (one query each, not one per row)
    may_withdraw = set(
        Offer.objects.restrict(user, "withdraw").filter(request=rr).values_list("pk", flat=True)
    )
    may_progress = set(
        Commitment.objects.restrict(user, "progress")
        .filter(request=rr)
        .values_list("pk", flat=True)
    )
    for o in offers:
        o.may_withdraw = o.pk in may_withdraw  # type: ignore[attr-defined]
    for c in commitments:
        c.next_steps = [  # type: ignore[attr-defined]
            (s, Commitment.Status(s).label) for s in services.TRANSITIONS[c.status]
        ]
        c.may_progress = bool(c.next_steps) and c.pk in may_progress  # type: ignore[attr-defined]
    return {
        "rr": rr,
        "task_force": rr.task_force,
        "offers": offers,
        "commitments": commitments,
        "committed": committed,
        "remaining": max(rr.quantity - committed, 0),
        "addressed": selectors.addressed_names(rr),
        "may_offer": rr.status == ResourceRequest.Status.OPEN and can(user, "offer", rr),
        "may_decide": may_decide and rr.status == ResourceRequest.Status.OPEN,
        "may_cancel": rr.status != ResourceRequest.Status.CANCELLED and can(user, "cancel", rr),
        "why": explain(user, "view", rr),
    }


def _request(request: AuthenticatedHttpRequest, pk: int) -> ResourceRequest:
    return visible_or_404(
        ResourceRequest.objects.select_related(
            "task_force", "requesting_agency", "kind", "requested_by"
        ),
        request.user,
        pk,
    )


@login_required
@require_safe
def request_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rr = _request(request, pk)
    return render(request, "mutualaid/request_detail.html", _detail_context(request, rr))


def _after_step(
    request: AuthenticatedHttpRequest, rr_pk: int, done: str, error: ValidationError | None
) -> HttpResponse:
    """After a step on the request's page: with htmx, the page's body again (with the
    error, if the service refused, and status 400); otherwise a redirect to the page."""
    if error is not None:
        text = " ".join(error.messages)
        if not request.htmx:
            messages.error(request, text)
            return redirect("mutualaid:request", rr_pk)
        rr = _request(request, rr_pk)
        context = {**_detail_context(request, rr), "step_error": text}
        return render(request, "mutualaid/_request_body.html", context, status=400)
    if not request.htmx:
        messages.success(request, done)
        return redirect("mutualaid:request", rr_pk)
    rr = _request(request, rr_pk)
    context = {**_detail_context(request, rr), "step_done": done}
    return render(request, "mutualaid/_request_body.html", context)


def _step(call: Any) -> ValidationError | None:
    try:
        call()
    except ValidationError as error:
        return error
    return None


def _form_error(form: Any) -> ValidationError:
    return ValidationError(dict(form.errors.items()))


@login_required
@require_POST
def request_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rr = _request(request, pk)
    form = forms.ReasonForm(request.POST)
    error = (
        _step(lambda: services.cancel_request(request=rr, by=request.user, **form.cleaned_data))
        if form.is_valid()
        else _form_error(form)
    )
    return _after_step(request, rr.pk, f"Request {rr.reference} cancelled.", error)


@login_required
def offer_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rr = _request(request, pk)
    if not can(request.user, "offer", rr):
        raise PermissionDenied(explain(request.user, "offer", rr), obj=rr)
    return form_page(
        request,
        forms.OfferForm(
            request.POST or None, initial={"quantity": rr.quantity, "available_from": rr.needed_by}
        ),
        save=lambda data: services.make_offer(request=rr, by=request.user, **data),
        saved="Offer made.",
        then=lambda o: reverse("mutualaid:request", args=[rr.pk]),
        template="mutualaid/offer_form.html",
        context={
            "title": f"Offer resources against {rr.reference}",
            "submit": "Make offer",
            "task_force": rr.task_force,
            "rr": rr,
        },
    )


def _offer(request: AuthenticatedHttpRequest, pk: int) -> Offer:
    return visible_or_404(Offer.objects.select_related("request"), request.user, pk)


@login_required
@require_POST
def offer_accept(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offer = _offer(request, pk)
    form = forms.AcceptForm(request.POST)
    error = (
        _step(
            lambda: services.accept_offer(
                offer=offer, by=request.user, quantity=form.cleaned_data["quantity"]
            )
        )
        if form.is_valid()
        else _form_error(form)
    )
    return _after_step(request, offer.request_id, f"{offer.agency}'s offer accepted.", error)


@login_required
@require_POST
def offer_decline(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offer = _offer(request, pk)
    form = forms.ReasonForm(request.POST)
    error = (
        _step(lambda: services.decline_offer(offer=offer, by=request.user, **form.cleaned_data))
        if form.is_valid()
        else _form_error(form)
    )
    return _after_step(request, offer.request_id, f"{offer.agency}'s offer declined.", error)


@login_required
@require_POST
def offer_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    offer = _offer(request, pk)
    form = forms.OptionalReasonForm(request.POST)
    error = (
        _step(lambda: services.withdraw_offer(offer=offer, by=request.user, **form.cleaned_data))
        if form.is_valid()
        else _form_error(form)
    )
    return _after_step(request, offer.request_id, "Offer withdrawn.", error)


@login_required
@require_POST
def commitment_step(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    commitment = visible_or_404(Commitment.objects.all(), request.user, pk)
    form = forms.CommitmentStepForm(request.POST)
    error = (
        _step(
            lambda: services.move_commitment(
                commitment=commitment,
                by=request.user,
                to_status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
            )
        )
        if form.is_valid()
        else _form_error(form)
    )
    label = Commitment.Status(form.cleaned_data["status"]).label.lower() if form.is_valid() else ""
    return _after_step(request, commitment.request_id, f"Commitment is now {label}.", error)


# --- the ICS 213RR ------------------------------------------------------------------------

FORMATS = ("html", "pdf", "csv")


@login_required
@require_safe
def ics_213rr(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The request's ICS 213RR as a printable page, a PDF or a CSV (``?format=``); the
    downloads are recorded in the audit trail."""
    rr = _request(request, pk)
    unknown = sorted(set(request.GET) - {"format"})
    fmt = request.GET.get("format", "html")
    if unknown or fmt not in FORMATS or len(request.GET.getlist("format")) > 1:
        raise BadRequest(
            "Invalid report request — "
            + (
                f"unknown parameter: {', '.join(unknown)}"
                if unknown
                else "format: html, pdf or csv"
            )
        )
    form = reports.build(rr, request.user)
    if fmt == "csv":
        return csv_response(
            actor=request.user,
            kind="ics-213rr",
            header=reports.CSV_HEADER,
            rows=reports.csv_rows(form),
            scope=rr,
            filename=f"ics-213rr-{rr.task_force_id}-{rr.number}.csv",
        )
    if fmt == "pdf":
        body = reports.render_pdf(form)
        audit.record(
            actor=request.user,
            action="report.downloaded",
            obj=rr,
            after={"form": "ics-213rr", "format": "pdf"},
        )
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="ics-213rr-{rr.task_force_id}-{rr.number}.pdf"'
        )
        response["Cache-Control"] = "no-store"
        return response
    return render(
        request, "mutualaid/ics_213rr.html", {"form": form, "rr": rr, "task_force": rr.task_force}
    )


# --- capabilities -------------------------------------------------------------------------


@login_required
def capabilities(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What agencies say they can usually provide; the person's agency's liaison officers
    and administrators keep its list here."""
    membership = membership_of(request.user)
    agency = membership.agency if membership else None
    may_keep = agency is not None and may_keep_capabilities(request.user, agency)
    form = forms.CapabilityForm(request.POST or None)
    if request.method == "POST":
        if not may_keep or agency is None:
            raise PermissionDenied(
                "Only an agency's liaison officers and administrators keep its capabilities."
            )
        if form.is_valid() and run_service(
            form,
            lambda: services.set_capability(agency=agency, by=request.user, **form.cleaned_data),
        ):
            messages.success(request, "Capability published.")
            return redirect("mutualaid:capabilities")
    listed = AgencyCapability.objects.restrict(request.user, "view").select_related(
        "agency", "kind"
    )
    return render(
        request,
        "mutualaid/capabilities.html",
        {
            "page_obj": paginate(request, listed, per_page=50),
            "form": form if may_keep else None,
            "agency": agency,
            "query": "",
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def capability_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    capability = visible_or_404(
        AgencyCapability.objects.select_related("agency", "kind"), request.user, pk, "change"
    )
    services.remove_capability(capability=capability, by=request.user)
    messages.success(request, f"{capability.kind} removed from {capability.agency}'s list.")
    return redirect("mutualaid:capabilities")
