"""Conditional GET for the API: every list and every object answers with an ``ETag``, and
a request whose ``If-None-Match`` names the current one gets ``304 Not Modified`` with no
body — nothing serialised.

An ETag stands for what the answer depends on besides the code: who asks and what they
ask for (the person, the path with its query string, the media type and language, the
time zone its times are written in: the reader's, ``coordination.web.timezones``), and
the data. A view says how it knows the data's state:

* :meth:`ConditionalMixin.state_before_query` — known before reading any row (task-force
  content: the asker's access with the content version of each task force, one reading
  the request needs anyway; see ``taskforces.api.views``), so a 304 costs no query of
  its own;
* otherwise the rows themselves: the page's objects as read from the database (their
  columns, the related rows fetched with them, annotations) and the list's count, hashed
  without serialising (:func:`row_state`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Model
from django.utils import timezone
from django.utils.http import parse_etags, quote_etag
from rest_framework.request import Request
from rest_framework.response import Response

from .pagination import PageNumberPagination


def _raw(obj: Any, seen: set[int]) -> Any:
    """A model object's values as read from the database, with the rows fetched with it
    (select_related, prefetch_related), as plain data."""
    if not isinstance(obj, Model):
        return obj
    if id(obj) in seen:
        return ("…", obj._meta.label_lower, obj.pk)
    seen = seen | {id(obj)}
    values = sorted(
        (key, _raw(value, seen)) for key, value in obj.__dict__.items() if not key.startswith("_")
    )
    related = sorted((name, _raw(value, seen)) for name, value in obj._state.fields_cache.items())
    prefetched = sorted(
        (name, [_raw(item, seen) for item in items])
        for name, items in getattr(obj, "_prefetched_objects_cache", {}).items()
    )
    return (obj._meta.label_lower, values, related, prefetched)


def row_state(objects: Iterable[Any], *, count: int | None = None) -> str:
    """The state of the rows an answer shows, as a string (see the module docstring)."""
    return repr((count, [_raw(obj, set()) for obj in objects]))


def etag_for(request: Request, state: str) -> str:
    who = getattr(request.user, "pk", None)
    asked = "\n".join(
        (
            str(who),
            request.get_full_path(),
            request.META.get("HTTP_ACCEPT", ""),
            request.META.get("HTTP_ACCEPT_LANGUAGE", ""),
            timezone.get_current_timezone_name(),
        )
    )
    digest = hashlib.sha256(f"{asked}\n{state}".encode()).hexdigest()[:40]
    return quote_etag(digest)


def matches(request: Request, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    tags = parse_etags(header)
    if tags == ["*"]:
        return True
    plain = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == plain for tag in tags)


def not_modified(etag: str) -> Response:
    response = Response(status=304)
    response["ETag"] = etag
    return response


if TYPE_CHECKING:  # what the mixin is mixed into, for the type checker
    from rest_framework.generics import GenericAPIView as _MixedInto
else:
    _MixedInto = object


class ConditionalMixin(_MixedInto):
    """``list`` and ``retrieve`` with ETags and 304s, for ``ResourceViewSet``."""

    def state_before_query(self) -> str | None:
        """The data's state when it can be known before reading rows; None otherwise."""
        return None

    def state_of_objects(self, objects: list[Any], count: int | None) -> str:
        return row_state(objects, count=count)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        early = self.state_before_query()
        # the query's filters and ordering are checked first (building the queryset reads
        # no row): a malformed query is a 400 even when If-None-Match would match
        queryset = self.filter_queryset(self.get_queryset())
        if early is not None:
            etag = etag_for(request, early)
            if matches(request, etag):
                paginator = self.paginator
                if paginator is not None and hasattr(paginator, "check_params"):
                    paginator.check_params(request)
                return not_modified(etag)
        page = self.paginate_queryset(queryset)
        objects = list(page if page is not None else queryset)
        if early is None:
            # a page came back: the paginator is ours (coordination.api.pagination)
            current = cast(PageNumberPagination, self.paginator).page if page is not None else None
            count = current.paginator.count if current is not None else len(objects)
            etag = etag_for(request, self.state_of_objects(objects, count))
            if matches(request, etag):
                return not_modified(etag)
        data = self.get_serializer(objects, many=True).data
        response: Response = (
            self.get_paginated_response(data) if page is not None else Response(data)
        )
        response["ETag"] = etag
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        early = self.state_before_query()
        if early is not None:
            etag = etag_for(request, early)
            if matches(request, etag):
                # only for an object the person may see: a hidden or missing one is a 404
                # whatever the header says
                self.get_object()
                return not_modified(etag)
        instance = self.get_object()
        if early is None:
            etag = etag_for(request, self.state_of_objects([instance], None))
            if matches(request, etag):
                return not_modified(etag)
        response = Response(self.get_serializer(instance).data)
        response["ETag"] = etag
        return response
