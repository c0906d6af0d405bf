"""Reads about agencies and people's ties to them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from .models import Agency, Membership, SharingAgreement


def membership_of(user: Any) -> Membership | None:
    """The person's active membership (with its agency), or None."""
    if user is None or not getattr(user, "pk", None):
        return None
    return (
        Membership.objects.select_related("agency").filter(user_id=user.pk, is_active=True).first()
    )


def agency_id_subquery(user: Any) -> QuerySet[Membership, Any]:
    """The person's agency id as a subquery, so restrict() needs no extra query."""
    return Membership.objects.filter(user_id=user.pk, is_active=True).values("agency_id")[:1]


def agreements_in_force(*, on: Any = None) -> QuerySet[SharingAgreement]:
    """Agreements in force on a day (today by default)."""
    day = on or timezone.localdate()
    return SharingAgreement.objects.filter(
        status=SharingAgreement.Status.ACTIVE, valid_from__lte=day
    ).exclude(valid_until__lt=day)


def liaisons_of(agency: Agency) -> QuerySet[Membership]:
    return Membership.objects.filter(
        agency=agency, is_active=True, role=Membership.Role.LIAISON, user__is_active=True
    ).select_related("user")
