"""Page-number pagination that says when a page number or size is wrong (400), rather
than answering 404 or silently choosing another page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.paginator import InvalidPage
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework.views import APIView

MAX_PAGE = 2**31 - 1


class PageNumberPagination(pagination.PageNumberPagination):
    """``?page=N`` (from 1) and ``?page_size=N`` (1 to 200, 50 by default)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def _positive_int(self, request: Request, name: str, *, maximum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
            raise ValidationError({name: [f"Give a whole number from 1 to {maximum}."]})
        return int(raw)

    def check_params(self, request: Request) -> None:
        """Refuse a malformed page or page size (400) without reading any row: what a
        conditional GET checks before it may answer 304."""
        self.get_page_size(request)
        self._positive_int(request, self.page_query_param, maximum=MAX_PAGE)

    def get_page_size(self, request: Request) -> int:
        size = self._positive_int(request, self.page_size_query_param, maximum=self.max_page_size)
        return size or self.page_size

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        page_size = self.get_page_size(request)
        number = self._positive_int(request, self.page_query_param, maximum=MAX_PAGE) or 1
        paginator = self.django_paginator_class(queryset, page_size)
        try:
            self.page = paginator.page(number)
        except InvalidPage:
            raise ValidationError(
                {self.page_query_param: [f"There are only {paginator.num_pages} pages."]}
            ) from None
        self.request = request
        return list(self.page)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. A page past the last one is a 400 error.",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1 to {self.max_page_size} "
                f"(default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
