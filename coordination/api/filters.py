"""Filtering and ordering for API lists. Both refuse what they do not understand (400)
rather than quietly returning something else."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from coordination.web.forms import MomentField

from .fields import DATE_TIME

if TYPE_CHECKING:
    from rest_framework.views import APIView

MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An object id (a positive whole number). Deliberately not a ModelChoiceFilter: that
    would answer "no such choice" for ids the person may not see, and so tell them which
    ids exist."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class _StrictBooleanField(forms.Field):
    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Give true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's own ignores it)."""

    field_class = _StrictBooleanField


class _StrictDateTimeField(MomentField):
    """RFC 3339 only (zone included), then as every date and time: in UTC."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        if value in (None, ""):
            return None
        if not DATE_TIME.match(value):
            raise forms.ValidationError(
                "Give a date and time with its zone, e.g. 2026-05-01T09:00:00Z.", code="invalid"
            )
        return super().to_python(value)


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An RFC 3339 date and time, zone included."""

    field_class = _StrictDateTimeField


class FilterBackend(drf_filters.DjangoFilterBackend):
    """django-filter, but a filter given with no value is a 400 (an empty ``status=`` is
    not a status) except for free-text searches, where empty means "any"."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            empty = {
                name: ["Give a value, or leave the parameter out."]
                for name, field in filterset.filters.items()
                if not isinstance(field, django_filters.CharFilter)
                and request.query_params.get(name) == ""
            }
            if empty:
                raise ValidationError(empty)
        return super().filter_queryset(request, queryset, view)


class OrderingFilter(filters.OrderingFilter):
    """``?ordering=field,-other`` over the view's explicit ``ordering_fields`` whitelist.
    Every list ends with ``id`` as a tie-breaker, so pages never overlap."""

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView) -> Any:
        raw = request.query_params.get(self.ordering_param)
        default = tuple(self.get_default_ordering(view) or ())
        if raw is None or not raw.strip():
            return default
        terms = [term.strip() for term in raw.split(",")]
        allowed = self.allowed(view)
        wrong = [term for term in terms if term.removeprefix("-") not in allowed]
        if wrong or len(terms) != len({term.removeprefix("-") for term in terms}):
            raise ValidationError(
                {
                    self.ordering_param: [
                        "Order by one or more of: "
                        + ", ".join(sorted(allowed))
                        + " (each at most once, '-' in front for descending)."
                    ]
                }
            )
        if "id" not in {term.removeprefix("-") for term in terms}:
            terms.append("id")
        return terms

    @staticmethod
    def allowed(view: APIView) -> list[str]:
        return list(getattr(view, "ordering_fields", ()))

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        allowed = self.allowed(view)
        if not allowed:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Comma-separated fields to order by, '-' in front for "
                "descending. One or more of: " + ", ".join(allowed) + ".",
                "schema": {"type": "string"},
            }
        ]
