"""The notification centre (the notification workers fill it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from coordination.models import Notification
from coordination.notifications import (
    kinds_for,
    preferences_for,
    set_preferences,
    visible_notifications,
)
from coordination.notifications.forms import PreferencesForm
from coordination.web.pages import AuthenticatedHttpRequest, paginate, run_service


@login_required
def notification_centre(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My notifications, newest first; unread ones stand out, critical ones look critical
    (a red tag and edge) and are counted apart from routine ones."""
    notifications = visible_notifications(request.user)
    unread = notifications.filter(read_at__isnull=True).aggregate(
        n_critical=Count("pk", filter=Q(critical=True)),
        n_routine=Count("pk", filter=Q(critical=False)),
    )
    return render(
        request,
        "notifications/centre.html",
        {
            "page_obj": paginate(request, notifications),
            "unread_critical": unread["n_critical"],
            "unread_routine": unread["n_routine"],
        },
    )


@login_required
@require_POST
def mark_read(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark one of my notifications read. Someone else's is "not found", as if it did not
    exist, and changes nothing."""
    mine = Notification.objects.filter(recipient=request.user, pk=pk)
    if not mine.exists():
        raise Http404("Not found.")
    mine.filter(read_at__isnull=True).update(read_at=timezone.now())
    return redirect("notifications:centre")


@login_required
@require_POST
def mark_all_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return redirect("notifications:centre")


@login_required
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How I want to hear about each kind of event."""
    user = request.user
    form = PreferencesForm(
        request.POST or None, current=preferences_for(user), kinds=kinds_for(user)
    )
    if request.method == "POST" and form.is_valid():
        run_service(form, lambda: set_preferences(user=user, choices=form.choices()))
        if not form.errors:
            messages.success(request, "Your notification preferences are saved.")
            return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})
