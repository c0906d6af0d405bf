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
from allauth.account.authentication import get_authentication_records
from allauth.account.forms import ResetPasswordKeyForm
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.stages import AuthenticateStage as AllauthAuthenticateStage
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect

from coordination.accounts import onetime

# Session keys: when the person signed in, and when they were last seen (Unix seconds).
SIGNED_IN_AT = "concord.signed_in_at"
LAST_SEEN_AT = "concord.last_seen_at"
# Last-seen is written at most once a minute, so an active session is not saved on every
# request; a session may therefore end up to a minute before its idle limit.
LAST_SEEN_RESOLUTION = 60

# Set in the session of a person whose agency's identity provider vouched for their second
# factor (its amr/acr claims, where the agency says its provider enforces MFA): Concord then
# asks neither for its own authenticator code nor for one to be set up. The agencies' social
# account adapter decides (it knows the agency's settings) and marks the sign-in's state with
# IDP_MFA_STATE; the login stage below reads that mark and writes this session key.
MFA_BY_IDP = "concord.mfa_by_idp"
IDP_MFA_STATE = "concord_mfa_by_idp"

# Paths a person without a second factor may still open: the sign-in, account and MFA
# pages (allauth's, including sign-out), static files, the health check and the API.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/healthz/", "/api/")


class AccountAdapter(DefaultAccountAdapter):
    """No public sign-up: agency administrators create their staff's accounts."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_stages(self) -> list[str]:
        """allauth's stages, with its second-factor stage replaced by Concord's, which
        also accepts a second factor the agency's identity provider vouched for."""
        allauth_stage = f"{AllauthAuthenticateStage.__module__}.{AllauthAuthenticateStage.__name__}"
        ours = f"{AuthenticateStage.__module__}.{AuthenticateStage.__name__}"
        return [ours if stage == allauth_stage else stage for stage in super().get_login_stages()]


class AuthenticateStage(AllauthAuthenticateStage):
    """allauth's "enter your authenticator code" step of signing in, skipped only when the
    sign-in came through the person's agency's identity provider and the agency's adapter
    marked it as already multi-factor (``IDP_MFA_STATE``). Records the answer in the session
    (``MFA_BY_IDP``) for ``RequireMFAMiddleware``, on every sign-in, so a flag never
    outlives the sign-in it was given for."""

    def handle(self) -> tuple[Any, bool]:
        sociallogin = (self.login.signal_kwargs or {}).get("sociallogin")
        vouched = bool(sociallogin is not None and sociallogin.state.get(IDP_MFA_STATE))
        if vouched:
            self.request.session[MFA_BY_IDP] = True
            return None, True
        self.request.session.pop(MFA_BY_IDP, None)
        return super().handle()


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


# --- second factors --------------------------------------------------------------------------

# The factors that count as a second one: an authenticator app (TOTP), or a passkey or
# security key (WebAuthn). Recovery codes only stand in for them.
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def _no_requirement(user: Any) -> bool:
    return False


# Whether the person's agency requires a phishing-resistant factor. The agencies app
# registers its answer at start-up (AgenciesConfig.ready): the core imports no app.
_phishing_resistant_required: Callable[[Any], bool] = _no_requirement


def set_phishing_resistant_rule(rule: Callable[[Any], bool]) -> None:
    global _phishing_resistant_required
    _phishing_resistant_required = rule


def phishing_resistant_required(user: Any) -> bool:
    """Must this person sign in with a passkey or security key (their agency says so)?"""
    return bool(_phishing_resistant_required(user))


def signed_in_phishing_resistant(request: HttpRequest) -> bool:
    """Did this session sign in with a passkey or security key (WebAuthn), as a passkey
    sign-in or as the second factor after the password? A later re-authentication with
    one does not count: it proves the key is at hand, not that the sign-in was not
    phished."""
    return any(
        record.get("method") == "mfa"
        and record.get("type") == Authenticator.Type.WEBAUTHN
        and not record.get("reauthenticated")
        for record in get_authentication_records(request, request.user)
    )


class MFAAdapter(DefaultMFAAdapter):
    """While a second factor is required, nobody may remove the last one they have; a
    person whose agency requires a passkey or security key may not remove their last."""

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        user = authenticator.user
        others = set(
            Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS)
            .exclude(pk=authenticator.pk)
            .values_list("type", flat=True)
        )
        if phishing_resistant_required(user) and Authenticator.Type.WEBAUTHN not in others:
            return authenticator.type != Authenticator.Type.WEBAUTHN
        return not settings.CONCORD_REQUIRE_MFA or bool(others)


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
    """While ``CONCORD_REQUIRE_MFA`` is on, a signed-in person without a second factor
    (an authenticator app, a passkey or a security key) is sent to set one up before they
    can open any page other than the account pages (see ``MFA_EXEMPT_PREFIXES``), unless
    this session's sign-in came with a second factor their agency's identity provider
    vouched for (``MFA_BY_IDP``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.CONCORD_REQUIRE_MFA
            and request.user.is_authenticated
            and not self._exempt(request.path_info)
            and not request.session.get(MFA_BY_IDP)
            and not Authenticator.objects.filter(
                user_id=request.user.pk, type__in=SECOND_FACTORS
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
        return path.startswith(MFA_EXEMPT_PREFIXES) or RequireMFAMiddleware._exempt_static(path)

    @staticmethod
    def _exempt_static(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None
        return path.startswith("/healthz/") or bool(static and path.startswith(static))


# The pages a person whose agency requires a passkey or security key may still open after
# signing in without one: signing out, the page that says what to do, and (only while they
# have no key yet) what adding one takes. Paths under MFA_EXEMPT_PREFIXES other than these
# are not exempt: the account pages would otherwise be a way around the rule.
PASSKEY_ALWAYS_ALLOWED = frozenset({"account_logout", "logout", "passkey-required"})
PASSKEY_ENROLMENT = frozenset(
    {
        "mfa_index",
        "mfa_add_webauthn",
        "mfa_list_webauthn",
        "mfa_reauthenticate",
        "mfa_reauthenticate_webauthn",
        "account_reauthenticate",
    }
)


class PhishingResistantMiddleware:
    """A person whose agency requires a phishing-resistant factor and whose session signed
    in without one (an authenticator code, a recovery code) opens no page but the one that
    says what to do: add a passkey or security key if they have none (the only pages they
    may then open are those that add one), then sign out and sign in with it.

    Read on every request (the agency may switch the rule on at any time): nothing for a
    session that signed in with a passkey, otherwise the person's membership (remembered
    for the request, so pages that read it anyway pay nothing more)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            not user.is_authenticated
            or _is_api(request)  # the API's session authentication asks the same
            or RequireMFAMiddleware._exempt_static(request.path_info)
            or signed_in_phishing_resistant(request)
            or not phishing_resistant_required(user)
        ):
            return self.get_response(request)
        try:
            name = resolve(request.path_info).url_name or ""
        except Resolver404:
            name = ""
        if name in PASSKEY_ALWAYS_ALLOWED:
            return self.get_response(request)
        has_key = Authenticator.objects.filter(
            user_id=user.pk, type=Authenticator.Type.WEBAUTHN
        ).exists()
        if not has_key and name in PASSKEY_ENROLMENT:
            return self.get_response(request)
        url = reverse("passkey-required")
        if _is_htmx(request):
            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)
