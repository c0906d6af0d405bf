"""The account pages Concord adds to allauth's: the page where a person manages their own API
tokens (list, create: the secret is shown once, on the answer to the creating request;
revoke), and the stand-in for allauth's e-mail address management."""

from __future__ import annotations

import datetime
from typing import cast

from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from coordination import timefmt
from coordination.accounts import signin
from coordination.accounts.profile import set_time_zone
from coordination.accounts.tokens import create_token, revoke_token
from coordination.models import ApiToken, User
from coordination.web.forms import line_field
from coordination.web.pages import run_service
from coordination.web.timezones import remember_zone

EXPIRY_CHOICES = [
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("never", "Never (revoke it when you no longer need it)"),
]


class TokenForm(forms.Form):
    name = line_field(
        max_length=100,
        label="Name",
        help_text="What the token is for, e.g. “Dispatch system”.",
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", label="Expires")

    def expires_at(self) -> datetime.datetime | None:
        value = self.cleaned_data["expires"]
        return None if value == "never" else timezone.now() + datetime.timedelta(days=int(value))


def _person(request: HttpRequest) -> User:
    return cast(User, request.user)  # login_required: never anonymous here


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """My tokens, newest first; a new one's secret appears once, on this response only."""
    form = TokenForm(request.POST or None)
    secret = None
    created = None
    if request.method == "POST" and form.is_valid():
        result = run_service(
            form,
            lambda: create_token(
                owner=_person(request), name=form.cleaned_data["name"], expires_at=form.expires_at()
            ),
        )
        if result is not None:
            created, secret = result
            form = TokenForm()
    context = {
        "form": form,
        "tokens": ApiToken.objects.filter(owner=_person(request)).order_by("-created_at", "-id"),
        "created": created,
        "secret": secret,
        "now": timezone.now(),
    }
    status = 400 if request.method == "POST" and secret is None else 200
    return render(request, "account/tokens.html", context, status=status)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of my tokens. Someone else's token is "not found", as if it did not exist."""
    token = ApiToken.objects.filter(owner=_person(request), pk=pk).first()
    if token is None:
        raise Http404("Not found.")
    if token.revoked_at is None:
        revoke_token(token=token, by=_person(request))
        messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    return redirect("tokens")


@login_required
def email_managed_by_agency(request: HttpRequest) -> HttpResponse:
    """Stands in for allauth's e-mail address management: a person's address is their
    sign-in name, which their agency administrator keeps, so people cannot add or
    change addresses themselves (an added address could receive password resets)."""
    return TemplateResponse(request, "account/email.html")


@never_cache
@login_required
def passkey_required(request: HttpRequest) -> HttpResponse:
    """What a person whose agency requires a passkey or security key, and who signed in
    without one, must do (``signin.PhishingResistantMiddleware`` sends them here): add one
    if they have none, then sign out and sign in with it."""
    person = _person(request)
    if not signin.phishing_resistant_required(person) or signin.signed_in_phishing_resistant(
        request
    ):
        return redirect("dashboard")
    has_key = Authenticator.objects.filter(
        user_id=person.pk, type=Authenticator.Type.WEBAUTHN
    ).exists()
    return render(request, "account/passkey_required.html", {"has_key": has_key})


class SettingsForm(forms.Form):
    """The person's own settings page: the zone they read times in."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        help_text="Every date and time in Concord, its e-mails and exports is shown in this zone.",
    )

    def __init__(self, *args: object, agency_zone: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = cast(forms.ChoiceField, self.fields["time_zone"])
        field.choices = [("", f"My agency's time zone ({agency_zone.replace('_', ' ')})")]
        field.choices += timefmt.zone_choices()


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Where a person chooses their time zone (blank: their agency's, else the portal's)."""
    person = _person(request)
    agency_zone = timefmt.agency_zone_name(person) or timefmt.portal_zone_name()
    form = SettingsForm(
        request.POST or None, initial={"time_zone": person.time_zone}, agency_zone=agency_zone
    )
    if request.method == "POST" and form.is_valid():
        done = run_service(
            form, lambda: set_time_zone(user=person, time_zone=form.cleaned_data["time_zone"])
        )
        if done is not None:
            remember_zone(request, done)
            shown = done.time_zone or agency_zone
            messages.success(request, f"Times are now shown in {shown.replace('_', ' ')}.")
            return redirect("settings")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "account/settings.html", {"form": form, "now": timezone.now()}, status=status
    )
