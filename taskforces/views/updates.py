"""Updates and situation reports, and acknowledging them (on the page or by the e-mailed
link)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import BadRequest
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from coordination.accounts import onetime
from coordination.permissions import can, explain, require
from coordination.web.pages import AuthenticatedHttpRequest, paginate, visible_or_404

from .. import forms, selectors, services
from ..models import Acknowledgement, Update
from ._pages import form_page, task_force_or_404


def _with_acknowledgement_state(updates: QuerySet[Update], user: Any) -> QuerySet[Update]:
    return updates.annotate(
        acknowledged_by_me=Exists(
            Acknowledgement.objects.filter(update_id=OuterRef("pk"), person_id=user.pk)
        ),
        asks_me=Exists(Update.objects.restrict(user, "acknowledge").filter(pk=OuterRef("pk"))),
    )


@login_required
def updates_feed(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    updates = _with_acknowledgement_state(
        selectors.visible_updates(request.user, task_force), request.user
    )
    return render(
        request,
        "taskforces/updates_feed.html",
        {
            "task_force": task_force,
            "page_obj": paginate(request, updates, per_page=20),
            "may_post": can(request.user, "post_updates", task_force),
        },
    )


@login_required
def update_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "post_updates", task_force)
    return form_page(
        request,
        forms.UpdateForm(request.POST or None, task_force=task_force),
        save=lambda data: services.post_update(task_force=task_force, by=request.user, **data),
        saved="Update posted.",
        then=lambda update: reverse("taskforces:update", args=[update.pk]),
        context={"title": f"Post to {task_force}", "submit": "Post", "task_force": task_force},
    )


@login_required
def update_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    queryset = _with_acknowledgement_state(
        Update.objects.select_related("task_force", "author", "author_agency"), request.user
    )
    update = visible_or_404(queryset, request.user, pk)
    return render(
        request,
        "taskforces/update_detail.html",
        {
            "update": update,
            "task_force": update.task_force,
            "why": explain(request.user, "view", update),
            "acknowledgement_count": update.acknowledgements.count(),
        },
    )


@login_required
@require_POST
def acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    update = visible_or_404(Update.objects.all(), request.user, pk)
    services.acknowledge_update(update=update, by=request.user)
    if request.htmx and (request.htmx.target or "").startswith("critical-"):
        # the banner at the top of every page: the item says it is done
        return render(request, "includes/critical_acknowledged.html", {"update": update})
    if request.htmx:
        # and the banner, refreshed out of band, no longer asks for this one
        banner = render_to_string("includes/critical_banner.html", {"oob": True}, request=request)
        if request.htmx.target == "ack-area":
            # the update's own page: answer with the count and the state together
            update = _with_acknowledgement_state(Update.objects.all(), request.user).get(
                pk=update.pk
            )
            fragment = render_to_string(
                "taskforces/_ack_area.html",
                {"update": update, "acknowledgement_count": update.acknowledgements.count()},
                request=request,
            )
        else:
            fragment = render_to_string(
                "taskforces/_acknowledged.html", {"update": update}, request=request
            )
        return HttpResponse(fragment + banner)
    messages.success(request, "Acknowledged.")
    return redirect(
        request.POST["next"]
        if _safe_next(request)
        else reverse("taskforces:update", args=[update.pk])
    )


def _safe_next(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def acknowledge_by_link(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link in a critical update's e-mail. GET shows a confirmation (mail
    scanners that follow links must not acknowledge for the person); POST acknowledges
    for the person the link was made for, if they still may."""
    from coordination.models import User

    from ..notifications import ACK_MAX_AGE, ACK_SALT

    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)
        update = Update.objects.select_related("task_force").get(pk=data["u"])
        person = User.objects.get(pk=data["p"], is_active=True)
    except signing.SignatureExpired:
        raise BadRequest(
            "This acknowledgement link has expired. Sign in to Concord and acknowledge the update there."
        ) from None
    except (signing.BadSignature, KeyError, TypeError, Update.DoesNotExist, User.DoesNotExist):
        raise BadRequest("This acknowledgement link is not valid.") from None
    already = Acknowledgement.objects.filter(update=update, person=person).exists()
    if request.method == "POST" and not already:
        # the link works once (coordination.accounts.onetime); a second submission racing the
        # first finds it used and shows the acknowledgement the first one recorded
        with transaction.atomic():
            if onetime.use_once(onetime.ACKNOWLEDGEMENT, token):
                services.acknowledge_update(update=update, by=person)
        already = True
    return render(
        request,
        "taskforces/acknowledge_link.html",
        {"update": update, "person": person, "acknowledged": already},
    )
