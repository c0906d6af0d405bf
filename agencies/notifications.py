"""Notifications about agencies: portal administrators hear of new applications; the
applicant hears of the decision at the contact address it gave (it has no account yet);
the parties' liaison officers hear of every step of a sharing agreement."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from coordination.models import Event, User
from coordination.notifications import Kind, Message, register

from .models import Agency, Membership, SharingAgreement


def _portal_admins(event: Event, agency: Agency) -> QuerySet[User]:
    return User.objects.filter(is_active=True, is_portal_admin=True)


def _agency_admins(event: Event, agency: Agency) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        memberships__agency=agency,
        memberships__is_active=True,
        memberships__role=Membership.Role.ADMIN,
    )


DECISIONS = {
    Agency.Status.ACTIVE: "approved: your agency can now take part in task forces",
    Agency.Status.APPLIED: "returned to you for changes",
    Agency.Status.REJECTED: "rejected",
    Agency.Status.SUSPENDED: "suspended",
    Agency.Status.OFFBOARDED: "offboarded",
}


def _decision_text(event: Event, agency: Agency) -> str:
    return DECISIONS.get(event.data.get("status", ""), event.data.get("status", ""))


def _applicant_email(event: Event, agency: Agency) -> tuple[str, str, str]:
    reason = event.data.get("reason", "")
    body = (
        f"The application of {agency.name} to Concord has been {_decision_text(event, agency)}.\n"
        + (f"\nReason given by the portal administrators:\n{reason}\n" if reason else "")
        + f"\nConcord: {settings.CONCORD_BASE_URL}\n"
    )
    return agency.contact_email, f"Your agency application: {agency.name}", body


register(
    Kind(
        name="agency.applied",
        label="A new agency applied to join",
        recipients=_portal_admins,
        group="Agency applications",
        portal_admins_only=True,
        message=lambda event, agency: Message(
            title=f"New agency application: {agency.name}",
            body=f"{agency.get_level_display()} · {agency.get_sector_display()} · {agency.jurisdiction}",
            link=reverse("agencies:review", args=[agency.pk]),
        ),
        visible_action="review",
    )
)
register(
    Kind(
        name="agency.decided",
        label="A decision about your agency",
        recipients=_agency_admins,
        group="Your agency",
        agency_roles=(Membership.Role.ADMIN,),
        message=lambda event, agency: Message(
            title=f"{agency.name} has been {_decision_text(event, agency)}",
            body=event.data.get("reason", ""),
            link=reverse("agencies:detail", args=[agency.pk]),
        ),
        visible_action=None,
        critical=True,
        extra={"external": _applicant_email},
    )
)


# --- sharing agreements: every step is told to the other parties' liaison officers ----------


def _other_parties_liaisons(event: Event, agreement: SharingAgreement) -> QuerySet[User]:
    """The liaison officers of the agreement's parties but the one that acted."""
    return User.objects.filter(
        is_active=True,
        memberships__is_active=True,
        memberships__role=Membership.Role.LIAISON,
        memberships__agency__in=agreement.parties.exclude(pk=event.data.get("agency")),
    ).distinct()


def _agreement_message(what: str) -> Callable[[Event, SharingAgreement], Message]:
    def message(event: Event, agreement: SharingAgreement) -> Message:
        acting = Agency.objects.filter(pk=event.data.get("agency")).first()
        reason = event.data.get("reason", "")
        return Message(
            title=what.format(agency=acting or "A party", agreement=agreement.title),
            body=f"Reason: {reason}" if reason else "",
            link=reverse("agencies:agreement", args=[agreement.pk]),
        )

    return message


for _name, _label, _title in (
    (
        "agreement.proposed",
        "A sharing agreement proposed to your agency",
        "{agency} proposes the sharing agreement “{agreement}”: it needs your agency's acceptance",
    ),
    (
        "agreement.accepted",
        "A party accepted a sharing agreement",
        "{agency} accepted the sharing agreement “{agreement}”",
    ),
    (
        "agreement.in_force",
        "A sharing agreement came into force",
        "The sharing agreement “{agreement}” is in force: every party has accepted it",
    ),
    (
        "agreement.terminated",
        "A sharing agreement was terminated",
        "{agency} terminated the sharing agreement “{agreement}”",
    ),
):
    register(
        Kind(
            name=_name,
            label=_label,
            recipients=_other_parties_liaisons,
            group="Sharing agreements",
            agency_roles=(Membership.Role.LIAISON,),
            message=_agreement_message(_title),
            critical=_name == "agreement.terminated",
        )
    )
register(
    Kind(
        name="identity.access_requested",
        label="Someone asks to join your agency through its identity provider",
        recipients=_agency_admins,
        message=lambda event, agency: Message(
            title=f"{event.data.get('email', 'Someone')} asks to join {agency.name}",
            body="Your agency's identity provider signed them in for the first time. "
            "Approve or decline the request.",
            link=reverse("agencies:sign-in-requests", args=[agency.pk]),
        ),
        visible_action="manage_members",
    )
)
