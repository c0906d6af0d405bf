"""Notifications: the outbox, the fan-out and e-mail delivery, exactly once.

How an event reaches people:

1. A service calls :func:`emit` inside its transaction. That writes an :class:`Event` row
   (the outbox) and, only once the transaction commits, queues ``dispatch_event``. A
   rolled-back change leaves no event and queues nothing.
2. :func:`dispatch` asks the event kind's registered :class:`Kind` for its recipients
   (always through the permission core: nobody is told about what they may not see) and
   inserts one :class:`Notification` per recipient. The database's unique (event,
   recipient) constraint makes a repeated dispatch add nothing.
3. :func:`deliver` e-mails each notification whose delivery is immediate. A notification
   is *claimed* with a compare-and-set update that must change exactly one row, so two
   workers never send the same one; visibility is checked again at send time.
4. :func:`sweep` (Celery beat, every minute) re-queues whatever a lost task or a broker
   restart left behind: undispatched events, unsent notifications, stale claims.

Apps describe their kinds (who receives them, what they say) with :func:`register`; the
core imports no app.

Beside it: ``mail`` (the mail outbox every e-mail goes through), ``tasks`` (the Celery
tasks of both), ``forms``, ``views`` and ``urls`` (the notification centre and preferences).
"""

from __future__ import annotations

import datetime
import logging
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from coordination import after_commit, db, live, timefmt
from coordination.models import Event, Notification, NotificationPreference, User
from coordination.notifications.mail import transport

logger = logging.getLogger(__name__)

N = Notification.EmailStatus
D = Notification.Delivery
CHUNK = 100


@dataclass(frozen=True)
class Message:
    """What a notification says. ``body`` must carry nothing above what every recipient
    may see (recipients are chosen by the permission core; TLP:RED bodies stay empty)."""

    title: str
    body: str = ""
    link: str = ""
    group_key: str = ""


@dataclass
class Kind:
    """One kind of event: its label for preferences, who hears about it, what it says."""

    name: str
    label: str
    recipients: Callable[[Event, Any], QuerySet[User]]
    message: Callable[[Event, Any], Message]
    critical: bool = False
    # combine a burst (same recipient and group_key) into one e-mail
    throttle: bool = False
    # the person must still be allowed to do this to the object when the e-mail goes out
    visible_action: str | None = "view"
    # everyone who may ``visible_action`` the object (the permission core turned round):
    # lets a worker check a whole chunk of recipients with one query
    audience: Callable[[Any], QuerySet[User]] | None = None
    # The kind that tells everyone else about the same event: whoever that kind would tell
    # and this one does not gets that kind's notification, under this same event. So an
    # event that is critical for some and routine for others (an update some must
    # acknowledge) reaches each person once, with one meaning, never both.
    others_told_as: str | None = None
    # Recipients to whom the notification is already read when it is created (e.g. those
    # who acknowledged a critical update before a worker got round to telling them).
    already_done: Callable[[Event, Any], QuerySet[User]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The preferences page: the heading this kind is listed under, and who can ever receive
    # it (the kinds nobody like the person can receive are not offered to them). Portal
    # administrators' kinds name ``portal_admins_only``; the rest go to people of an agency
    # with one of ``agency_roles`` (None: any role).
    group: str = "Other"
    portal_admins_only: bool = False
    agency_roles: tuple[str, ...] | None = None

    def may_reach(self, *, is_portal_admin: bool, agency_role: str | None) -> bool:
        """Whether a person like this (portal administrator or not, their agency role or
        None without an agency) can ever receive this kind."""
        if self.portal_admins_only:
            return is_portal_admin
        if agency_role is None:
            return False
        return self.agency_roles is None or agency_role in self.agency_roles


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def label_for(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind


# --- recording -------------------------------------------------------------------------------


def emit(
    kind: str,
    obj: models.Model,
    *,
    actor: Any = None,
    data: dict[str, Any] | None = None,
    key: str | None = None,
) -> Event | None:
    """Record an event in the caller's transaction; dispatch it after commit.

    With ``key``, an event that already exists is not recorded again (returns None)."""
    if kind not in KINDS:
        raise LookupError(f"Unknown notification kind {kind!r}.")
    values = {
        "kind": kind,
        "object_type": obj._meta.label_lower,
        "object_id": str(obj.pk),
        "actor": actor if getattr(actor, "pk", None) else None,
        "data": data or {},
    }
    if key is not None:
        with transaction.atomic():
            event, created = Event.objects.get_or_create(key=key, defaults=values)
        if not created:
            return None
    else:
        event = Event.objects.create(**values)
    from coordination.notifications.tasks import dispatch_event

    # if the broker is down, the change is still saved and the sweeper dispatches the
    # event later; the person who made the change does not get an error for it
    after_commit.later(dispatch_event, event.pk)
    return event


def target_of(event: Event) -> Any:
    """The object the event is about, or None if it is gone."""
    model = apps.get_model(event.object_type)
    return model._default_manager.filter(pk=event.object_id).first()


# --- fan-out -----------------------------------------------------------------------------------


def _delivery_for(kind: Kind, preference: str | None) -> tuple[str, str]:
    if kind.critical or preference in (None, D.IMMEDIATE):
        return D.IMMEDIATE, N.PENDING
    if preference == D.DIGEST:
        return D.DIGEST, N.DIGEST
    return D.IN_APP, N.NONE


def dispatch(event_id: int) -> int:
    """Create the event's notifications (once) and queue their e-mails. Returns how many
    notifications this call created."""
    with transaction.atomic():
        event = (
            Event.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:  # done already, or another worker holds it
            return 0
        event.attempts += 1
        kind = KINDS.get(event.kind)
        obj = target_of(event)
        created = 0
        if kind is not None and obj is not None:
            created = _fan_out(event, kind, obj)
            if created:
                # the recipients' open pages show a new unread count
                live.changed(event, topic=live.ME, regions=["notifications"])
        event.dispatched_at = timezone.now()
        event.save(update_fields=["dispatched_at", "attempts"])
        transaction.on_commit(lambda: queue_deliveries(event_id=event.pk), robust=True)
        if kind is not None and obj is not None and "external" in kind.extra:
            from coordination.notifications.tasks import deliver_external

            after_commit.later(deliver_external, event.pk)
    return created


def _fan_out(event: Event, kind: Kind, obj: Any) -> int:
    """Insert one notification per recipient of ``event``: the kind's own recipients, then
    (``others_told_as``) everyone else the companion kind tells. Runs under the event's
    lock; the unique (event, recipient) constraint makes a repeat add nothing."""
    told: list[tuple[Kind, list[int]]] = []
    own = list(kind.recipients(event, obj).values_list("pk", flat=True).distinct())
    told.append((kind, own))
    other = KINDS.get(kind.others_told_as) if kind.others_told_as else None
    if other is not None:
        seen = set(own)
        rest = other.recipients(event, obj).values_list("pk", flat=True).distinct()
        told.append((other, [pk for pk in rest if pk not in seen]))
    everyone = [pk for _, ids in told for pk in ids]
    preferences = {
        (user_id, name): delivery
        for user_id, name, delivery in NotificationPreference.objects.filter(
            kind__in=[k.name for k, _ in told], user_id__in=everyone
        ).values_list("user_id", "kind", "delivery")
    }
    done = (
        set(kind.already_done(event, obj).filter(pk__in=own).values_list("pk", flat=True))
        if kind.already_done is not None and own
        else set()
    )
    now = timezone.now()
    before = Notification.objects.filter(event=event).count()
    rows = []
    # The words are written once per time zone among the recipients, so a time in them
    # ("expires on 6 December 2026, 14:00 GMT") is in each person's own zone.
    zones = timefmt.zone_names_for(everyone)
    for told_as, ids in told:
        messages: dict[str, Message] = {}
        for zone_name in sorted({zones[pk] for pk in ids}):
            with timezone.override(zoneinfo.ZoneInfo(zone_name)):
                messages[zone_name] = told_as.message(event, obj)
        for recipient_id in ids:
            message = messages[zones[recipient_id]]
            delivery, status = _delivery_for(told_as, preferences.get((recipient_id, told_as.name)))
            rows.append(
                Notification(
                    event=event,
                    recipient_id=recipient_id,
                    kind=told_as.name,
                    title=message.title[:300],
                    body=message.body,
                    link=message.link[:300],
                    group_key=message.group_key[:60],
                    critical=told_as.critical,
                    delivery=delivery,
                    email_status=status,
                    read_at=now if told_as is kind and recipient_id in done else None,
                )
            )
    Notification.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return Notification.objects.filter(event=event).count() - before


def deliver_external(event_id: int) -> bool:
    """Write to the address outside Concord that the kind names (e.g. an applicant
    agency's contact), once. The event row stays locked while sending and is marked in
    the same transaction, so a worker that dies mid-send leaves it unmarked for the
    sweeper, and two workers never both send."""
    with transaction.atomic():
        event = (
            Event.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(pk=event_id, external_sent_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        kind = KINDS.get(event.kind)
        obj = target_of(event)
        if kind is None or obj is None or "external" not in kind.extra:
            return False
        address, subject, body = kind.extra["external"](event, obj)
        EmailMessage(
            subject=f"[Concord] {subject}",
            body=body,
            to=[address],
            headers={"Message-ID": message_id_header(f"event-{event.pk}-external")},
            connection=transport(),  # this event row is the outbox: send, not queue again
        ).send()
        event.external_sent_at = timezone.now()
        event.save(update_fields=["external_sent_at"])
    return True


def queue_deliveries(*, event_id: int | None = None, ids: Iterable[int] | None = None) -> int:
    """Queue e-mail delivery for pending notifications, in chunks."""
    from coordination.notifications.tasks import deliver_emails

    pending = Notification.objects.filter(email_status=N.PENDING)
    if event_id is not None:
        pending = pending.filter(event_id=event_id)
    if ids is not None:
        pending = pending.filter(pk__in=list(ids))
    all_ids = list(pending.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(all_ids), CHUNK):
        deliver_emails.delay(all_ids[start : start + CHUNK])
    return len(all_ids)


# --- delivery ------------------------------------------------------------------------------------


def _claim(queryset: QuerySet[Notification], now: datetime.datetime) -> bool:
    """Compare-and-set: True only for the one caller whose update changed the row."""
    return (
        queryset.update(
            email_status=N.SENDING,
            email_claimed_at=now,
            email_attempts=models.F("email_attempts") + 1,
        )
        == 1
    )


def still_visible(notification: Notification, obj: Any = None) -> bool:
    """Does the permission core still let the recipient see what this is about?"""
    from coordination.permissions import can

    kind = KINDS.get(notification.kind)
    if kind is None or kind.visible_action is None or notification.event is None:
        return True
    target = obj if obj is not None else target_of(notification.event)
    if target is None:
        return False
    return bool(notification.recipient.is_active) and can(
        notification.recipient, kind.visible_action, target
    )


def stale_before(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(seconds=settings.CONCORD_NOTIFY_STALE_SECONDS)


def deliver_many(notification_ids: list[int]) -> dict[str, int]:
    """Deliver a chunk: the recipients' access is checked once per event with the kind's
    audience (one query) instead of once per recipient."""
    allowed: dict[int, set[int]] = {}
    rows = Notification.objects.filter(pk__in=notification_ids).select_related("event")
    for notification in rows:
        event = notification.event
        kind = KINDS.get(notification.kind)
        if event is None or kind is None or kind.audience is None or event.pk in allowed:
            continue
        target = target_of(event)
        allowed[event.pk] = (
            set(kind.audience(target).values_list("pk", flat=True)) if target is not None else set()
        )
    events = dict(rows.values_list("pk", "event_id"))
    outcome: dict[str, int] = {}
    for notification_id in notification_ids:
        event_id = events.get(notification_id)
        known = allowed.get(event_id) if event_id is not None else None
        result = deliver(notification_id, audience_ids=known)
        outcome[result] = outcome.get(result, 0) + 1
    return outcome


def deliver(notification_id: int, audience_ids: set[int] | None = None) -> str:
    """Send one notification's e-mail at most once. Returns what happened.

    ``audience_ids``, when given, is who may see the object now (from the kind's
    audience); otherwise the permission core is asked for this recipient."""
    now = timezone.now()
    claimable = Notification.objects.filter(pk=notification_id).filter(
        models.Q(email_status=N.PENDING)
        | models.Q(email_status=N.SENDING, email_claimed_at__lt=stale_before(now))
    )
    if not _claim(claimable, now):
        return "not-mine"
    notification = Notification.objects.select_related("recipient", "event").get(pk=notification_id)
    if audience_ids is not None:
        visible = notification.recipient_id in audience_ids and notification.recipient.is_active
    else:
        visible = still_visible(notification)
    if not visible:
        _finish(notification_id, N.WITHDRAWN)
        return "withdrawn"
    kind = KINDS.get(notification.kind)
    if (
        kind is not None
        and kind.throttle
        and notification.group_key
        and _recently_emailed(notification, now)
    ):
        _finish(notification_id, N.HELD)
        return "held"
    try:
        context: dict[str, Any] = {
            "notification": notification,
            "kind_label": label_for(notification.kind),
        }
        if kind is not None and "acknowledge_url" in kind.extra:
            context["acknowledge_url"] = kind.extra["acknowledge_url"](notification)
        send_email(
            to=notification.recipient,
            subject=notification.title,
            template="notifications/email/notification.txt",
            context=context,
            message_id=f"notification-{notification.pk}",
        )
    except Exception:
        Notification.objects.filter(pk=notification_id, email_status=N.SENDING).update(
            email_status=N.PENDING
        )
        raise
    _finish(notification_id, N.SENT, emailed_at=timezone.now())
    return "sent"


def _finish(notification_id: int, status: str, **fields: Any) -> None:
    Notification.objects.filter(pk=notification_id, email_status=N.SENDING).update(
        email_status=status, **fields
    )


def _recently_emailed(notification: Notification, now: datetime.datetime) -> bool:
    window = now - datetime.timedelta(minutes=settings.CONCORD_NOTIFY_THROTTLE_MINUTES)
    return (
        Notification.objects.filter(
            recipient_id=notification.recipient_id,
            kind=notification.kind,
            group_key=notification.group_key,
            emailed_at__gte=window,
        )
        .exclude(pk=notification.pk)
        .exists()
    )


def send_email(
    *, to: User, subject: str, template: str, context: dict[str, Any], message_id: str
) -> None:
    """One plain-text e-mail with a stable Message-ID, so a copy sent twice after a crash
    in the instant between sending and recording is recognisable as the same message."""
    base = settings.CONCORD_BASE_URL.rstrip("/")
    # times in the e-mail are in the recipient's zone, as on their pages
    with timezone.override(timefmt.zone_for(to)):
        body = render_to_string(template, {**context, "recipient": to, "base_url": base})
    message = EmailMessage(
        subject=f"[Concord] {subject}",
        body=body,
        to=[to.email],
        headers={"Message-ID": message_id_header(message_id)},
        connection=transport(),  # the notification is the outbox: send, not queue again
    )
    message.send()


# RFC 5322 3.2.3: a dot-atom, atoms (these characters) joined by single dots; both halves
# of a msg-id are one.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM = re.compile(rf"{ATOM}(\.{ATOM})*")


def message_id_header(left: str) -> str:
    """The Message-ID ``<left@site>``: ``left`` names the e-mail (the same e-mail sent
    again has the same one), the site is the host of ``CONCORD_BASE_URL``. Both halves
    are made RFC 5322 dot-atoms, so that strict parsers read the whole of it: anything
    else in ``left`` becomes ``-``, and a host that is no dot-atom (an IPv6 address)
    is replaced by ``concord.local``."""
    atoms = re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]", "-", left).split(".")
    left = ".".join(atom for atom in atoms if atom) or "concord"
    host = urlsplit(settings.CONCORD_BASE_URL).hostname or ""
    if not DOT_ATOM.fullmatch(host):
        host = "concord.local"
    return f"<{left}@{host}>"


# --- held bursts and the daily digest -----------------------------------------------------------


def flush_held(now: datetime.datetime | None = None) -> int:
    """Send one e-mail per (recipient, group) for notifications held back during a burst,
    once the throttle window has passed, and send again at once any bundle (held burst
    or digest) a dead worker left unsent, as the same e-mail. Returns the number of
    e-mails sent."""
    now = now or timezone.now()
    window = now - datetime.timedelta(minutes=settings.CONCORD_NOTIFY_THROTTLE_MINUTES)
    sent = _resend_interrupted_digests(now)
    held = Notification.objects.filter(
        models.Q(created_at__lte=window) | ~models.Q(email_bundle=""), email_status=N.HELD
    )
    groups = held.values_list("recipient_id", "group_key", "email_bundle").distinct()
    for recipient_id, group_key, bundle in list(groups):
        sent += _send_bundle(
            held.filter(recipient_id=recipient_id, group_key=group_key, email_bundle=bundle),
            now=now,
            kind="bundle",
        )
    return sent


def send_digests(now: datetime.datetime | None = None) -> int:
    """Each person's daily digest: one e-mail with everything they chose to get that way."""
    now = now or timezone.now()
    waiting = Notification.objects.filter(email_status=N.DIGEST)
    sent = 0
    for recipient_id, bundle in list(
        waiting.values_list("recipient_id", "email_bundle").distinct()
    ):
        sent += _send_bundle(
            waiting.filter(recipient_id=recipient_id, email_bundle=bundle),
            now=now,
            kind="digest",
        )
    return sent


def _resend_interrupted_digests(now: datetime.datetime) -> int:
    """A digest a dead worker left unsent (the sweeper gave it back) goes out now, not a
    day late."""
    waiting = Notification.objects.filter(email_status=N.DIGEST).exclude(email_bundle="")
    sent = 0
    for recipient_id, bundle in list(
        waiting.values_list("recipient_id", "email_bundle").distinct()
    ):
        sent += _send_bundle(
            waiting.filter(recipient_id=recipient_id, email_bundle=bundle), now=now, kind="digest"
        )
    return sent


def _send_bundle(queryset: QuerySet[Notification], *, now: datetime.datetime, kind: str) -> int:
    """Claim the notifications of one bundle, name it (once: its name is its Message-ID,
    kept on the notifications before the e-mail leaves) and send it."""
    digest = kind == "digest"
    waiting = N.DIGEST if digest else N.HELD
    ids = list(queryset.values_list("pk", flat=True))
    claimed = Notification.objects.filter(pk__in=ids, email_status=waiting).update(
        email_status=N.SENDING, email_claimed_at=now
    )
    if not claimed:
        return 0
    notifications = list(
        Notification.objects.filter(pk__in=ids, email_status=N.SENDING, email_claimed_at=now)
        .select_related("recipient", "event")
        .order_by("created_at", "pk")
    )
    if not notifications:
        return 0
    # a bundle sent before keeps its name; a new one is named after its first member,
    # which belongs to no other bundle
    bundle = notifications[0].email_bundle or (
        f"{kind}-{notifications[0].recipient_id}-{min(n.pk for n in notifications)}"
    )
    Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(email_bundle=bundle)
    visible = [n for n in notifications if still_visible(n)]
    hidden = [n.pk for n in notifications if n not in visible]
    Notification.objects.filter(pk__in=hidden).update(email_status=N.WITHDRAWN)
    if not visible:
        return 0
    recipient = visible[0].recipient
    plural = "s" if len(visible) != 1 else ""
    subject = (
        f"Daily digest: {len(visible)} notification{plural}"
        if digest
        else f"{len(visible)} new notification{plural} in a short time"
    )
    try:
        send_email(
            to=recipient,
            subject=subject,
            template="notifications/email/bundle.txt",
            context={"notifications": visible, "digest": digest},
            message_id=bundle,
        )
    except Exception:
        Notification.objects.filter(pk__in=[n.pk for n in visible]).update(email_status=waiting)
        raise
    Notification.objects.filter(pk__in=[n.pk for n in visible]).update(
        email_status=N.SENT, emailed_at=timezone.now()
    )
    return 1


# --- recovery ------------------------------------------------------------------------------------


def sweep(now: datetime.datetime | None = None) -> dict[str, int]:
    """Re-queue what a lost task, a dead worker or a broker restart left behind. Safe to run
    any number of times: dispatch and delivery are idempotent."""
    from coordination.notifications.tasks import dispatch_event

    now = now or timezone.now()
    grace = now - datetime.timedelta(seconds=settings.CONCORD_NOTIFY_GRACE_SECONDS)
    events = list(
        Event.objects.filter(dispatched_at__isnull=True, created_at__lte=grace).values_list(
            "pk", flat=True
        )[:1000]
    )
    for event_id in events:
        dispatch_event.delay(event_id)
    # a claim a dead worker left: a notification e-mailed alone is pending again; one
    # claimed for a bundle goes back to its bundle, to be sent again as that e-mail
    stale_claims = Notification.objects.filter(
        email_status=N.SENDING, email_claimed_at__lt=stale_before(now)
    )
    stale = stale_claims.filter(email_bundle="").update(email_status=N.PENDING)
    bundled = stale_claims.exclude(email_bundle="")
    stale += bundled.filter(delivery=D.DIGEST).update(email_status=N.DIGEST)
    stale += bundled.update(email_status=N.HELD)
    pending = list(
        Notification.objects.filter(email_status=N.PENDING, created_at__lte=grace).values_list(
            "pk", flat=True
        )[:10000]
    )
    queue_deliveries(ids=pending)
    external_kinds = [name for name, kind in KINDS.items() if "external" in kind.extra]
    external = list(
        Event.objects.filter(
            kind__in=external_kinds, dispatched_at__lte=grace, external_sent_at__isnull=True
        ).values_list("pk", flat=True)[:1000]
    )
    from coordination.notifications.tasks import deliver_external

    for event_id in external:
        deliver_external.delay(event_id)
    return {
        "events": len(events),
        "reclaimed": stale,
        "pending": len(pending),
        "external": len(external),
    }


# --- preferences ---------------------------------------------------------------------------------


def kinds_for(user: User) -> dict[str, list[tuple[str, Kind]]]:
    """The kinds ``user`` can receive, grouped under their headings (in the order the kinds
    were registered), each group's kinds sorted by label: what the preferences page offers."""
    role = (
        user.memberships.filter(is_active=True)
        .order_by("pk")
        .values_list("role", flat=True)
        .first()
    )
    grouped: dict[str, list[tuple[str, Kind]]] = {}
    for name, kind in KINDS.items():
        if kind.may_reach(is_portal_admin=user.is_portal_admin, agency_role=role):
            grouped.setdefault(kind.group, []).append((name, kind))
    return {
        group: sorted(kinds, key=lambda item: item[1].label) for group, kinds in grouped.items()
    }


def preferences_for(user: User) -> dict[str, str]:
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("kind", "delivery"))
    return {
        name: (D.IMMEDIATE if kind.critical else chosen.get(name, D.IMMEDIATE))
        for name, kind in KINDS.items()
    }


@transaction.atomic
def set_preferences(*, user: User, choices: dict[str, str]) -> None:
    """Save a person's choices; critical kinds cannot be turned down."""
    from django.core.exceptions import ValidationError

    errors = {}
    for name, delivery in choices.items():
        if name not in KINDS:
            errors[name] = "Unknown kind of notification."
        elif delivery not in D.values:
            errors[name] = "Choose immediately, daily digest or in Concord only."
        elif KINDS[name].critical and delivery != D.IMMEDIATE:
            errors[name] = "Critical notifications are always e-mailed at once."
    if errors:
        raise ValidationError(errors)
    for name, delivery in choices.items():
        NotificationPreference.objects.update_or_create(
            user=user, kind=name, defaults={"delivery": delivery}
        )


def mark_read_about(*, recipient: User, obj: models.Model, kinds: Iterable[str]) -> int:
    """Mark read the recipient's notifications of these kinds about ``obj`` (e.g. "please
    acknowledge" once they have acknowledged). Returns how many changed."""
    return Notification.objects.filter(
        recipient=recipient,
        read_at__isnull=True,
        kind__in=list(kinds),
        event__object_type=obj._meta.label_lower,
        event__object_id=str(obj.pk),
    ).update(read_at=timezone.now())


def visible_notifications(user: User) -> QuerySet[Notification]:
    """A person's notification centre: never anything withdrawn for lost access."""
    return Notification.objects.filter(recipient=user).exclude(email_status=N.WITHDRAWN)


# How many of them are unread: what every page's navigation shows and polling clients ask
# (``/api/v1/notifications/unread-count/``). The rule above, unread, as one prepared
# statement (``coordination.db``): 0.18 ms, where the ORM took about 0.6 to build, compile and
# run the count on every page. ``tests/notifications/test_unread_count.py`` holds the two to the
# same answer.
_UNREAD_SQL = (
    f"SELECT COUNT(*) FROM {Notification._meta.db_table} n "  # noqa: S608 - the model's table; values are parameters
    "WHERE n.recipient_id = %s AND n.email_status <> %s AND n.read_at IS NULL"
)


def unread_count(user: User | AnonymousUser) -> int:
    """How many of the person's visible notifications are unread (no one's: none)."""
    return int(db.fetch_all(_UNREAD_SQL, (user.pk, N.WITHDRAWN))[0][0])


def group_by(items: Iterable[Notification]) -> dict[str, list[Notification]]:
    grouped: dict[str, list[Notification]] = defaultdict(list)
    for item in items:
        grouped[item.group_key].append(item)
    return grouped
