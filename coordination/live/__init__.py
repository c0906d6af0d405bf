"""Live pages: open pages hear within a second that something they show has changed.

How a change reaches a page (decision 10, ``docs/live.md``):

1. A service changes something and records its audit event; the audit trail tells this
   module (``on_audit``), which asks the model's registered :class:`Source` what changed
   -- a *topic* (``tf:<id>``: one task force's pages; ``me``: a person's own things) and
   the *regions* of those pages (``updates``, ``objectives``, ...) -- and writes a
   :class:`~coordination.models.LiveChange` row in the same transaction. Code that writes
   without an audit event calls :func:`changed` itself.
2. After commit, :func:`relay` (a Celery task, in-process on the embedded default) asks
   the source who may see the object *now* -- the permission core's audience, TLP
   markings included -- and appends one small entry (topic, regions, object) to each of
   those people's Redis streams, then marks the row published. Nothing is pushed for a
   rolled-back change, and nobody outside the audience at send time hears of it.
3. Each open page holds a Server-Sent Events connection (``views.stream``, served by an
   ASGI server) reading its person's stream from the id it last saw (``Last-Event-ID``),
   so a dropped connection resumes without loss, on any web process or machine. The page
   refetches the named regions through their normal, permission-checked pages.
4. :func:`sweep` (Celery beat) publishes whatever a lost task or a Redis outage left
   unpublished, and forgets published rows after ``CONCORD_LIVE_KEEP_SECONDS``.

Entries say *what* changed, never its content: a page learns its content only by asking
for it again. Delivery is at least once (a relay that dies between Redis and its commit
publishes again); a repeated entry only makes a page refetch once more.

Apps say what their models' changes mean with :func:`register`; the core imports no app.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from coordination import after_commit
from coordination.models import LiveChange

logger = logging.getLogger(__name__)

# the regions a page may name; a change names the ones it alters
REGIONS = frozenset(
    {"overview", "objectives", "tasks", "updates", "organisation", "notifications", "timeline"}
)
ME = "me"


@dataclass(frozen=True)
class Source:
    """What one model's changes mean to open pages.

    ``describe(obj)`` gives the topic and regions a change of ``obj`` alters (None: no
    page shows it); ``audience(change, obj)`` gives the ids of everyone who may see it
    now -- the permission core turned round -- with ``obj`` None when it is gone."""

    describe: Callable[[Any], tuple[str, list[str]] | None]
    audience: Callable[[LiveChange, Any], Iterable[int]]


SOURCES: dict[str, Source] = {}
# topic prefix ("tf") -> versions(user, topics) -> {topic: version} of what the person
# may see, for pages that poll (views.versions)
VERSIONS: dict[str, Callable[[Any, list[str]], dict[str, str]]] = {}


def register(model_label: str, source: Source) -> Source:
    """``model_label`` as ``app_label.modelname`` (lower case)."""
    SOURCES[model_label] = source
    return source


def register_versions(prefix: str, versions: Callable[[Any, list[str]], dict[str, str]]) -> None:
    """How pages that poll learn that a topic changed: ``versions(user, topics)`` answers
    a version for each of ``topics`` (``<prefix>:<id>`` or ``<prefix>:*``) the person may
    see, through the permission core."""
    VERSIONS[prefix] = versions


def enabled() -> bool:
    """Live pages push only where there is a Redis to push through; elsewhere (the
    embedded default) pages poll and no change rows are written."""
    return bool(settings.CONCORD_LIVE_REDIS_URL)


# --- recording ----------------------------------------------------------------------------------


def changed(
    obj: models.Model, *, topic: str | None = None, regions: Sequence[str] | None = None
) -> LiveChange | None:
    """Record, in the caller's transaction, that ``obj`` changed; relay it after commit.

    ``topic``/``regions`` override what the model's source says. Returns None (and
    records nothing) when live pages are off or no page shows such objects."""
    if not enabled():
        return None
    label = obj._meta.label_lower
    source = SOURCES.get(label)
    if source is None:
        return None
    if topic is None or regions is None:
        described = source.describe(obj)
        if described is None:
            return None
        topic, regions = topic or described[0], list(regions or described[1])
    unknown = set(regions) - REGIONS
    if unknown:
        raise ValueError(f"Unknown live regions {sorted(unknown)}")
    change = LiveChange.objects.create(
        topic=topic, regions=sorted(set(regions)), object_type=label, object_id=str(obj.pk)
    )
    from coordination.live.tasks import relay_change

    # with Redis down the change is still saved and the sweeper publishes it
    after_commit.later(relay_change, change.pk)
    return change


def on_audit(obj: models.Model, action: str) -> None:
    """The audit trail's listener: every audited change of a registered model is a live
    change too, whoever made it (a service, the admin, a periodic task)."""
    if obj.pk is not None:
        changed(obj)


# --- publishing -----------------------------------------------------------------------------------


_clients: dict[str, redis.Redis] = {}


def client() -> redis.Redis:
    """A Redis client for the live streams (a connection pool per URL: connections, not
    answers, are what a process keeps)."""
    url = settings.CONCORD_LIVE_REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
        )
    return _clients[url]


def stream_key(user_id: int) -> str:
    """A person's stream: every live change they may see, across all their pages."""
    return f"{settings.CONCORD_LIVE_KEY_PREFIX}:u:{user_id}"


def target_of(change: LiveChange) -> Any:
    try:
        model = apps.get_model(change.object_type)
    except LookupError:
        return None
    return model._default_manager.filter(pk=change.object_id).first()


def audience_ids(change: LiveChange) -> set[int]:
    """Who may see the change now, as the model's source (the permission core) says."""
    source = SOURCES.get(change.object_type)
    if source is None:
        return set()
    return {int(pk) for pk in source.audience(change, target_of(change))}


def entry_of(change: LiveChange) -> dict[str, str]:
    """What a page is told: where, and which object -- never its content."""
    return {
        "topic": change.topic,
        "regions": " ".join(change.regions),
        "object": f"{change.object_type}:{change.object_id}",
        "change": str(change.pk),
        # when the change committed, for the benchmark's commit-to-arrival time
        "at": f"{change.created_at.timestamp():.6f}",
    }


# Appends one entry to many streams in one command: the loop runs inside Redis, so a change
# seen by a thousand people costs one round trip and one reply, not two thousand.
# KEYS: the streams; ARGV: MAXLEN, the TTL in seconds, then the entry's field/value pairs.
APPEND_TO_STREAMS = """
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
for _, key in ipairs(KEYS) do
    redis.call('XADD', key, 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
    redis.call('EXPIRE', key, ARGV[2])
end
return #KEYS
"""
# streams per command, so that one change never holds Redis for long
APPEND_CHUNK = 500


def _publish(changes: Sequence[LiveChange]) -> int:
    """Append each change to its audience's streams, then mark them published in the
    caller's transaction. Raises if Redis cannot be reached, leaving them unpublished."""
    append = client().register_script(APPEND_TO_STREAMS)
    entries = 0
    for change in changes:
        flat = [part for pair in entry_of(change).items() for part in pair]
        keys = [stream_key(user_id) for user_id in sorted(audience_ids(change))]
        for start in range(0, len(keys), APPEND_CHUNK):
            append(
                keys=keys[start : start + APPEND_CHUNK],
                args=[
                    settings.CONCORD_LIVE_STREAM_LENGTH,
                    settings.CONCORD_LIVE_KEEP_SECONDS,
                    *flat,
                ],
            )
        entries += len(keys)
    LiveChange.objects.filter(pk__in=[c.pk for c in changes]).update(
        published_at=timezone.now(), attempts=models.F("attempts") + 1
    )
    return entries


def relay(change_id: int) -> int:
    """Publish one change (once: a published or locked row is left alone). Returns how
    many streams it was appended to."""
    with transaction.atomic():
        change = (
            LiveChange.objects.select_for_update(skip_locked=True)
            .filter(pk=change_id, published_at__isnull=True)
            .first()
        )
        if change is None:
            return 0
        return _publish([change])


def sweep(now: Any = None) -> dict[str, int]:
    """Publish what was left unpublished (in commit order, as near as ids tell), and forget
    what was published long ago. Safe to run any number of times, in any process."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.CONCORD_LIVE_GRACE_SECONDS)
    published = 0
    try:
        with transaction.atomic():
            waiting = list(
                LiveChange.objects.select_for_update(skip_locked=True)
                .filter(published_at__isnull=True, created_at__lte=grace)
                .order_by("id")[:500]
            )
            if waiting:
                published = _publish(waiting)
    except redis.RedisError as error:
        logger.warning("Live changes left unpublished, Redis unreachable: %s", error)
    keep = now - timedelta(seconds=settings.CONCORD_LIVE_KEEP_SECONDS)
    forgotten, _ = LiveChange.objects.filter(published_at__lt=keep).delete()
    return {"published": published, "forgotten": forgotten}


def now_id() -> str:
    """A stream id from this moment, a little in the past: a page rendered now asks for
    what happened since, so nothing between its rendering and its connection is lost
    (Redis stream ids begin with the milliseconds of the Unix time; the margin covers
    clocks a little apart; an entry read twice only makes a page refetch once more)."""
    return f"{int(time.time() * 1000) - settings.CONCORD_LIVE_MARGIN_MS}-0"


def payload_of(fields: dict[bytes, bytes]) -> dict[str, Any]:
    """A stream entry as the page receives it (JSON in the event's data)."""
    data = {key.decode(): value.decode() for key, value in fields.items()}
    return {
        "topic": data.get("topic", ""),
        "regions": data.get("regions", "").split(),
        "object": data.get("object", ""),
        "change": data.get("change", ""),
        "at": data.get("at", ""),
    }


def wanted(topic: str, topics: Iterable[str]) -> bool:
    """Does a page listening to ``topics`` want an entry of ``topic``? ``tf:*`` is every
    task force the person sees (the dashboard)."""
    return any(wish == topic or (wish == "tf:*" and topic.startswith("tf:")) for wish in topics)


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


# --- the core's own source: a person's notifications -------------------------------------------


def _notified(change: LiveChange, event: Any) -> Iterable[int]:
    """Those the event notified (never one whose notification was withdrawn)."""
    from coordination.models import Notification

    return (
        Notification.objects.filter(event_id=change.object_id)
        .exclude(email_status=Notification.EmailStatus.WITHDRAWN)
        .values_list("recipient_id", flat=True)
    )


register("coordination.event", Source(describe=lambda event: None, audience=_notified))
