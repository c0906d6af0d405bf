"""Filters for the agency directory and the access review, shared by the pages (and later
the API)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from coordination.models import User
from taskforces.models import RoleAssignment, TaskForce

from .models import Agency


class AgencyFilter(django_filters.FilterSet):
    """Directory filters: name (or acronym) search, level, sector and status.

    The queryset it filters is already restricted to what the person may see, so a
    status filter reveals nothing new."""

    q = django_filters.CharFilter(method="search", label="Name or acronym", max_length=100)
    level = django_filters.ChoiceFilter(choices=Agency.Level.choices, empty_label="Any level")
    sector = django_filters.ChoiceFilter(choices=Agency.Sector.choices, empty_label="Any sector")
    status = django_filters.ChoiceFilter(choices=Agency.Status.choices, empty_label="Any status")

    class Meta:
        model = Agency
        fields = ("q", "level", "sector", "status")

    def search(self, queryset: QuerySet[Agency], name: str, value: str) -> QuerySet[Agency]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(acronym__icontains=value))


class AccessReviewFilter(django_filters.FilterSet):
    """Access review filters: one person, one task force, due for recertification or not.

    The choices are the agency's own people and the task forces they hold open roles in;
    anything else (another agency's person, an id that does not exist, text) is a form
    error, never silently ignored."""

    person = django_filters.ModelChoiceFilter(
        queryset=User.objects.none(), label="Person", empty_label="Everyone"
    )
    task_force = django_filters.ModelChoiceFilter(
        field_name="role__task_force",
        queryset=TaskForce.objects.none(),
        label="Task force",
        empty_label="Every task force",
    )
    due = django_filters.ChoiceFilter(
        choices=(("yes", "Due for recertification"), ("no", "Not due")),
        method="filter_due",
        label="Recertification",
        empty_label="Due or not",
    )

    class Meta:
        model = RoleAssignment
        fields = ("person", "task_force", "due")

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["person"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            memberships__agency=agency, memberships__is_active=True
        ).order_by("last_name", "first_name", "email")
        self.filters["task_force"].queryset = TaskForce.objects.filter(  # type: ignore[attr-defined]
            pk__in=self.queryset.values("role__task_force_id")
        ).order_by("name", "pk")

    def filter_due(
        self, queryset: QuerySet[RoleAssignment], name: str, value: str
    ) -> QuerySet[RoleAssignment]:
        due = RoleAssignment.objects.due_for_recertification().values("pk")
        return queryset.filter(pk__in=due) if value == "yes" else queryset.exclude(pk__in=due)
