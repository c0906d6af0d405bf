"""Forms for the agency pages. They check the shape of the input; the services hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from coordination.permissions.markings import Marking
from coordination.validators import REASON_LENGTH, line_validators
from coordination.web.forms import DayField, line_field, model_choice, prose_field
from coordination.web.widgets import DateInput

from .models import Agency, Membership

REASON_HELP = "Required. The agency will be told it."


class ApplicationForm(forms.ModelForm):
    """A new agency's application. The model's own validation (unique name, e-mail and
    web address formats) runs here so each problem shows on its field."""

    website = forms.URLField(
        label="Website",
        required=False,
        max_length=200,
        assume_scheme="https",
        validators=line_validators(),
        help_text="The agency's official website.",
    )

    class Meta:
        model = Agency
        fields = ("name", "acronym", "level", "sector", "jurisdiction", "contact_email", "website")
        labels = {
            "name": "Agency name",
            "contact_email": "Contact e-mail address",
        }
        help_texts = {
            "name": "The agency's full official name.",
            "jurisdiction": "The area the agency serves, e.g. a country, region or city.",
            "contact_email": "Where we write about this application. Use an official address.",
        }
        error_messages = {
            "name": {
                "unique": "An agency with this name is already registered or has already "
                "applied. If it is yours, ask its agency administrator to invite you."
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A blank first choice, so nobody applies as "national" by not looking.
        for name, choices in (("level", Agency.Level.choices), ("sector", Agency.Sector.choices)):
            self.fields[name].choices = [("", "Choose…"), *choices]  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    """One lifecycle decision on an agency; ``with_reason`` keeps the reason box."""

    # Optional here: the service refuses a missing reason with its own message.
    reason = prose_field(max_length=REASON_LENGTH, required=False, help_text=REASON_HELP)

    def __init__(self, *args: Any, with_reason: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_reason:
            del self.fields["reason"]


class InviteForm(forms.Form):
    """A staff member an agency administrator adds; they receive a link to set a password."""

    email = forms.EmailField(label="E-mail address", max_length=254)
    first_name = line_field(max_length=150)
    last_name = line_field(max_length=150)
    job_title = line_field(max_length=150, required=False)
    role = forms.ChoiceField(
        label="Agency role",
        choices=Membership.Role.choices,
        initial=Membership.Role.STAFF,
        help_text="Liaison officers represent the agency in task forces; agency "
        "administrators manage its people.",
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Agency role", choices=Membership.Role.choices)


class EndMembershipForm(forms.Form):
    reason = prose_field(
        max_length=REASON_LENGTH,
        required=False,
        help_text="Required. Kept in the audit trail. Every role the person holds ends too.",
    )


class AgreementForm(forms.Form):
    """An information-sharing agreement between this agency and one or more others."""

    title = line_field()
    parties = forms.ModelMultipleChoiceField(
        label="Other agencies",
        queryset=Agency.objects.none(),
        help_text="Active agencies only. Hold Ctrl (or ⌘) to choose more than one.",
    )
    max_marking = forms.TypedChoiceField(
        label="Highest marking covered",
        choices=Marking.choices,
        coerce=int,
        initial=Marking.GREEN,
        help_text="TLP 2.0. Items marked higher are not shared under this agreement.",
    )
    valid_from = DayField(widget=DateInput())
    valid_until = DayField(
        widget=DateInput(), required=False, help_text="Leave empty for no end date."
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice(self, "parties").queryset = Agency.objects.filter(
            status=Agency.Status.ACTIVE
        ).exclude(pk=agency.pk)
        self.fields["parties"].widget.attrs["size"] = 8


class AgreementActionForm(forms.Form):
    """A party's answer to an agreement: accept it for their agency, or terminate it (a
    proposal declined, or an agreement in force ended) with a reason."""

    ACCEPT = "accept"
    TERMINATE = "terminate"

    action = forms.ChoiceField(choices=((ACCEPT, "Accept"), (TERMINATE, "Terminate")))
    reason = prose_field(
        max_length=REASON_LENGTH,
        required=False,
        help_text="Required to terminate. The other parties will be told it.",
    )


class PhishingResistantForm(forms.Form):
    """Whether the agency's people must sign in with a passkey or security key."""

    required = forms.TypedChoiceField(
        label="Sign-in for the agency's people",
        choices=[
            ("yes", "A passkey or security key is required (phishing-resistant)"),
            ("no", "An authenticator app code or a passkey, as each person chooses"),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )


class ScimTokenForm(forms.Form):
    """A SCIM token for the agency's identity provider."""

    name = line_field(
        max_length=100,
        label="Name",
        help_text="Which identity provider it is for, e.g. “Entra ID (production)”.",
    )
