"""Filters for the agency directory, shared by the pages (and later the API)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

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
