"""Recording audit events: every service that changes something calls ``record``.

Request details (IP address, user agent) come from ``AuditContextMiddleware``; the
actor's agency from a resolver the agencies app registers, so the core imports no app.
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from django.conf import settings
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .markings import Marking
from .models import AuditEvent

_request_context: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "concord_audit_request", default=None
)
_agency_label_resolver: Callable[[Any], str] = lambda user: ""  # noqa: E731


def set_agency_label_resolver(resolver: Callable[[Any], str]) -> None:
    global _agency_label_resolver
    _agency_label_resolver = resolver


@contextmanager
def request_context(*, ip_address: str | None, user_agent: str, path: str = "") -> Iterator[None]:
    token = _request_context.set(
        {"ip_address": ip_address, "user_agent": user_agent[:300], "path": path[:500]}
    )
    try:
        yield
    finally:
        _request_context.reset(token)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as allauth determines it: ``X-Forwarded-For`` is believed only
    behind ``CONCORD_TRUSTED_PROXY_COUNT`` proxies of ours; the connection's otherwise."""
    try:
        address = get_account_adapter(request).get_client_ip(request)
        return str(ipaddress.ip_address(address))
    except Exception:  # an unreadable header: record the connection's own address
        return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Makes the client's address and user agent available to ``record``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_context(
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            path=request.get_full_path(),
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


# Keys whose values are never written to the audit trail, at any depth of before/after.
SECRET_KEYS = frozenset(
    {
        "password",
        "password1",
        "password2",
        "secret",
        "token",
        "key",
        "key_hash",
        "code",
        "otp",
        "recovery_codes",
        "totp",
        "seed",
    }
)
SECRET_PLACEHOLDER = "[secret withheld]"  # noqa: S105 - a placeholder, not a secret
# Texts of TLP:RED items: readers of the audit trail are not the item's named recipients.
RED_TEXT_KEYS = frozenset({"title", "description", "body", "name"})
RED_PLACEHOLDER = "[withheld: TLP:RED]"


def _withhold(data: Any, *, red: bool) -> Any:
    if isinstance(data, dict):
        return {
            key: (
                SECRET_PLACEHOLDER
                if key in SECRET_KEYS
                else RED_PLACEHOLDER
                if red and key in RED_TEXT_KEYS and value
                else _withhold(value, red=red)
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_withhold(item, red=red) for item in data]
    return data


def _is_red(obj: models.Model | None) -> bool:
    """Is ``obj`` (or the objective a task belongs to) marked TLP:RED?"""
    if obj is None:
        return False
    marking = getattr(obj, "marking", None)
    if marking is None and hasattr(obj, "objective_id"):
        marking = getattr(obj.objective, "marking", None)
    return marking is not None and int(marking) >= Marking.RED


def _lock_chain() -> None:
    """Serialise appends to the chain until the transaction ends (PostgreSQL), so each
    event's ``prev_hash`` is the hash of the event committed just before it. SQLite
    serialises writers itself."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


CHAIN_LOCK_KEY = 7_202_611  # an arbitrary, fixed advisory-lock number for the audit chain


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    object_type: str = "",
    object_id: str = "",
    actor_label: str = "",
) -> AuditEvent:
    """Append one audit event to the chain, in the caller's transaction.

    ``obj`` names the object; ``object_type``/``object_id`` do so without loading it (a
    refused access to an object the person may not see). Secrets in ``before``/``after``
    are withheld, and so are the texts of TLP:RED items. ``actor_label`` names an actor
    who is not a signed-in person (the e-mail address typed into a failed sign-in).
    """
    context = _request_context.get() or {}
    signed_in = actor is not None and getattr(actor, "pk", None)
    red = _is_red(obj)
    if obj is not None:
        object_type, object_id = obj._meta.label_lower, str(obj.pk)
        object_repr = (f"{obj._meta.verbose_name} #{obj.pk} [TLP:RED]" if red else str(obj))[:300]
    else:
        object_repr = ""
    with transaction.atomic():
        _lock_chain()
        previous = (
            AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
            or AuditEvent.GENESIS
        )
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor if signed_in else None,
            actor_label=str(actor.email) if signed_in else (actor_label[:300] or "system"),
            actor_agency_label=_agency_label_resolver(actor) if signed_in else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            object_repr=object_repr,
            before=_withhold(before, red=red) if before is not None else None,
            after=_withhold(after, red=red) if after is not None else None,
            outcome=outcome,
            ip_address=context.get("ip_address"),
            user_agent=context.get("user_agent") or "",
            prev_hash=previous,
        )
        # what is stored must hash to the same value when read back: JSON round-trip now
        event.before = _json_roundtrip(event.before)
        event.after = _json_roundtrip(event.after)
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    return event


def _json_roundtrip(data: Any) -> Any:
    return None if data is None else json.loads(json.dumps(data, default=str))


def record_refusal(
    *,
    actor: Any,
    reason: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent | None:
    """Record that a signed-in person was refused an object or an action.

    Called after the refused service's transaction has rolled back, so the event stays.
    Anonymous requests are not recorded here (they are sent to sign in first)."""
    if actor is None or not getattr(actor, "pk", None):
        return None
    return record(
        actor=actor,
        action="access.refused",
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        outcome=AuditEvent.Outcome.DENIED,
        after={"path": (_request_context.get() or {}).get("path") or "", "reason": reason[:500]},
    )


def record_hidden_object(*, actor: Any, model: type[models.Model], pk: Any) -> None:
    """A person asked for an object they may not see, by its id: the answer is "not found"
    (so hidden objects do not leak), and the audit trail records the refusal when the
    object exists."""
    try:
        exists = model._default_manager.filter(pk=pk).exists()
    except (ValueError, TypeError):
        return
    if exists:
        record_refusal(
            actor=actor,
            reason="The object exists but is not visible to this person.",
            object_type=model._meta.label_lower,
            object_id=str(pk),
        )


# --- the chain: verification and the retention purge ---------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: how many events it checked, and the first broken link
    (the id of the first event that does not fit, and why), if any."""

    checked: int
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _purge_anchors() -> dict[int, str]:
    """``first kept event id -> its prev_hash`` as recorded by each retention purge: the
    one place where the chain may start at an event whose predecessor is gone."""
    anchors: dict[int, str] = {}
    for after in AuditEvent.objects.filter(action="audit.purged").values_list("after", flat=True):
        if isinstance(after, dict) and after.get("first_kept_id"):
            anchors[int(after["first_kept_id"])] = str(after.get("first_kept_prev_hash", ""))
    return anchors


def verify_chain(chunk_size: int = 2000) -> ChainReport:
    """Walk the whole trail in order and check every link: each event's hash matches its
    content, and its ``prev_hash`` is the hash of the event before it (the first event
    starts the chain, or starts where a recorded purge left it)."""
    anchors = _purge_anchors()
    previous: str | None = None
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if previous is None:
            expected = (
                AuditEvent.GENESIS
                if event.prev_hash == AuditEvent.GENESIS
                else anchors.get(event.pk, AuditEvent.GENESIS)
            )
        else:
            expected = previous
        if event.prev_hash != expected:
            problem = (
                "the first event does not start the chain and no purge explains it"
                if previous is None
                else "it does not link to the event before it (an event was removed or inserted)"
            )
            return ChainReport(checked, event.pk, problem)
        if event.compute_hash() != event.hash:
            return ChainReport(checked, event.pk, "its content no longer matches its hash")
        previous = event.hash
        checked += 1
    return ChainReport(checked)


def purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Remove the events older than ``CONCORD_AUDIT_RETENTION_DAYS`` (never fewer than
    365) and record that the purge ran, with what it removed and where the chain now
    starts. Only a prefix of the chain is removed, so what stays still verifies."""
    days = max(int(settings.CONCORD_AUDIT_RETENTION_DAYS), 365)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    with transaction.atomic():
        _lock_chain()
        first_kept = AuditEvent.objects.filter(created_at__gte=cutoff).order_by("id").first()
        old = AuditEvent.objects.filter(created_at__lt=cutoff)
        if first_kept is not None:
            old = AuditEvent.objects.filter(id__lt=first_kept.pk)
        count = old.count()
        summary: dict[str, Any] = {
            "removed": count,
            "cutoff": cutoff.isoformat(),
            "retention_days": days,
            "first_kept_id": first_kept.pk if first_kept is not None else None,
            "first_kept_prev_hash": first_kept.prev_hash if first_kept is not None else None,
            "dry_run": dry_run,
        }
        if dry_run:
            return summary
        if count:
            connection = transaction.get_connection()
            table = AuditEvent._meta.db_table
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL concord.audit_purge = 'on'")
                if first_kept is not None:
                    cursor.execute(f"DELETE FROM {table} WHERE id < %s", [first_kept.pk])  # noqa: S608 - table name from the model
                else:
                    cursor.execute(f"DELETE FROM {table} WHERE created_at < %s", [cutoff])  # noqa: S608
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL concord.audit_purge = 'off'")
        record(actor=None, action="audit.purged", after=summary)
    return summary
