"""The mail outbox: every e-mail Concord sends leaves through a worker that retries.

Two senders reach the mail server (the *transport*, ``CONCORD_EMAIL_TRANSPORT``, which
``EMAIL_URL`` chooses): the notification pipeline (``coordination.notifications``, whose
``Notification`` rows are an outbox of their own, with claims and retries), and this
module's :func:`deliver`. Nothing else may open the transport.

Everything else goes through Django's mail API as usual (``send_mail``,
``EmailMessage.send``): ``EMAIL_BACKEND`` is :class:`OutboxBackend`, which does not send
but writes an :class:`OutboundEmail` row in the caller's transaction and, once that
commits, queues ``deliver_mail``. So an invitation, a password reset or any of allauth's
messages is committed with the change that caused it (a rolled-back change sends
nothing), a mail server that is down delays the e-mail instead of failing the request or
losing it, and the worker's retries and the sweeper deliver it once the server is back:

* a row is *claimed* with a compare-and-set update (pending, or sending for longer than
  ``CONCORD_NOTIFY_STALE_SECONDS``: its worker died) that must change exactly one row, so
  two workers never send the same e-mail;
* a failed send puts the row back to pending and the task retries with exponential
  backoff and jitter; :func:`sweep` (beat, every minute) re-queues what is still pending;
* the Message-ID is fixed when the e-mail is queued, so the rare copy sent twice (a worker
  dying between the server's acceptance and the row's update) is the same message.

Why a backend rather than allauth's adapter hook: the backend catches every sender at
once — Concord's own, allauth's (password reset, password-changed and MFA notices),
Django's — without a hook per library, and a new call to ``send_mail`` anywhere goes
through the outbox without anyone remembering to.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from email.utils import make_msgid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import models
from django.utils import timezone

from coordination import after_commit
from coordination.models import OutboundEmail

logger = logging.getLogger(__name__)

OUTBOX_BACKEND = "coordination.notifications.mail.OutboxBackend"
M = OutboundEmail.Status


def transport() -> BaseEmailBackend:
    """A connection to the real mail server (SMTP in production). Only the outbox senders
    (this module and ``coordination.notifications``) call it."""
    backend = settings.CONCORD_EMAIL_TRANSPORT
    if backend == OUTBOX_BACKEND:
        raise ImproperlyConfigured("CONCORD_EMAIL_TRANSPORT must be a real mail backend.")
    return get_connection(backend)


def _domain() -> str:
    base = settings.CONCORD_BASE_URL.rstrip("/")
    return base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "concord.local"


class OutboxBackend(BaseEmailBackend):
    """Django's ``EMAIL_BACKEND``: queues each message in the outbox instead of sending."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            queue(message)
        return len(email_messages)


def queue(message: EmailMessage) -> OutboundEmail:
    """Write ``message`` to the outbox in the caller's transaction; after commit, a worker
    sends it. Attachments are refused: nothing in Concord sends any."""
    if message.attachments:
        raise ValueError("The mail outbox does not carry attachments.")
    headers = {str(k): str(v) for k, v in message.extra_headers.items()}
    message_id = headers.pop("Message-ID", None) or make_msgid("mail", domain=_domain())
    alternatives = [
        [str(content), str(mimetype)] for content, mimetype in getattr(message, "alternatives", [])
    ]
    row = OutboundEmail(
        message_id=message_id,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(message.to),
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=list(message.reply_to),
        subject=str(message.subject),
        body=str(message.body),
        alternatives=alternatives,
        headers=headers,
    )
    row.save()
    from coordination.notifications.tasks import deliver_mail

    # a broker that is down must not fail the change; the sweeper queues it later
    after_commit.later(deliver_mail, row.pk)
    return row


def queue_email(*, to: Sequence[str], subject: str, body: str) -> OutboundEmail:
    """A plain-text e-mail from Concord, queued in the caller's transaction."""
    return queue(EmailMessage(subject=subject, body=body, to=list(to)))


def _message(row: OutboundEmail, connection: BaseEmailBackend) -> EmailMessage:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        from_email=row.from_email,
        to=row.to,
        cc=row.cc,
        bcc=row.bcc,
        reply_to=row.reply_to,
        headers={**row.headers, "Message-ID": row.message_id},
        connection=connection,
    )
    for content, mimetype in row.alternatives:
        message.attach_alternative(content, mimetype)
    return message


def stale_before(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(seconds=settings.CONCORD_NOTIFY_STALE_SECONDS)


def deliver(mail_id: int) -> str:
    """Send one queued e-mail, at most once per claim. Returns what happened; a failure
    of the mail server puts the e-mail back to pending and raises (the task retries)."""
    now = timezone.now()
    claimable = OutboundEmail.objects.filter(pk=mail_id).filter(
        models.Q(status=M.PENDING) | models.Q(status=M.SENDING, claimed_at__lt=stale_before(now))
    )
    claimed = claimable.update(status=M.SENDING, claimed_at=now, attempts=models.F("attempts") + 1)
    if claimed != 1:
        return "not-mine"
    row = OutboundEmail.objects.get(pk=mail_id)
    mine = OutboundEmail.objects.filter(pk=mail_id, status=M.SENDING, claimed_at=now)
    try:
        _message(row, transport()).send()
    except Exception as error:
        mine.update(status=M.PENDING, last_error=f"{type(error).__name__}: {error}"[:2000])
        raise
    mine.update(status=M.SENT, sent_at=timezone.now(), last_error="")
    return "sent"


def sweep(now: datetime.datetime | None = None) -> dict[str, int]:
    """Queue again what is unsent: pending e-mails whose task gave up or was lost (queued,
    and last tried, longer than the grace period ago) and stale claims (their worker
    died). Safe to run any number of times: :func:`deliver` claims before it sends."""
    from coordination.notifications.tasks import deliver_mail

    now = now or timezone.now()
    grace = now - datetime.timedelta(seconds=settings.CONCORD_NOTIFY_GRACE_SECONDS)
    due = OutboundEmail.objects.filter(
        models.Q(status=M.PENDING, created_at__lte=grace)
        & (models.Q(claimed_at__isnull=True) | models.Q(claimed_at__lte=grace))
        | models.Q(status=M.SENDING, claimed_at__lt=stale_before(now))
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[:10000])
    for mail_id in ids:
        deliver_mail.delay(mail_id)
    return {"queued": len(ids)}
