"""The two ways a page hears of changes: the event stream (Server-Sent Events, under the
ASGI server) and, where push is unavailable, polling versions with conditional GET."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections, connections
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from coordination import live
from coordination.models import User

logger = logging.getLogger(__name__)

TOPIC = re.compile(r"^(me|tf:\*|tf:[1-9][0-9]{0,17})$")
STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
MAX_TOPICS = 10
# what an EventSource waits before reconnecting (SSE "retry:")
RETRY_MS = 1000


def _topics(request: HttpRequest) -> tuple[list[str], dict[str, list[str]]]:
    topics = request.GET.getlist("topic")
    errors: dict[str, list[str]] = {}
    if not topics:
        errors["topic"] = ["Name at least one topic."]
    elif len(topics) > MAX_TOPICS:
        errors["topic"] = [f"Name at most {MAX_TOPICS} topics."]
    else:
        bad = [t for t in topics if not TOPIC.match(t)]
        if bad:
            errors["topic"] = [
                f"Unknown topic {bad[0][:40]!r}: use me, tf:* or tf:<task force id>."
            ]
    unknown = set(request.GET) - {"topic", "since"}
    for name in sorted(unknown):
        errors[name[:40]] = ["Unknown parameter."]
    return topics, errors


def _bad_request(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=400)


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.ConnectionPool] = (
    weakref.WeakKeyDictionary()
)


def _redis() -> aioredis.Redis:
    """A client on this event loop's pool: each open stream borrows one connection for
    its blocking reads (connections are what is kept, never answers)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = aioredis.ConnectionPool.from_url(
            settings.CONCORD_LIVE_REDIS_URL,
            # generous: a busy machine answers slowly, and a stream that cannot connect ends
            socket_connect_timeout=5,
            # a blocking read waits up to the keep-alive time for an entry: longer than that
            # without an answer means Redis is gone
            socket_timeout=settings.CONCORD_LIVE_KEEPALIVE_SECONDS + 10,
            # one per open stream (redis-py's default is 100): past this a stream ends and
            # its page reconnects, then polls
            max_connections=settings.CONCORD_LIVE_MAX_STREAMS,
        )
        _pools[loop] = pool
    return aioredis.Redis(connection_pool=pool)


def _still_signed_in(session_key: str | None, user_id: int) -> bool:
    """The session still exists (not signed out, not ended by the idle or maximum time)
    and the person is still active. Closes this thread's database connection after, so
    an open stream holds none."""
    try:
        if not session_key:
            return False
        from importlib import import_module

        engine = import_module(settings.SESSION_ENGINE)
        store: SessionBase = engine.SessionStore(session_key)
        if not store.exists(session_key):
            return False
        if str(store.get("_auth_user_id")) != str(user_id):
            return False
        return User.objects.filter(pk=user_id, is_active=True).exists()
    finally:
        close_old_connections()
        connections.close_all()


async def stream(request: HttpRequest) -> HttpResponseBase:
    """The person's live changes as Server-Sent Events, for the topics the page names.

    Each event's ``id`` is its Redis stream id: the browser sends it back as
    ``Last-Event-ID`` when it reconnects and the stream goes on from there, so nothing is
    lost. Only served by the ASGI server with live pages on; elsewhere it answers 204,
    which tells the page's EventSource to stop and the page to poll instead."""
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"detail": "Sign in first."}, status=403)
    if not isinstance(request, ASGIRequest) or not live.enabled():
        return HttpResponse(status=204)
    topics, errors = _topics(request)
    since = request.headers.get("Last-Event-ID") or request.GET.get("since") or live.now_id()
    if not STREAM_ID.match(since):
        errors["since"] = ["Not a stream position (milliseconds-sequence)."]
    if errors:
        return _bad_request(errors)
    user_id = int(user.pk)
    session_key = request.session.session_key

    async def events() -> AsyncIterator[bytes]:
        # The body is read after every middleware has answered, and some write on the way
        # out (the session middleware saves a changed session): only now is this request's
        # database work done. Close its connection (in the request's own thread, where
        # it was opened), so an open stream holds none: a thousand open pages must not
        # take a thousand of PostgreSQL's connections.
        await sync_to_async(connections.close_all)()
        client = _redis()
        key = live.stream_key(user_id)
        last = since
        started = checked = time.monotonic()
        block_ms = int(settings.CONCORD_LIVE_KEEPALIVE_SECONDS * 1000)
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
            while time.monotonic() - started < settings.CONCORD_LIVE_MAX_SECONDS:
                try:
                    found: Any = await client.xread({key: last}, count=100, block=block_ms)
                except RedisError as error:
                    # end the response cleanly: the browser reconnects after RETRY_MS
                    # from the last id it saw, or polls if it cannot
                    logger.warning("Live stream ended, Redis unreachable: %s", error)
                    return
                chunk = []
                for _stream, entries in found or []:
                    for entry_id, fields in entries:
                        last = entry_id.decode()
                        payload = live.payload_of(fields)
                        if live.wanted(payload["topic"], topics):
                            chunk.append(
                                f"id: {last}\nevent: change\ndata: {live.dumps(payload)}\n\n"
                            )
                yield ("".join(chunk) if chunk else ": keep-alive\n\n").encode()
                if time.monotonic() - checked >= settings.CONCORD_LIVE_RECHECK_SECONDS:
                    checked = time.monotonic()
                    if not await sync_to_async(_still_signed_in)(session_key, user_id):
                        return
        finally:
            await client.aclose(close_connection_pool=False)

    return StreamingHttpResponse(
        events(),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@require_GET
def versions(request: HttpRequest) -> HttpResponse:
    """For pages that cannot hold a stream: a version of each topic the person may see.
    The page polls it with ``If-None-Match``; unchanged answers ``304`` and costs nothing
    to send; a changed version makes the page refetch that topic's regions."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Sign in first."}, status=403)
    topics, errors = _topics(request)
    if "since" in request.GET:
        errors["since"] = ["Unknown parameter."]
    if errors:
        return _bad_request(errors)
    answer: dict[str, str] = {}
    if live.ME in topics:
        answer[live.ME] = _my_version(request.user)
    by_prefix: dict[str, list[str]] = {}
    for topic in topics:
        if topic != live.ME:
            by_prefix.setdefault(topic.split(":", 1)[0], []).append(topic)
    for prefix, named in by_prefix.items():
        provider = live.VERSIONS.get(prefix)
        if provider is not None:
            answer.update(provider(request.user, named))
    body = live.dumps(dict(sorted(answer.items())))
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(body, content_type="application/json", headers=headers)


def _my_version(user: Any) -> str:
    """A person's own things: their notifications (new ones, and those read elsewhere)."""
    from django.db.models import Count, Max, Q

    from coordination.models import Notification

    found = Notification.objects.filter(recipient=user).aggregate(
        latest=Max("pk"), unread=Count("pk", filter=Q(read_at__isnull=True))
    )
    return f"{found['latest'] or 0}.{found['unread']}"
