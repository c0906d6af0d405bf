"""Recording audit events: every service that changes something calls ``record``.

Request details (IP address, user agent) come from ``AuditContextMiddleware``; the
actor's agency from a resolver the agencies app registers, so the core imports no app.

Beside it: ``models`` (the event), ``chain`` (its hash), ``policy`` (who reads the trail:
the core's side), ``views`` and ``urls`` (the audit pages), ``tasks`` (seal, verify, purge).
"""

from __future__ import annotations

import contextvars
import ipaddress
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from allauth.account.adapter import get_adapter as get_account_adapter
from django.conf import settings
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from coordination import after_commit
from coordination.audit.models import AuditEvent
from coordination.permissions.markings import Marking

_request_context: contextvars.ContextVar[dict[str, str | None] | None] = contextvars.ContextVar(
    "concord_audit_request", default=None
)
_agency_label_resolver: Callable[[Any], str] = lambda user: ""  # noqa: E731


# Told of every successful change of an object, in its transaction (the live pages listen:
# coordination.live.on_audit). Registered at start-up, so the trail imports no listener.
_listeners: list[Callable[[models.Model, str], None]] = []


def add_listener(listener: Callable[[models.Model, str], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


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
    """Is ``obj`` marked TLP:RED?"""
    marking = getattr(obj, "marking", None)
    return marking is not None and int(marking) >= Marking.RED


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
    # inside a service's transaction the event is one more INSERT of it (no savepoint: a
    # failed append fails the whole change, as it must); alone, a transaction of its own
    with transaction.atomic(savepoint=False):
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
        )
        # what is stored must hash to the same value when read back: JSON round-trip now
        event.before = _json_roundtrip(event.before)
        event.after = _json_roundtrip(event.after)
        event.save(force_insert=True)
        # listeners first: what they queue after commit (live pages) waits for a person;
        # sealing the chain does not. The seal is asked for with the request's message
        # when one goes, else here (a cache key: cheaper than a message of its own)
        if obj is not None and outcome == AuditEvent.Outcome.SUCCESS:
            for listener in _listeners:
                listener(obj, action)
        from coordination.audit.tasks import request_seal as ask_for_a_seal

        after_commit.later(ask_for_a_seal, alone=request_seal)
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
    """A person asked by id for an object they may not see, or for one that does not
    exist: the answer is "not found" either way, and so is everything done to give it.
    The refusal is recorded for any well-formed id, with the same statements whether the
    object exists or not, so that neither the body nor the time taken tells a hidden
    object from a missing one (issue 15). Whether it exists is the auditor's to look up
    (the event names the type and the id); asking for ids that name nothing is worth
    recording too: it is what probing looks like."""
    try:
        object_id = int(pk)
    except (ValueError, TypeError, OverflowError):
        return  # no object can have it
    if object_id <= 0 or object_id >= 2**63:
        return
    record_refusal(
        actor=actor,
        reason="Not found, or not visible to this person.",
        object_type=model._meta.label_lower,
        object_id=str(object_id),
    )


# --- the chain: sealing, verification and the retention purge -------------------------------
#
# Writers never wait for one another to append: ``record`` inserts the event and nothing
# else. The sealer chains events afterwards, one sealer at a time (a try-lock only sealers
# take), in a defined order: the events it can see — committed ones, whose writing
# transactions have ended; an uncommitted event is invisible to it, and one rolled back
# never appears — by id. Each gets the next place in the chain (``seq``), the hash of the
# event sealed before it and its own hash. An event committed after a round waits for the
# next one and takes a later place, whatever its id: the chain only grows at its end.
# docs/decisions/0001-audit-chain-sealed-after-commit.md says why.

SEAL_LOCK_KEY = 7_202_612  # an arbitrary, fixed advisory-lock number, for sealers only
SEAL_BATCH = 5000
SEAL_REQUEST_KEY = "concord:audit:seal-requested"
logger = logging.getLogger(__name__)


def request_seal() -> None:
    """After a commit that recorded events: seal them soon. In-process (the embedded
    default) this seals at once; with a worker it queues one sealing task a second at most
    (Django's cache, Redis in production, counts the requests). If the cache or the
    broker is down, beat's periodic sealing picks the events up."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        seal()
        return
    try:
        from django.core.cache import cache

        if cache.add(SEAL_REQUEST_KEY, 1, timeout=1):
            from coordination.audit.tasks import seal_audit_chain

            seal_audit_chain.delay()
    except Exception:  # the outage must not fail the request that already committed
        logger.warning("Could not queue the audit sealer; beat will seal.", exc_info=True)


def seal(batch: int = SEAL_BATCH) -> int:
    """Chain the events ready to be sealed (see above); returns how many. Runs while no
    other sealer does (on PostgreSQL a second one returns 0 at once)."""
    sealed = 0
    while True:
        count = _seal_once(batch)
        sealed += count
        if count < batch:
            return sealed


@transaction.atomic
def _seal_once(batch: int) -> int:
    connection = transaction.get_connection()
    table = AuditEvent._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return 0  # another sealer is at work; it will take these too
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    # the filter keeps sealed events only: their seq is set
    seq, previous = (
        (int(cast(int, head[0])), head[1]) if head is not None else (0, AuditEvent.GENESIS)
    )
    # committed events (and this transaction's own, which stand or fall with it)
    events = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:batch])
    rows = []
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, previous
        event.hash = event.compute_hash()
        previous = event.hash
        rows.append((event.seq, event.prev_hash, event.hash, event.pk))
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s "  # noqa: S608 - the model's table
                "WHERE id = %s AND seq IS NULL",
                rows,
            )
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: how many sealed events it checked, how many were not
    sealed yet, and the first broken link (the id of the first event that does not fit,
    and why), if any."""

    checked: int
    broken_at: int | None = None
    problem: str = ""
    unsealed: int = 0

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def _purge_anchors() -> dict[int, str]:
    """``first kept place in the chain -> its prev_hash`` as recorded by each retention
    purge: the one place where the chain may start at an event whose predecessor is gone."""
    anchors: dict[int, str] = {}
    for after in AuditEvent.objects.filter(action="audit.purged").values_list("after", flat=True):
        if not isinstance(after, dict):
            continue
        place = after.get("first_kept_seq")
        if not place and after.get("first_kept_id"):
            # recorded before events had places: the event's id names it (the chain was
            # then in id order, and migration coordination/0008 kept that order)
            place = (
                AuditEvent.objects.filter(pk=after["first_kept_id"])
                .values_list("seq", flat=True)
                .first()
            )
        if place:
            anchors[int(place)] = str(after.get("first_kept_prev_hash", ""))
    return anchors


def verify_chain(chunk_size: int = 2000, *, seal_first: bool = True) -> ChainReport:
    """Seal what is ready, then walk the sealed trail in chain order and check every link:
    each event's hash matches its content, its ``prev_hash`` is the hash of the event
    before it, and the places run without a gap (the first event starts the chain, or
    starts where a recorded purge left it)."""
    if seal_first:
        seal()
    anchors = _purge_anchors()
    previous: str | None = None
    last_seq = 0
    checked = 0
    for event in (
        AuditEvent.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=chunk_size)
    ):
        seq = int(event.seq or 0)
        if previous is None:
            starts = seq == 1 and event.prev_hash == AuditEvent.GENESIS
            expected = AuditEvent.GENESIS if starts else anchors.get(seq, None)
            if expected is None or event.prev_hash != expected:
                return ChainReport(
                    checked,
                    event.pk,
                    "the first event does not start the chain and no purge explains it",
                )
        elif seq != last_seq + 1 or event.prev_hash != previous:
            return ChainReport(
                checked,
                event.pk,
                "it does not link to the event before it (an event was removed or inserted)",
            )
        if event.compute_hash() != event.hash:
            return ChainReport(checked, event.pk, "its content no longer matches its hash")
        previous, last_seq = event.hash, seq
        checked += 1
    unsealed = AuditEvent.objects.filter(seq__isnull=True).count()
    return ChainReport(checked, unsealed=unsealed)


def chain_head() -> tuple[int, int, str] | None:
    """The last sealed event: its id, place and hash (worth writing down elsewhere: a
    rewrite of the whole chain changes it)."""
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("id", "seq", "hash")
        .first()
    )
    # sealed events only: their seq is set
    return (int(head[0]), int(cast(int, head[1])), str(head[2])) if head else None


def purge_expired(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Remove the events older than ``CONCORD_AUDIT_RETENTION_DAYS`` (never fewer than
    365) and record that the purge ran, with what it removed and where the chain now
    starts. Only a prefix of the sealed chain is removed, so what stays still verifies."""
    days = max(int(settings.CONCORD_AUDIT_RETENTION_DAYS), 365)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    seal()
    with transaction.atomic():
        connection = transaction.get_connection()
        if connection.vendor == "postgresql":  # one purge at a time, and no sealer meanwhile
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        sealed = AuditEvent.objects.filter(seq__isnull=False)
        first_kept = sealed.filter(created_at__gte=cutoff).order_by("seq").first()
        old = sealed.filter(created_at__lt=cutoff)
        if first_kept is not None:
            old = sealed.filter(seq__lt=first_kept.seq)
        count = old.count()
        summary: dict[str, Any] = {
            "removed": count,
            "cutoff": cutoff.isoformat(),
            "retention_days": days,
            "first_kept_id": first_kept.pk if first_kept is not None else None,
            "first_kept_seq": first_kept.seq if first_kept is not None else None,
            "first_kept_prev_hash": first_kept.prev_hash if first_kept is not None else None,
            "dry_run": dry_run,
        }
        if dry_run:
            return summary
        if count:
            table = AuditEvent._meta.db_table
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL concord.audit_purge = 'on'")
                if first_kept is not None:
                    cursor.execute(f"DELETE FROM {table} WHERE seq < %s", [first_kept.seq])  # noqa: S608 - table name from the model
                else:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE seq IS NOT NULL AND created_at < %s",  # noqa: S608
                        [cutoff],
                    )
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL concord.audit_purge = 'off'")
        record(actor=None, action="audit.purged", after=summary)
    return summary
