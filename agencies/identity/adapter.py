"""allauth's social account adapter for agencies' identity providers: what keeps each
identity provider inside its own agency.

Every sign-in through an identity provider passes ``pre_social_login`` first, which refuses
it unless all of these hold (and records the refusal in the audit trail):

* the provider is an agency's registered identity provider, enabled, of an active agency;
* the provider says the address is verified (``email_verified`` true);
* the address is of one of the domains this agency's provider vouches for;
* the account it leads to is of this agency: an account already linked to this provider,
  or an existing account with the same address (which is then linked), must have its
  active membership here. Never an account of another agency, a portal administrator's
  without a membership, or one whose membership ended: a person's agency never changes
  through an identity provider (MISP #9478).

A new person then gets an account and a staff membership of that agency at once
(``save_user``, through ``agencies.services.add_member``) or, by the agency's setting, a
pending request its administrators approve. The agency's "IdP enforces MFA" setting with
an ``amr`` naming a second factor (or an accepted ``acr``) marks the sign-in so Concord's
own authenticator code is not asked (``coordination.accounts.signin.AuthenticateStage``).
"""

from __future__ import annotations

from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount import app_settings as allauth_settings
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthProcess
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse

from coordination import audit
from coordination.accounts.signin import IDP_MFA_STATE
from coordination.models import AuditEvent, User

from ..models import IdentityProvider, Membership
from . import services
from .discovery import PublicOnlySession
from .services import Claims

# RFC 8176 authentication method references that mean a second factor was used.
MFA_AMR = frozenset({"mfa", "hwk", "otp"})
# the OpenID Connect claims a job title comes in, by provider (Entra ID, Okta, others)
JOB_TITLE_CLAIMS = ("job_title", "jobTitle", "title")


def _claim_sets(sociallogin: SocialLogin) -> tuple[dict[str, Any], dict[str, Any]]:
    data = sociallogin.account.extra_data or {}
    userinfo = data.get("userinfo") if isinstance(data.get("userinfo"), dict) else {}
    id_token = data.get("id_token") if isinstance(data.get("id_token"), dict) else {}
    return userinfo or {}, id_token or {}


def _claim(sociallogin: SocialLogin, *names: str) -> Any:
    """The first of ``names`` present in the userinfo answer, else in the ID token."""
    for source in _claim_sets(sociallogin):
        for name in names:
            if source.get(name) not in (None, ""):
                return source[name]
    return None


def _line(value: Any, limit: int) -> str:
    text = " ".join(str(value).split()) if isinstance(value, (str, int)) else ""
    return text[:limit]


def claims_of(sociallogin: SocialLogin) -> Claims:
    email = _claim(sociallogin, "email")
    name = _line(_claim(sociallogin, "name"), 300)
    given = _line(_claim(sociallogin, "given_name"), 150) or name.partition(" ")[0][:150]
    family = _line(_claim(sociallogin, "family_name"), 150) or name.partition(" ")[2][:150]
    return Claims(
        email=email.strip().lower() if isinstance(email, str) else "",
        first_name=given,
        last_name=family,
        job_title=_line(_claim(sociallogin, *JOB_TITLE_CLAIMS), 150),
    )


def email_verified(sociallogin: SocialLogin) -> bool:
    """Only a JSON true (or the string "true", as some providers send it) counts."""
    value = _claim(sociallogin, "email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def mfa_vouched(provider: IdentityProvider, sociallogin: SocialLogin) -> bool:
    """Did the provider say a second factor was used, where the agency trusts it to?"""
    if not provider.mfa_enforced:
        return False
    _, id_token = _claim_sets(sociallogin)
    amr = id_token.get("amr")
    if isinstance(amr, list) and MFA_AMR & {str(v).lower() for v in amr}:
        return True
    acr = id_token.get("acr")
    accepted = set(provider.mfa_acr_values.split())
    return isinstance(acr, str) and bool(accepted) and acr in accepted


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Signs people in through their own agency's identity provider, and only there."""

    def get_requests_session(self) -> PublicOnlySession:
        """What allauth fetches from the provider with (discovery, tokens, claims, keys):
        never from a host at a private address, looked up at each request."""
        return PublicOnlySession(allauth_settings.REQUESTS_TIMEOUT)

    def _refuse(
        self,
        request: HttpRequest,
        provider: IdentityProvider | None,
        claims: Claims | None,
        reason: str,
        message: str,
        status: int = 403,
    ) -> ImmediateHttpResponse:
        with transaction.atomic():
            audit.record(
                actor=None,
                actor_label=(claims.email if claims and claims.email else "unknown")[:300],
                action="identity.refused",
                obj=provider,
                outcome=AuditEvent.Outcome.DENIED,
                after={
                    "agency": provider.agency_id if provider else None,
                    "email": claims.email if claims else "",
                    "reason": reason,
                },
            )
        response = TemplateResponse(
            request,
            "identity/refused.html",
            {"message": message, "agency": provider.agency if provider else None},
            status=status,
        )
        return ImmediateHttpResponse(response.render())

    def _provider(self, request: HttpRequest, sociallogin: SocialLogin) -> IdentityProvider:
        provider = services.provider_for_app(sociallogin.account.provider)
        if provider is None or not provider.is_enabled or not provider.agency.is_active:
            raise self._refuse(
                request,
                provider,
                claims_of(sociallogin),
                "provider_not_enabled",
                "This identity provider cannot sign anyone in to Concord at the moment.",
            )
        return provider

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider = self._provider(request, sociallogin)
        agency = provider.agency
        claims = claims_of(sociallogin)
        if sociallogin.state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
            # allauth's "connect another account to mine" (and its redirect process): the
            # link between an account and its agency's provider is made here, on sign-in
            # only, by the rules below, never by a signed-in person's choice
            raise self._refuse(
                request,
                provider,
                claims,
                "not_a_sign_in",
                "Your agency's identity provider is linked to your account when you sign in "
                "through it; it cannot be connected from here.",
            )
        if not claims.email or not email_verified(sociallogin):
            raise self._refuse(
                request,
                provider,
                claims,
                "email_not_verified",
                f"{agency}'s identity provider did not confirm that your e-mail address is "
                "verified, so Concord cannot sign you in with it. Ask your agency's IT team.",
            )
        vouched_for = services.provider_for_email(claims.email, enabled_only=False)
        if vouched_for is None or vouched_for.pk != provider.pk:
            raise self._refuse(
                request,
                provider,
                claims,
                "domain_not_vouched",
                f"{agency}'s identity provider cannot sign in {claims.email}: that address is "
                f"not of a domain {agency} vouches for. Sign in through your own agency.",
            )
        if sociallogin.is_existing:
            user = sociallogin.user
        else:
            user = User.objects.filter(email__iexact=claims.email).first()
        if user is not None:
            # an existing account signs in here only while its active membership is in this
            # agency: never one of another agency, a portal administrator's without one, or
            # a person whose membership ended (their administrator adds them again)
            active_in = (
                Membership.objects.filter(user_id=user.pk, is_active=True)
                .values_list("agency_id", flat=True)
                .first()
            )
            if active_in != agency.pk or user.email.lower() != claims.email:
                reason = (
                    "email_changed"
                    if user.email.lower() != claims.email
                    else "other_agency"
                    if active_in is not None
                    else "no_membership"
                )
                raise self._refuse(
                    request,
                    provider,
                    claims,
                    reason,
                    f"The Concord account of {claims.email} cannot be signed in through "
                    f"{agency}'s identity provider. Ask your agency's administrator.",
                )
            if not sociallogin.is_existing:
                # the same person, same agency: link this provider's identity to the account
                sociallogin.connect(request, user)
                audit.record(
                    actor=user,
                    action="identity.linked",
                    obj=provider,
                    after={"agency": agency.pk, "user": user.pk, "uid": sociallogin.account.uid},
                )
        elif provider.new_people == IdentityProvider.NewPeople.REQUEST:
            signin_request = services.request_access(provider=provider, claims=claims)
            raise ImmediateHttpResponse(
                TemplateResponse(
                    request,
                    "identity/requested.html",
                    {"agency": agency, "signin_request": signin_request},
                ).render()
            )
        vouched = mfa_vouched(provider, sociallogin)
        if vouched:
            sociallogin.state[IDP_MFA_STATE] = True
        # kept through the sign-in (the session's key changes, its data stays): signing out
        # of Concord then ends the provider's session too (views.sign_out)
        request.session[services.SIGNED_IN_THROUGH] = provider.pk
        audit.record(
            actor=user,
            actor_label=claims.email,
            action="identity.signed_in_through_provider",
            obj=provider,
            after={"agency": agency.pk, "email": claims.email, "mfa_by_idp": vouched},
        )

    def validate_disconnect(self, account: Any, accounts: Any) -> None:
        """Nobody unlinks their account from their agency's provider themselves: the
        agency disables its provider, or its administrator ends the membership."""
        raise ValidationError(
            "Your account's link to your agency's identity provider is managed by your agency."
        )

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """Only a provider whose agency gives new people an account at once makes one (the
        checks of ``pre_social_login`` have passed by then)."""
        provider = services.provider_for_app(sociallogin.account.provider)
        return (
            provider is not None
            and provider.is_enabled
            and provider.new_people == IdentityProvider.NewPeople.ACCOUNT
        )

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: Any) -> Any:
        """The new person's address, names and job title from the provider's claims."""
        user = super().populate_user(request, sociallogin, data)
        claims = claims_of(sociallogin)
        user.email = claims.email
        user.first_name = claims.first_name
        user.last_name = claims.last_name
        user.job_title = claims.job_title
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        """The account and its staff membership of the provider's agency, made by
        ``services.create_account`` (``add_member``, audited), then the link to the
        provider's identity, in one transaction."""
        provider = services.provider_for_app(sociallogin.account.provider)
        if provider is None:  # pragma: no cover - pre_social_login refused it already
            raise self._refuse(request, None, None, "provider_not_enabled", "Not available.")
        claims = claims_of(sociallogin)
        try:
            with transaction.atomic():
                membership = services.create_account(
                    provider=provider,
                    claims=Claims(
                        email=claims.email,
                        first_name=claims.first_name or claims.email.partition("@")[0],
                        last_name=claims.last_name or "-",
                        job_title=claims.job_title,
                    ),
                )
                sociallogin.user = membership.user
                sociallogin.save(request)
        except (ValidationError, IntegrityError):
            # Two first sign-ins of the same new address at once (two tabs, a double
            # click): the first made the account while this one waited for the agency's
            # lock. Nothing of this one was written; signing in again finds the account.
            if not User.objects.filter(email__iexact=claims.email).exists():
                raise
            raise self._refuse(
                request,
                provider,
                claims,
                "account_just_created",
                f"Your Concord account was created a moment ago by another sign-in of "
                f"{claims.email}. Sign in again through your agency to continue.",
                status=409,
            ) from None
        return membership.user
