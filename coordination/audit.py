"""Recording audit events: every service that changes something calls ``record``.

Request details (IP address, user agent) come from ``AuditContextMiddleware``; the
actor's agency from a resolver the agencies app registers, so the core imports no app.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse

from .models import AuditEvent

_request_context: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "concord_audit_request", default=None
)
_agency_label_resolver: Callable[[Any], str] = lambda user: ""  # noqa: E731


def set_agency_label_resolver(resolver: Callable[[Any], str]) -> None:
    global _agency_label_resolver
    _agency_label_resolver = resolver


@contextmanager
def request_context(*, ip_address: str | None, user_agent: str) -> Iterator[None]:
    token = _request_context.set({"ip_address": ip_address, "user_agent": user_agent[:300]})
    try:
        yield
    finally:
        _request_context.reset(token)


class AuditContextMiddleware:
    """Makes the client's address and user agent available to ``record``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_context(
            ip_address=request.META.get("REMOTE_ADDR"),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ):
            return self.get_response(request)


def snapshot(obj: models.Model, fields: tuple[str, ...]) -> dict[str, Any]:
    """The named field values of ``obj`` as JSON-safe data (for before/after)."""
    data: dict[str, Any] = {}
    for name in fields:
        value = (
            getattr(obj, f"{name}_id", None) if hasattr(obj, f"{name}_id") else getattr(obj, name)
        )
        data[name] = (
            value if isinstance(value, (int, str, bool, float, type(None), list)) else str(value)
        )
    return data


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
) -> AuditEvent:
    """Append one audit event, in the caller's transaction."""
    context = _request_context.get() or {}
    signed_in = actor is not None and getattr(actor, "pk", None)
    return AuditEvent.objects.create(
        actor=actor if signed_in else None,
        actor_label=str(actor.email) if signed_in else "system",
        actor_agency_label=_agency_label_resolver(actor) if signed_in else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        before=before,
        after=after,
        outcome=outcome,
        ip_address=context.get("ip_address"),
        user_agent=context.get("user_agent") or "",
    )
