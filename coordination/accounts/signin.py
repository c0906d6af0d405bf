"""Sign-in policy: who may make an account, that everyone has a second factor, how long a
session lasts, and how a locked account is told so.

django-allauth does the signing in (e-mail and password, TOTP, recovery codes, password
reset) and django-axes counts failed attempts; this module holds Concord's choices on top.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import ResetPasswordKeyForm
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from coordination.accounts import onetime

# Session keys: when the person signed in, and when they were last seen (Unix seconds).
SIGNED_IN_AT = "concord.signed_in_at"
LAST_SEEN_AT = "concord.last_seen_at"
# Last-seen is written at most once a minute, so an active session is not saved on every
# request; a session may therefore end up to a minute before its idle limit.
LAST_SEEN_RESOLUTION = 60

# Paths a person without a second factor may still open: the sign-in, account and MFA
# pages (allauth's, including sign-out), static files, the health check and the API.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/healthz/", "/api/")


class AccountAdapter(DefaultAccountAdapter):
    """No public sign-up: agency administrators create their staff's accounts."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False


class ResetPasswordOnceForm(ResetPasswordKeyForm):
    """allauth's "choose a new password" form behind a reset link, which works once: the
    key stays valid until the password changes, so forms submitted at the same moment
    would all pass allauth's check; the first to record its use (``coordination.accounts.onetime``)
    is accepted, the others get a form error. The use is recorded at once (its own
    transaction), so a link whose reset then fails must be asked for again."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        used = f"{self.user.pk}:{self.temp_key}" if self.user is not None else ""
        if not self.errors and used and not onetime.use_once(onetime.RESET, used):
            raise forms.ValidationError(
                "This password reset link has already been used. Ask for a new one if you "
                "still need to reset your password."
            )
        return cleaned


class MFAAdapter(DefaultMFAAdapter):
    """While a second factor is required, nobody may switch theirs off."""

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        return not settings.CONCORD_REQUIRE_MFA


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The account a sign-in attempt is for, as django-axes counts failures against it.

    allauth's form calls ``authenticate(email=...)``, other callers of ``authenticate``
    pass ``username`` or ``email``, axes itself uses ``login`` (AXES_USERNAME_FORM_FIELD),
    and so does the posted form. All of them must count against one name, whatever its
    capitals, or the lock is dodged by typing the address differently.
    """
    value: object = None
    for key in ("email", "username", "login"):
        if credentials and credentials.get(key):
            value = credentials[key]
            break
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        value = data.get("login") or data.get("username") or data.get("email")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The page a refused sign-in of a locked account gets (django-axes calls this)."""
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    context = {
        "minutes": int(cool_off.total_seconds() // 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return TemplateResponse(request, "account/locked_out.html", context, status=429).render()


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _background(request: HttpRequest) -> bool:
    """A request a live page makes without the person (coordination/static/js/live.js)."""
    return request.headers.get("X-Concord-Background") == "1" or request.path.startswith("/live/")


class IdleTimeoutMiddleware:
    """Ends a session after ``CONCORD_SESSION_IDLE_MINUTES`` without a request, and
    ``CONCORD_SESSION_MAX_HOURS`` after signing in however active it has been.

    The times are kept in the session itself, so the rule holds across any number of web
    processes. A sign-in through a request (allauth's pages) stamps the session; a
    session made otherwise (``force_login``, or one from before this rule) counts from
    the person's ``last_login`` until its first stamp.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = int(time.time())
        signed_in_before = request.user.is_authenticated
        if signed_in_before:
            signed_in_at, last_seen_at = self._times(request, now)
            reason = self._ended(now, signed_in_at, last_seen_at)
            if reason:
                return self._sign_out(request, reason)
            # what a live page asks by itself (its event stream, refetches, polls) is no
            # sign of a person at the keyboard: it must not keep an idle session alive
            if now - last_seen_at >= LAST_SEEN_RESOLUTION and not _background(request):
                request.session[SIGNED_IN_AT] = signed_in_at
                request.session[LAST_SEEN_AT] = now

        response = self.get_response(request)

        # signed in just now, through the session (an API token authenticates a single
        # request and must not create a session)
        if (
            not signed_in_before
            and request.user.is_authenticated
            and SESSION_KEY in request.session
        ):
            request.session[SIGNED_IN_AT] = now
            request.session[LAST_SEEN_AT] = now
        return response

    @staticmethod
    def _times(request: HttpRequest, now: int) -> tuple[int, int]:
        """When this session signed in and when it was last seen, in Unix seconds."""
        session = request.session
        signed_in_at = session.get(SIGNED_IN_AT)
        if not isinstance(signed_in_at, int):
            last_login = getattr(request.user, "last_login", None)
            if last_login is None:  # nothing to count from: start counting now
                session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = now
                return now, now
            signed_in_at = int(last_login.timestamp())
        last_seen_at = session.get(LAST_SEEN_AT)
        if not isinstance(last_seen_at, int):
            last_seen_at = signed_in_at
        return signed_in_at, last_seen_at

    @staticmethod
    def _ended(now: int, signed_in_at: int, last_seen_at: int) -> str | None:
        """Why the session is over, or None while it may go on."""
        max_hours = settings.CONCORD_SESSION_MAX_HOURS
        if now - signed_in_at >= max_hours * 60 * 60:
            return (
                f"You were signed out because a session lasts at most {max_hours} hours. "
                "Please sign in again."
            )
        idle_minutes = settings.CONCORD_SESSION_IDLE_MINUTES
        if now - last_seen_at > idle_minutes * 60:
            return f"You were signed out after {idle_minutes} minutes without activity."
        return None

    def _sign_out(self, request: HttpRequest, reason: str) -> HttpResponse:
        logout(request)
        if _is_api(request):
            # An API client gets the API's own "not signed in" answer, not a sign-in page.
            return self.get_response(request)
        messages.info(request, reason)
        response = redirect_to_login(request.get_full_path())
        if _is_htmx(request):
            return HttpResponseClientRedirect(response["Location"])
        return response


class RequireMFAMiddleware:
    """While ``CONCORD_REQUIRE_MFA`` is on, a signed-in person without an authenticator
    app is sent to set one up before they can open any page other than the account
    pages (see ``MFA_EXEMPT_PREFIXES``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.CONCORD_REQUIRE_MFA
            and request.user.is_authenticated
            and not self._exempt(request.path_info)
            and not Authenticator.objects.filter(
                user_id=request.user.pk, type=Authenticator.Type.TOTP
            ).exists()
        ):
            url = reverse("mfa_activate_totp")
            messages.info(
                request,
                "Concord asks for a code from an authenticator app each time you sign in. "
                "Set one up to continue.",
            )
            if _is_htmx(request):
                return HttpResponseClientRedirect(url)
            return HttpResponseRedirect(url)
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None
        return path.startswith(MFA_EXEMPT_PREFIXES) or bool(static and path.startswith(static))
