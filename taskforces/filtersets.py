"""Filters for task force lists, shared by pages (and later the API)."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from agencies.models import Agency
from coordination.api.filters import BooleanFilter
from coordination.web.widgets import DateInput

from .models import Objective, OperationalPeriod, Task, TaskForce, TimelineEntry
from .selectors import mandate_search


class TaskForceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name or mandate contains", max_length=100)
    status = django_filters.ChoiceFilter(choices=TaskForce.Status.choices, empty_label="Any status")

    class Meta:
        model = TaskForce
        fields = ["q", "status"]

    def search(self, queryset: QuerySet[TaskForce], name: str, value: str) -> QuerySet[TaskForce]:
        user = getattr(self.request, "user", None)
        if user is None:  # nobody to ask: names only
            return queryset.filter(name__icontains=value)
        return queryset.filter(mandate_search(user, value))


class _OneQueryChoices(django_filters.fields.ModelChoiceIterator):
    """The options in one plain query. Django reads a model choice field's options with
    ``iterator()``, which on PostgreSQL opens a server-side cursor (declare, fetch,
    close): for a task force's few dozen agencies that cost three times the query. A page
    that has read the same rows another way gives them as the field's ``rows`` (each
    row's id and label); a choice is still checked against the queryset."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        if self.field.null_label is not None:
            yield (self.field.null_value, self.field.null_label)
        if self.field.rows is not None:
            yield from self.field.rows
            return
        for obj in self.queryset.all():
            yield self.choice(obj)


class _ShortModelChoiceField(django_filters.fields.ModelChoiceField):
    iterator = _OneQueryChoices
    rows: list[tuple[int, str]] | None = None


class ShortModelChoiceFilter(django_filters.ModelChoiceFilter):
    """A choice of a model's rows, for a short list read whole (a task force's agencies)."""

    field_class = _ShortModelChoiceField


class ObjectiveFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", label="Title contains", max_length=100
    )
    status = django_filters.ChoiceFilter(choices=Objective.Status.choices, empty_label="Any status")
    priority = django_filters.ChoiceFilter(
        choices=Objective.Priority.choices, empty_label="Any priority"
    )
    owner_agency = ShortModelChoiceFilter(
        queryset=Agency.objects.filter(status=Agency.Status.ACTIVE),
        label="Owner agency",
        empty_label="Any agency",
    )

    class Meta:
        model = Objective
        fields = ["q", "status", "priority", "owner_agency"]


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Task.Status.choices, empty_label="Any status")

    class Meta:
        model = Task
        fields = ["status"]


class TaskListFilter(TaskFilter):
    """The tasks page of a task force and its CSV export (the API keeps ``TaskFilter``).
    ``objectives`` are the ones the person may choose from: those they can see there."""

    q = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", label="Title contains", max_length=100
    )
    objective = django_filters.ModelChoiceFilter(
        queryset=Objective.objects.none(), label="Objective", empty_label="Any objective"
    )
    due_before = django_filters.DateFilter(
        field_name="due_date",
        lookup_expr="lte",
        label="Due on or before",
        widget=DateInput(),
    )

    class Meta:
        model = Task
        fields = ["q", "status", "objective", "due_before"]

    def __init__(self, *args: Any, objectives: QuerySet[Objective], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["objective"].queryset = objectives


class TimelineFilterForm(forms.Form):
    """The timeline filters' form: a date range must not end before it starts."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data


class TimelineFilter(django_filters.FilterSet):
    """The timeline's filters, on its page, its CSV and PDF, and the API: kind, operational
    period, date range, significant only, free text. ``periods`` are the task force's
    (a period is named by its number)."""

    kind = django_filters.ChoiceFilter(choices=TimelineEntry.Kind.choices)
    period = django_filters.ModelChoiceFilter(
        queryset=OperationalPeriod.objects.none(),
        to_field_name="number",
        method="in_period",
        label="Operational period (number)",
    )
    since = django_filters.DateFilter(
        field_name="occurred_at", lookup_expr="date__gte", label="From", widget=DateInput()
    )
    until = django_filters.DateFilter(
        field_name="occurred_at", lookup_expr="date__lte", label="To", widget=DateInput()
    )
    significant = BooleanFilter(label="Significant only (true or false)")
    q = django_filters.CharFilter(method="search", label="Text contains", max_length=100)

    class Meta:
        model = TimelineEntry
        form = TimelineFilterForm
        fields = ["kind", "period", "since", "until", "significant", "q"]

    def __init__(
        self, *args: Any, periods: QuerySet[OperationalPeriod] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if periods is not None:
            self.filters["period"].queryset = periods

    def in_period(
        self, queryset: QuerySet[TimelineEntry], name: str, value: OperationalPeriod
    ) -> QuerySet[TimelineEntry]:
        return queryset.filter(occurred_at__gte=value.starts_at, occurred_at__lt=value.ends_at)

    def search(
        self, queryset: QuerySet[TimelineEntry], name: str, value: str
    ) -> QuerySet[TimelineEntry]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(summary__icontains=value) | Q(subject__icontains=value) | Q(text__icontains=value)
        )
