"""Notifications about agency applications: portal administrators hear of new ones; the
applicant hears of the decision at the contact address it gave (it has no account yet)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from coordination.models import Event, User
from coordination.notifications import Kind, Message, register

from .models import Agency, Membership


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
