"""An e-mail keeps its identity: a bundle (a held burst or a daily digest) interrupted by a
worker that died while sending it is sent again as the same bundle with the same
Message-ID, never broken up into single notifications. And every Message-ID the outbox
makes is a valid RFC 5322 msg-id, whole under a strict parser, whatever the site's
address (``CONCORD_BASE_URL``)."""

from __future__ import annotations

import datetime
import email
import email.policy
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import override_settings
from django.utils import timezone

from agencies import services as agency_services
from coordination import notifications
from coordination.models import Event, Notification
from coordination.permissions.markings import Marking
from taskforces import services

pytestmark = pytest.mark.usefixtures("module_world")


N = Notification.EmailStatus


@pytest.fixture
def start() -> datetime.datetime:
    """A moment ahead of the world the fixtures build (its roles start now), taken when
    the test runs: a moment taken when the module was imported is in the past for a test
    that runs minutes after collection."""
    return timezone.now().replace(microsecond=0) + datetime.timedelta(minutes=5)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


class WorkerDied(BaseException):
    """The worker process ended (killed, out of memory) right after the mail server took
    the message: nothing after the send runs, no handler sees it."""


class DyingBackend(EmailBackend):
    """Hands the messages over (to ``mail.outbox``), then the worker dies."""

    def send_messages(self, messages):
        super().send_messages(messages)
        raise WorkerDied


def post(world: SimpleNamespace, committed, title: str) -> None:
    committed(
        lambda: services.post_update(
            task_force=world.tf, title=title, body="x", marking=Marking.GREEN, by=world.lead_liaison
        )
    )


def held_burst(world: SimpleNamespace, committed) -> Callable[[], int]:
    """Four updates at once: the first e-mailed, three held for one bundle."""
    for i in range(4):
        post(world, committed, f"Burst {i}")
    return notifications.flush_held


def digest(world: SimpleNamespace, committed) -> Callable[[], int]:
    notifications.set_preferences(user=world.lead_staff, choices={"update.posted": "digest"})
    for title in ("Morning report", "Noon report"):
        post(world, committed, title)
    return notifications.send_digests


BUNDLES = {"held burst": held_burst, "daily digest": digest}


def message_id(message: mail.EmailMessage) -> str:
    return str(message.extra_headers["Message-ID"])


def to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to]


def die_while_sending(send: Callable[[], int], at: datetime.datetime) -> mail.EmailMessage:
    """Run ``send`` with a worker that dies right after its first e-mail left; returns it."""
    mail.outbox.clear()
    with (
        time_machine.travel(at, tick=False),
        override_settings(CONCORD_EMAIL_TRANSPORT=f"{__name__}.DyingBackend"),
        pytest.raises(WorkerDied),
    ):
        send()
    (first,) = mail.outbox
    return first


def beat(at: datetime.datetime) -> None:
    """What Celery beat runs on: the sweeper, the minute's flush, the day's digest."""
    with time_machine.travel(at, tick=False):
        notifications.sweep()
        notifications.flush_held()
        notifications.send_digests()


@pytest.mark.parametrize("bundle", sorted(BUNDLES))
def test_a_bundle_interrupted_by_a_dead_worker_goes_out_again_as_the_same_e_mail(
    bundle: str, world: SimpleNamespace, committed, start: datetime.datetime
) -> None:
    make = BUNDLES[bundle]
    with time_machine.travel(start, tick=False):
        send = make(world, committed)
    later = start + datetime.timedelta(minutes=settings.CONCORD_NOTIFY_THROTTLE_MINUTES + 1)
    first = die_while_sending(send, later)
    (address,) = first.to
    claimed = set(
        Notification.objects.filter(email_status=N.SENDING, recipient__email=address).values_list(
            "pk", flat=True
        )
    )
    assert len(claimed) >= 2  # a bundle, not one notification

    stale = later + datetime.timedelta(seconds=settings.CONCORD_NOTIFY_STALE_SECONDS + 1)
    beat(stale)
    beat(stale + datetime.timedelta(days=1))

    # (the sweeper also dispatches what the fixtures' world left undispatched: other e-mails)
    first_try, again = [m for m in to(address) if message_id(m) == message_id(first)]
    assert again is not first_try
    assert again.subject == first.subject and again.body == first.body
    alone = {message_id(m) for m in to(address)} & {
        notifications.message_id_header(f"notification-{pk}") for pk in claimed
    }
    assert not alone, "a notification of the bundle was sent again on its own"
    statuses = Notification.objects.filter(pk__in=claimed).values_list("email_status", flat=True)
    assert set(statuses) == {N.SENT}


def test_new_notifications_after_an_interrupted_bundle_make_a_bundle_of_their_own(
    world: SimpleNamespace, committed, start: datetime.datetime
) -> None:
    with time_machine.travel(start, tick=False):
        held_burst(world, committed)
    later = start + datetime.timedelta(minutes=settings.CONCORD_NOTIFY_THROTTLE_MINUTES + 1)
    first = die_while_sending(notifications.flush_held, later)
    (address,) = first.to
    with time_machine.travel(later + datetime.timedelta(seconds=1), tick=False):
        for i in range(2):
            post(world, committed, f"Second burst {i}")  # within the window: held
    beat(later + datetime.timedelta(minutes=settings.CONCORD_NOTIFY_THROTTLE_MINUTES + 1))
    sent = to(address)[1:]
    (resent,) = [m for m in sent if message_id(m) == message_id(first)]
    assert resent.body == first.body
    assert "Second burst" not in resent.body
    assert any("Second burst" in m.body for m in sent if m is not resent)


# --- every Message-ID parses strictly --------------------------------------------------------


def every_kind_of_outbox_email(
    world: SimpleNamespace, committed, start: datetime.datetime
) -> set[str]:
    """Make the outbox send each kind of e-mail it has: a notification alone, a held
    burst, a daily digest, and the e-mail to an address outside Concord. Returns the kinds
    seen (by Message-ID), so the test knows none is missing."""
    mail.outbox.clear()
    with time_machine.travel(start, tick=False):
        held_burst(world, committed)  # one alone, three held
        notifications.set_preferences(user=world.partner_staff, choices={"update.posted": "digest"})
        post(world, committed, "For the digest")
        agency = committed(
            lambda: agency_services.apply_for_agency(
                name="Harbour Authority",
                level="local",
                sector="transport",
                contact_email="apply@harbour.example",
            )
        )
        committed(lambda: agency_services.begin_review(agency=agency, by=world.portal_admin))
        committed(
            lambda: agency_services.reject_agency(
                agency=agency, by=world.portal_admin, reason="Not a public body"
            )
        )
    with time_machine.travel(start + datetime.timedelta(hours=1), tick=False):
        assert notifications.flush_held() >= 1
        assert notifications.send_digests() >= 1
    assert Event.objects.filter(external_sent_at__isnull=False).exists()
    return {message_id(m).lstrip("<").split("-", 1)[0] for m in mail.outbox}


@pytest.mark.parametrize(
    "base_url",
    [
        "https://concord.example.gov",
        "http://127.0.0.1:8000",
        "https://portal.example.gov:8443/concord/",
        "http://[::1]:8000",
        "http://localhost",
    ],
)
def test_every_message_id_the_outbox_makes_parses_whole_under_a_strict_parser(
    base_url: str, world: SimpleNamespace, committed, start: datetime.datetime
) -> None:
    with override_settings(CONCORD_BASE_URL=base_url):
        kinds = every_kind_of_outbox_email(world, committed, start)
    assert {"notification", "bundle", "digest", "event"} <= kinds, kinds
    for sent in mail.outbox:
        parsed = email.message_from_bytes(sent.message().as_bytes(), policy=email.policy.strict)
        header = parsed["Message-ID"]
        assert not header.defects, (message_id(sent), header.defects)
        assert str(header) == message_id(sent)


def test_no_two_e_mails_share_a_message_id(
    world: SimpleNamespace, committed, start: datetime.datetime
) -> None:
    every_kind_of_outbox_email(world, committed, start)
    ids = [message_id(m) for m in mail.outbox]
    assert len(ids) == len(set(ids))
