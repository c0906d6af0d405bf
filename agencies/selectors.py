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
    """The person's agency id as a subquery, so restrict() needs no extra query. (Unordered:
    there is one active membership per person, and the model's default ordering would
    join the agency and the person into every permission-filtered query.)"""
    return (
        Membership.objects.filter(user_id=user.pk, is_active=True)
        .order_by()
        .values("agency_id")[:1]
    )


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


def applications_to_review(user: Any) -> QuerySet[Agency]:
    """Applications waiting for a portal administrator, oldest first (none for anyone else)."""
    return (
        Agency.objects.restrict(user, "review")
        .filter(status__in=(Agency.Status.APPLIED, Agency.Status.UNDER_REVIEW))
        .order_by("applied_at", "pk")
    )


def people_of(user: Any, agency: Agency) -> QuerySet[Membership]:
    """The agency's memberships that ``user`` may manage: active first, then by name."""
    return (
        Membership.objects.restrict(user, "change")
        .filter(agency=agency)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__email", "pk")
    )


def visible_liaisons_of(user: Any, agency: Agency) -> QuerySet[Membership]:
    """The agency's current liaison officers, as far as ``user`` may see them."""
    return (
        Membership.objects.restrict(user, "view")
        .filter(agency=agency, is_active=True, role=Membership.Role.LIAISON, user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__email", "pk")
    )


def visible_agreements_of(user: Any, agency: Agency) -> QuerySet[SharingAgreement]:
    """The agreements ``agency`` is a party to that ``user`` may see, with their parties."""
    return (
        SharingAgreement.objects.restrict(user, "view")
        .filter(parties=agency)
        .prefetch_related("parties")
        .order_by("-valid_from", "title", "pk")
    )
