"""``Idempotency-Key`` on the API's creates (IETF httpapi draft "The Idempotency-Key HTTP
Header Field").

A create can commit and its answer still be lost (a 500 after the commit, a dropped
connection); a client that retries would create a second object. With the header:

* the first request runs and, in the same transaction as the create, its answer is
  stored under (person, key) — a create that rolls back leaves no key;
* a retry with the same key, method, path and body gets that answer again (status and
  body, with ``Idempotent-Replayed: true``) and nothing runs;
* the same key with another request is a 422; a retry while the first is still running
  is a 409 (the first holds a PostgreSQL advisory lock on the key for its transaction:
  the retry tries it without waiting, so it never blocks and never deadlocks);
* a key lasts ``CONCORD_IDEMPOTENCY_KEY_HOURS`` (24 by default); then it may be used
  afresh, and ``coordination.api.tasks.purge_idempotency_keys`` removes it.

Keys belong to the person (whichever token or session they use). Only successful answers
are stored: a refused create changed nothing, so retrying it is safe anyway. Without the
header nothing changes.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from coordination.models import IdempotencyKey, User

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class KeyInUse(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_use"
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry once it has finished."
    )


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = (
        "This Idempotency-Key was used for another request (another operation or body); "
        "send a new key for a new request."
    )


def _valid_key(raw: str) -> str:
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in raw):
        raise exceptions.ValidationError(
            {HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."]}
        )
    return raw


def fingerprint(request: Request) -> str:
    """The request a key stands for: method, path and body (whose key order and spacing
    do not matter)."""
    canonical = json.dumps(
        [request.method, request.path, request.data],
        sort_keys=True,
        separators=(",", ":"),
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock(user_id: int, key: str) -> None:
    """Hold the key for this transaction, or 409 if another transaction holds it.
    (SQLite, the embedded default, runs one writer at a time: there is nothing to race.)"""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()
    lock_id = int.from_bytes(digest[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        if not cursor.fetchone()[0]:
            raise KeyInUse()


def run_once(request: Request, key: str, create: Callable[[], Response]) -> Response:
    """``create()`` once per (person, key); the stored answer for a retry."""
    key = _valid_key(key)
    user = cast(User, request.user)  # the views require a signed-in person
    request_fingerprint = fingerprint(request)
    now = timezone.now()
    with transaction.atomic():
        _lock(user.pk, key)
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is not None and stored.expires_at > now:
            if stored.fingerprint != request_fingerprint:
                raise KeyReused()
            return Response(
                stored.response_body,
                status=stored.status_code,
                headers={REPLAYED_HEADER: "true"},
            )
        if stored is not None:  # expired: the key starts again
            stored.delete()
        response = create()
        if status.is_success(response.status_code):
            IdempotencyKey.objects.create(
                user=user,
                key=key,
                fingerprint=request_fingerprint,
                status_code=response.status_code,
                created_at=now,
                # as the client got it (the renderer's formats, not the encoder's)
                response_body=json.loads(JSONRenderer().render(response.data)),
                expires_at=now + datetime.timedelta(hours=settings.CONCORD_IDEMPOTENCY_KEY_HOURS),
            )
        return response


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """A view method that creates: honours ``Idempotency-Key`` when the request has one."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        return run_once(request, key, lambda: view(self, request, *args, **kwargs))

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by the schema
    return wrapper


def purge_expired() -> int:
    """Remove keys past their time; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
