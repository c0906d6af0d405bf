"""Filters for task force lists, shared by pages (and later the API)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from agencies.models import Agency

from .models import Objective, Task, TaskForce


class TaskForceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name contains", max_length=100)
    status = django_filters.ChoiceFilter(choices=TaskForce.Status.choices)

    class Meta:
        model = TaskForce
        fields = ["q", "status"]

    def search(self, queryset: QuerySet[TaskForce], name: str, value: str) -> QuerySet[TaskForce]:
        return queryset.filter(Q(name__icontains=value) | Q(mandate__icontains=value))


class ObjectiveFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", label="Title contains", max_length=100
    )
    status = django_filters.ChoiceFilter(choices=Objective.Status.choices)
    priority = django_filters.ChoiceFilter(choices=Objective.Priority.choices)
    owner_agency = django_filters.ModelChoiceFilter(
        queryset=Agency.objects.filter(status=Agency.Status.ACTIVE), label="Owner agency"
    )

    class Meta:
        model = Objective
        fields = ["q", "status", "priority", "owner_agency"]


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Task.Status.choices)

    class Meta:
        model = Task
        fields = ["status"]
