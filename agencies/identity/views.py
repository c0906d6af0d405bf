"""The identity provider page of an agency (register, test, enable, disable), its sign-in
requests, and the sign-in page's "Continue with your agency", which sends a person to the
identity provider of their address's agency.

As every page: fetched through the permission core (an agency the person may not change is
"not found"), a service does the work, the page renders."""

from __future__ import annotations

import logging
from typing import cast

import requests
from allauth.account import views as account_views
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from coordination.models import User
from coordination.web.pages import run_service, visible_or_404

from ..models import Agency, IdentityProvider, SignInRequest
from . import services
from .forms import AgencySignInForm, ProviderForm

logger = logging.getLogger(__name__)

GET_POST = require_http_methods(["GET", "POST"])


def _me(request: HttpRequest) -> User:
    return cast(User, request.user)


def _initial(provider: IdentityProvider | None) -> dict[str, object]:
    if provider is None:
        return {"new_people": IdentityProvider.NewPeople.REQUEST, "password_sign_in": True}
    return {
        "issuer": provider.issuer,
        "client_id": provider.social_app.client_id,
        "domains": "\n".join(d.domain for d in provider.domains.all()),
        "mfa_enforced": provider.mfa_enforced,
        "mfa_acr_values": provider.mfa_acr_values,
        "new_people": provider.new_people,
        "password_sign_in": provider.password_sign_in,
    }


def _page(
    request: HttpRequest,
    agency: Agency,
    form: ProviderForm,
    *,
    report: services.DiscoveryReport | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    provider = services.provider_of(agency)
    return render(
        request,
        "identity/provider.html",
        {
            "agency": agency,
            "provider": provider,
            "form": form,
            "report": report,
            "errors": errors or [],
            "callback_url": request.build_absolute_uri(
                reverse(
                    "openid_connect_callback",
                    kwargs={"provider_id": services.provider_id_for(agency)},
                )
            ),
            "signed_out_url": request.build_absolute_uri(reverse("account_login")),
            "pending": services.pending_requests(agency).count(),
        },
        status=status,
    )


@login_required
@GET_POST
def provider_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Register or change the agency's identity provider (its administrators and portal
    administrators)."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "change")
    provider = services.provider_of(agency)
    form = ProviderForm(request.POST or None, initial=_initial(provider))
    if request.method == "POST":
        if form.is_valid():
            saved = run_service(
                form,
                lambda: services.save_provider(agency=agency, by=_me(request), **form.cleaned_data),
            )
            if saved is not None:
                messages.success(
                    request,
                    f"{agency}'s identity provider is saved. "
                    + ("It is enabled." if saved.is_enabled else "Test it, then enable it."),
                )
                return redirect("agencies:identity-provider", agency.pk)
        return _page(request, agency, form, status=400)
    return _page(request, agency, form)


@login_required
@require_POST
def provider_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Test connection: fetch the issuer's discovery document and say what was found."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "change")
    provider = get_object_or_404(IdentityProvider.objects.select_related("agency"), agency=agency)
    report = services.record_test(provider=provider, by=_me(request))
    form = ProviderForm(initial=_initial(services.provider_of(agency)))
    return _page(request, agency, form, report=report, status=200 if report.ok else 502)


@login_required
@require_POST
def provider_enable(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable (``enabled=1``) or disable (``enabled=0``) the agency's identity provider."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "change")
    provider = get_object_or_404(IdentityProvider.objects.select_related("agency"), agency=agency)
    wanted = request.POST.get("enabled")
    form = ProviderForm(initial=_initial(provider))
    if wanted not in ("0", "1"):
        return _page(
            request,
            agency,
            form,
            errors=["Say whether to enable (1) or disable (0) the identity provider."],
            status=400,
        )
    try:
        services.set_enabled(provider=provider, by=_me(request), enabled=wanted == "1")
    except ValidationError as error:
        return _page(request, agency, form, errors=error.messages, status=400)
    messages.success(
        request,
        f"{agency}'s identity provider is {'enabled' if wanted == '1' else 'disabled'}.",
    )
    return redirect("agencies:identity-provider", agency.pk)


@login_required
def sign_in_requests(request: HttpRequest, pk: int) -> HttpResponse:
    """People an agency's identity provider signed in for the first time, waiting for an
    administrator (the agency's administrators and portal administrators)."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "manage_members")
    pending = services.pending_requests(agency)[:200]
    return render(request, "identity/requests.html", {"agency": agency, "requests": pending})


@login_required
@require_POST
def decide_sign_in_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or decline one request (``decision=approve|decline``)."""
    signin_request = get_object_or_404(SignInRequest.objects.select_related("agency"), pk=pk)
    agency = visible_or_404(
        Agency.objects.all(), request.user, signin_request.agency_id, "manage_members"
    )
    decision = request.POST.get("decision")
    if decision not in ("approve", "decline"):
        messages.error(request, "Choose approve or decline.")
        return redirect("agencies:sign-in-requests", agency.pk)
    form = AgencySignInForm()  # only to carry a service's refusal
    done = run_service(
        form,
        lambda: services.decide_request(
            request=signin_request, by=_me(request), approve=decision == "approve"
        ),
    )
    if done is None:
        for error in form.non_field_errors() + form.errors.get("login", []):
            messages.error(request, str(error))
        response = redirect("agencies:sign-in-requests", agency.pk)
        return response
    messages.success(
        request,
        f"{signin_request.email} is now staff of {agency}."
        if decision == "approve"
        else f"The request of {signin_request.email} is declined.",
    )
    return redirect("agencies:sign-in-requests", agency.pk)


@require_POST
def agency_sign_in(request: HttpRequest) -> HttpResponseBase:
    """ "Continue with your agency": send the person to the identity provider of their
    address's agency, with their address as a hint; an address no enabled provider vouches
    for goes back to the sign-in page, which says so."""
    form = AgencySignInForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter your e-mail address to continue with your agency.")
        return redirect("account_login")
    email = form.cleaned_data["login"].strip().lower()
    provider = services.provider_for_email(email)
    if provider is None:
        messages.info(
            request,
            "Your agency does not sign its people in to Concord through its own identity "
            "provider. Sign in with your e-mail address and password.",
        )
        return redirect(f"{reverse('account_login')}?email={email}")
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    oidc = provider.social_app.get_provider(request)
    auth_params = oidc.get_auth_params()
    auth_params["login_hint"] = email
    try:  # reads the provider's discovery document first
        answer = oidc.redirect(
            request, AuthProcess.LOGIN, next_url=next_url or None, auth_params=auth_params
        )
    except requests.RequestException as error:  # down, or at an address not to be reached
        logger.warning("The identity provider of %s is unreachable: %s", provider.agency, error)
        message = (
            f"Concord could not reach {provider.agency}'s sign-in service. Try again in a few "
            "minutes; if it goes on, tell your agency's administrator."
        )
        return render(
            request,
            "identity/refused.html",
            {"message": message, "agency": provider.agency},
            status=502,
        )
    if not isinstance(answer, HttpResponseRedirect):
        return answer  # allauth's "could not sign in" page (the provider is unreachable)
    # Not a redirect: the Content Security Policy's form-action 'self' stops a form's
    # answer from redirecting to another site. A page that moves on by itself (meta
    # refresh, with a link for browsers that do not) is a navigation, which it allows.
    return render(
        request,
        "identity/continue.html",
        {"agency": provider.agency, "authorize_url": answer["Location"]},
    )


def sign_out(request: HttpRequest) -> HttpResponseBase:
    """Signing out (allauth's). Someone who signed in through their agency's identity
    provider is then sent to the provider's own sign-out, so that the next "Continue with
    your agency" on this browser asks for their credentials again (a shared desk), and
    comes back to Concord's sign-in page; where the provider offers no sign-out, Concord's
    alone."""
    provider_id = request.session.get(services.SIGNED_IN_THROUGH)
    response = account_views.logout(request)
    if request.method != "POST" or provider_id is None or request.user.is_authenticated:
        return response
    url = services.end_session_url(
        provider_id, request.build_absolute_uri(reverse("account_login"))
    )
    if url is None:
        return response
    # a page that moves on by itself: a form's answer may not redirect to another site
    # (the Content Security Policy's form-action 'self')
    return render(request, "identity/signing_out.html", {"end_session_url": url})
