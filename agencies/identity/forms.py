"""The identity provider page's forms, the sign-in page's "continue with your agency", and
the password sign-in form that refuses people whose agency signs them in only through its
identity provider."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms

from coordination.validators import ControlCharacterValidator, line_validators
from coordination.web.forms import line_field

from ..models import IdentityProvider
from . import services


class LoginForm(AllauthLoginForm):
    """allauth's password sign-in, refused (with the way in to use instead) for a person
    whose agency lets its people sign in only through its identity provider. The address's
    domain is checked before the password, so nothing about the account is told; the
    account's own agency after it (a person whose address is of another domain)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # back from "Continue with your agency" for an address no identity provider
        # vouches for: the address is filled in already
        typed = self.request.GET.get("email", "") if self.request is not None else ""
        if not self.is_bound and isinstance(typed, str) and len(typed) <= 254:
            self.fields["login"].initial = typed

    def clean(self) -> dict[str, Any]:
        email = self.data.get("login")
        if isinstance(email, str) and "@" in email:
            provider = services.provider_for_email(email)
            if provider is not None and not provider.password_sign_in:
                raise forms.ValidationError(self._refusal(provider), code="idp_only")
        cleaned = super().clean()
        user: Any = getattr(self, "user", None)  # allauth sets it untyped
        if user is not None and not self.errors:
            provider = services.password_refused_for(user)
            if provider is not None:
                self.user = None
                raise forms.ValidationError(self._refusal(provider), code="idp_only")
        return cleaned

    @staticmethod
    def _refusal(provider: IdentityProvider) -> str:
        return (
            f"{provider.agency} signs its people in through its own identity provider, not "
            "with a Concord password. Use “Continue with your agency” below."
        )


class AgencySignInForm(forms.Form):
    """The address whose agency's identity provider the person is sent to."""

    login = forms.EmailField(label="E-mail address", max_length=254)


class ProviderForm(forms.Form):
    """An agency's identity provider: where it is, how Concord is registered with it,
    whom it vouches for, and the agency's choices."""

    issuer = forms.URLField(
        label="Issuer URL",
        max_length=500,
        assume_scheme="https",
        validators=line_validators(),
        help_text="As your identity provider announces it, e.g. https://login.agency.gov/realms/staff. "
        "Concord reads <issuer>/.well-known/openid-configuration.",
    )
    client_id = line_field(max_length=191, label="Client id")
    client_secret = forms.CharField(
        label="Client secret",
        max_length=191,
        required=False,
        strip=False,
        validators=line_validators(),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Never shown again. Leave empty to keep the one stored.",
    )
    domains = forms.CharField(
        label="E-mail domains it vouches for",
        max_length=5000,
        validators=[ControlCharacterValidator(line_breaks=True)],
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, e.g. agency.gov. Only addresses of exactly these domains are "
        "signed in through it; a domain belongs to one agency only; public e-mail services "
        "(gmail.com and the like) are refused.",
    )
    mfa_enforced = forms.BooleanField(
        label="Our identity provider enforces multi-factor authentication",
        required=False,
        help_text="Then Concord accepts its amr claim (mfa, hwk or otp) as the second factor "
        "and does not ask for its own authenticator code.",
    )
    mfa_acr_values = line_field(
        max_length=500,
        label="acr values that also mean multi-factor (optional)",
        required=False,
        help_text="Space-separated, exactly as your identity provider sends them.",
    )
    new_people = forms.ChoiceField(
        label="When someone of these domains signs in for the first time",
        choices=IdentityProvider.NewPeople.choices,
        widget=forms.RadioSelect,
    )
    password_sign_in = forms.BooleanField(
        label="Our people may still sign in with a Concord password",
        required=False,
        help_text="Untick to let them sign in only through the identity provider (once it is enabled).",
    )

    def clean_domains(self) -> list[str]:
        lines = self.cleaned_data["domains"].replace(",", "\n").split()
        try:
            return services.clean_domains(lines)
        except forms.ValidationError as error:
            raise forms.ValidationError(error.message_dict["domains"]) from error

    def clean_issuer(self) -> str:
        try:
            return services.clean_issuer(self.cleaned_data["issuer"])
        except forms.ValidationError as error:
            raise forms.ValidationError(error.message_dict["issuer"]) from error
