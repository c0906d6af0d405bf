"""Calendar feeds: the person's subscriptions (made and revoked here) and the feed itself,
served to calendar programs by its secret address."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from coordination.web.pages import AuthenticatedHttpRequest

from .. import calendar as calendar_feeds
from ..models import CalendarFeed


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def calendar(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My calendar feed: make one (or a new one, which replaces the old address) and
    revoke it. A new address is shown once, on the answer to the request that made it."""
    secret = None
    feed = calendar_feeds.live_feed(request.user)
    replaced = request.method == "POST" and feed is not None
    if request.method == "POST":
        feed, secret = calendar_feeds.create_feed(actor=request.user)
    feed_url = (
        request.build_absolute_uri(reverse("taskforces:calendar-feed", args=[secret]))
        if secret
        else None
    )
    return render(
        request,
        "taskforces/calendar.html",
        {
            "feed": feed,
            "secret": secret,
            "feed_url": feed_url,
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else None,
            "replaced": replaced,
            "history": calendar_feeds.HISTORY.days,
        },
    )


@login_required
@require_POST
def calendar_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Revoke my calendar feed. Someone else's feed is "not found", as if it did not exist."""
    feed = CalendarFeed.objects.filter(owner_id=request.user.pk, pk=pk).first()
    if feed is None:
        raise Http404("Not found.")
    if feed.revoked_at is None:
        calendar_feeds.revoke_feed(actor=request.user, feed=feed)
        messages.success(request, "Your calendar address was revoked; it no longer works.")
    return redirect("taskforces:calendar")


@require_safe
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    """The feed itself, fetched by calendar apps without a session: the secret in the
    address is the credential. Unknown and revoked addresses are "not found"."""
    feed = calendar_feeds.feed_for_secret(secret)
    if feed is None:
        raise Http404("Not found.")
    ical = calendar_feeds.build_calendar(feed.owner)
    calendar_feeds.record_use(feed=feed, items=len(ical.subcomponents))
    response = HttpResponse(ical.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="concord.ics"'
    # personal data behind a secret address: no shared cache may keep it
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
