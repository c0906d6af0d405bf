"""Every e-mail Concord sends goes through an outbox with retries (issue 15, item 7).

A mail server that is down delays an e-mail; it never fails the request that caused it
and never loses the e-mail: once the server is back, the retry delivers it exactly once.
"""

from __future__ import annotations

import datetime
import inspect
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail as django_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import Agency, Membership
from coordination import notifications
from coordination.models import AuditEvent, Notification, OutboundEmail, User
from coordination.notifications import mail
from taskforces import services as tf_services

from ..factories import PASSWORD, person

pytestmark = pytest.mark.usefixtures("module_world")


ROOT = Path(__file__).resolve().parents[2]
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
DOWN = "tests.coordination.test_mail_outbox.MailServerDown"
INVITEE = {"email": "nia.okafor@nfa.example.gov", "first_name": "Nia", "last_name": "Okafor"}


class MailServerDown(BaseEmailBackend):
    """A transport whose server refuses every connection."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError(111, "Connection refused")


def closed_port() -> int:
    """A local port nothing listens on (a mail server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HOUR = datetime.timedelta(hours=1)


def later() -> datetime.datetime:
    return timezone.now() + HOUR


def recover(settings: Any) -> None:
    """The mail server is back; beat's sweepers run (as they would a minute later)."""
    settings.CONCORD_EMAIL_TRANSPORT = LOCMEM
    mail.sweep(now=later())
    notifications.sweep(now=later())


def to(address: str) -> list[Any]:
    return [m for m in django_mail.outbox if address in m.to]


# --- the invitation of the issue, through a real SMTP backend ---------------------------------


def test_an_invitation_while_smtp_is_down_answers_201_and_is_delivered_once_when_it_is_back(
    world: SimpleNamespace, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CONCORD_EMAIL_TRANSPORT = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    django_mail.outbox.clear()
    api = APIClient()
    api.force_authenticate(world.lead_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/memberships/", {**INVITEE, "agency": world.lead.pk}, format="json"
        )

    assert response.status_code == 201, response.content
    queued = OutboundEmail.objects.get(to=[INVITEE["email"]])
    assert queued.status == OutboundEmail.Status.PENDING
    assert queued.attempts == 1
    assert "Connection" in queued.last_error or "refused" in queued.last_error.lower()
    assert to(INVITEE["email"]) == []

    recover(settings)

    sent = to(INVITEE["email"])
    assert len(sent) == 1
    assert re.search(r"http://testserver/welcome/\S+/\S+/", sent[0].body)
    assert sent[0].extra_headers["Message-ID"] == queued.message_id
    queued.refresh_from_db()
    assert queued.status == OutboundEmail.Status.SENT
    # running the retry and the sweeper again sends nothing more
    assert mail.deliver(queued.pk) == "not-mine"
    mail.sweep(now=later())
    assert len(to(INVITEE["email"])) == 1


def test_a_worker_that_died_while_sending_leaves_the_e_mail_to_be_sent_again_with_its_id(
    db: None, settings: Any
) -> None:
    django_mail.outbox.clear()
    row = mail.queue_email(to=["a@example.gov"], subject="Hello", body="Hi")
    # a worker claimed it and died before recording the outcome
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=OutboundEmail.Status.SENDING, claimed_at=timezone.now()
    )
    mail.sweep()  # the claim is fresh: not taken back yet
    assert django_mail.outbox == []
    OutboundEmail.objects.filter(pk=row.pk).update(claimed_at=timezone.now() - HOUR)
    mail.sweep()
    assert [m.extra_headers["Message-ID"] for m in django_mail.outbox] == [row.message_id]


def test_a_rolled_back_change_sends_nothing(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    django_mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        mail.queue_email(to=["a@example.gov"], subject="Hello", body="Hi")
        raise RuntimeError("the change fails")
    assert not OutboundEmail.objects.exists()
    mail.sweep(now=later())
    assert django_mail.outbox == []


# --- every e-mail the portal sends ------------------------------------------------------------


def _invite_page(w: SimpleNamespace) -> str:
    client = Client()
    client.force_login(w.lead_admin)
    response = client.post(
        reverse("agencies:invite", args=[w.lead.pk]), {**INVITEE, "role": "staff"}
    )
    assert response.status_code == 302, response.content
    return INVITEE["email"]


def _invite_api(w: SimpleNamespace) -> str:
    api = APIClient()
    api.force_authenticate(w.lead_admin)
    response = api.post("/api/v1/memberships/", {**INVITEE, "agency": w.lead.pk}, format="json")
    assert response.status_code == 201, response.content
    return INVITEE["email"]


def _invited(w: SimpleNamespace) -> Membership:
    """Someone invited earlier whose e-mail never arrived (its row is marked sent, so only
    the re-sent one counts)."""
    with transaction.atomic():
        membership = agency_services.invite_member(agency=w.lead, by=w.lead_admin, **INVITEE)
    OutboundEmail.objects.update(status=OutboundEmail.Status.SENT)
    return membership


def _resend_page(w: SimpleNamespace) -> str:
    membership = _invited(w)
    client = Client()
    client.force_login(w.lead_admin)
    url = reverse("agencies:membership-resend-invitation", args=[membership.pk])
    response = client.post(url)
    assert response.status_code == 302, response.content
    return INVITEE["email"]


def _resend_api(w: SimpleNamespace) -> str:
    membership = _invited(w)
    api = APIClient()
    api.force_authenticate(w.lead_admin)
    response = api.post(f"/api/v1/memberships/{membership.pk}/resend-invitation/")
    assert response.status_code == 202, response.content
    return INVITEE["email"]


def _password_reset(w: SimpleNamespace) -> str:
    response = Client().post(reverse("account_reset_password"), {"email": w.lead_staff.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    return w.lead_staff.email


def _password_changed_notice(w: SimpleNamespace) -> str:
    someone = person(w.lead)
    client = Client()
    client.force_login(someone)
    new = "a-new-and-long-passphrase-2026"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    return someone.email


def _notification(w: SimpleNamespace) -> str:
    newcomer = person(w.lead)
    with transaction.atomic():
        tf_services.assign_role(role=w.member_role, person=newcomer, assigned_by=w.lead_liaison)
    return newcomer.email


def _external(w: SimpleNamespace) -> str:
    with transaction.atomic():
        agency = agency_services.apply_for_agency(
            name="Coastal Guard",
            level=Agency.Level.NATIONAL,
            sector=Agency.Sector.BORDER,
            contact_email="intake@coast.example.gov",
        )
    with transaction.atomic():
        agency_services.reject_agency(agency=agency, by=w.portal_admin, reason="Not a body.")
    return "intake@coast.example.gov"


def _django_send_mail(w: SimpleNamespace) -> str:
    from django.core.mail import send_mail

    with transaction.atomic():
        send_mail("Any library's e-mail", "Body", None, ["someone@example.gov"])
    return "someone@example.gov"


SENDERS: dict[str, Callable[[SimpleNamespace], str]] = {
    "invitation page": _invite_page,
    "invitation API": _invite_api,
    "re-sent invitation page": _resend_page,
    "re-sent invitation API": _resend_api,
    "password reset (allauth)": _password_reset,
    "password changed notice (allauth)": _password_changed_notice,
    "notification": _notification,
    "applicant's decision (external)": _external,
    "django send_mail (any library)": _django_send_mail,
}


@pytest.fixture
def senders_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Which function handed each message to the transport (the mail server)."""
    seen: list[str] = []
    original = LocmemBackend.send_messages

    def recording(self: LocmemBackend, messages: Any) -> int:
        callers = {(f.frame.f_globals.get("__name__"), f.function) for f in inspect.stack()}
        allowed = {
            ("coordination.notifications.mail", "deliver"),
            ("coordination.notifications", "send_email"),
            ("coordination.notifications", "deliver_external"),
        }
        seen.extend(f"{m}.{f}" for m, f in callers & allowed)
        assert callers & allowed, f"an e-mail reached the mail server directly: {messages}"
        return original(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", recording)
    yield seen


@pytest.mark.parametrize("sender", list(SENDERS), ids=list(SENDERS))
def test_every_e_mail_waits_out_a_mail_server_outage_and_then_goes_exactly_once(
    world: SimpleNamespace,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    senders_seen: list[str],
    sender: str,
) -> None:
    recover(settings)  # what setting up the world queued goes out first
    django_mail.outbox.clear()
    settings.CONCORD_EMAIL_TRANSPORT = DOWN

    with django_capture_on_commit_callbacks(execute=True):
        address = SENDERS[sender](world)  # succeeds (each checks its own answer)

    assert to(address) == []
    unsent = OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT).count()
    unsent += Notification.objects.filter(email_status=Notification.EmailStatus.PENDING).count()
    unsent += (
        notifications.Event.objects.filter(
            kind="agency.decided", external_sent_at__isnull=True
        ).count()
        if sender.endswith("(external)")
        else 0
    )
    assert unsent, "nothing is waiting to be sent"

    recover(settings)
    # the one to expect: the invitation (or reset link, notice, ...) to this address
    assert len(to(address)) == 1, [m.subject for m in to(address)]
    assert senders_seen  # and it left through the outbox's sender
    mail.sweep(now=later())
    notifications.sweep(now=later())
    assert len(to(address)) == 1


# The only modules that may open the mail server: the outbox senders.
SENDING_MODULES = {"coordination/notifications/mail.py", "coordination/notifications/__init__.py"}
# lines that configure the transport rather than send: where, and the line itself
CONFIGURING = {
    # the fan-out benchmark's worker sends notifications to an in-memory backend
    (
        "benchmarks/management/commands/benchmark_fanout.py",
        "settings.CONCORD_EMAIL_TRANSPORT = BACKENDS[email]",
    ),
    # the demo data's own notification e-mails are held in memory, not printed by `make run`
    (
        "taskforces/management/commands/seed_demo.py",
        "with override_settings(EMAIL_BACKEND=locmem, CONCORD_EMAIL_TRANSPORT=locmem):",
    ),
}
DIRECT_SEND = re.compile(
    r"\bsend_mail\(|send_mass_mail\(|mail_admins\(|mail_managers\(|EmailMessage\("
    r"|EmailMultiAlternatives\(|(?<!transaction\.)get_connection\(|smtplib|send_messages\("
    r"|CONCORD_EMAIL_TRANSPORT|\btransport\("
)


def test_no_code_outside_the_outbox_sends_e_mail_itself() -> None:
    """Concord's own code queues e-mail with ``coordination.notifications.mail.queue_email``; a new direct
    send (or a new use of the mail server) anywhere else fails here."""
    offenders = []
    for package in ("coordination", "agencies", "taskforces", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in SENDING_MODULES or "/settings/" in relative:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if DIRECT_SEND.search(line) and (relative, line.strip()) not in CONFIGURING:
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_every_environment_sends_through_the_outbox() -> None:
    from coordination.settings import base, test

    for module in (base, test):
        assert module.EMAIL_BACKEND == mail.OUTBOX_BACKEND, module.__name__
        assert module.CONCORD_EMAIL_TRANSPORT != mail.OUTBOX_BACKEND, module.__name__
    # production needs its environment to load; it sets both from EMAIL_URL the same way
    production = (ROOT / "coordination/settings/production.py").read_text()
    assert f'EMAIL_BACKEND = "{mail.OUTBOX_BACKEND}"' in production
    assert 'CONCORD_EMAIL_TRANSPORT = EMAIL_CONFIG["EMAIL_BACKEND"]' in production


# --- re-sending an invitation -----------------------------------------------------------------


def test_an_agency_admin_re_sends_an_invitation_with_a_fresh_link_and_it_is_audited(
    world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        membership = _invited(world)
    client = Client()
    client.force_login(world.lead_admin)
    people = client.get(reverse("agencies:people", args=[world.lead.pk])).content.decode()
    url = reverse("agencies:membership-resend-invitation", args=[membership.pk])
    assert url in people  # offered for the invitee ...
    for other in Membership.objects.filter(agency=world.lead, user__email__endswith="example.gov"):
        if other.user.has_usable_password():  # ... and not for anyone with a password
            assert reverse("agencies:membership-resend-invitation", args=[other.pk]) not in people

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)

    assert "on its way" in response.content.decode()
    assert len(to(INVITEE["email"])) == 1
    event = AuditEvent.objects.get(action="membership.invitation_resent")
    assert event.actor == world.lead_admin
    assert event.object_id == str(membership.pk)


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("portal_admin", 202),
        ("lead_admin", 202),
        ("lead_liaison", 403),
        ("lead_staff", 403),
        ("partner_liaison", 404),
        ("outsider", 404),
    ],
)
def test_who_may_re_send_an_invitation(world: SimpleNamespace, persona: str, code: int) -> None:
    membership = _invited(world)
    api = APIClient()
    api.force_authenticate(getattr(world, persona))
    response = api.post(f"/api/v1/memberships/{membership.pk}/resend-invitation/")
    assert response.status_code == code, response.content
    resent = AuditEvent.objects.filter(action="membership.invitation_resent")
    assert resent.count() == (1 if code == 202 else 0)
    assert OutboundEmail.objects.exclude(status=OutboundEmail.Status.SENT).count() == resent.count()


def test_an_invitation_is_not_re_sent_to_someone_who_chose_a_password(
    world: SimpleNamespace,
) -> None:
    api = APIClient()
    api.force_authenticate(world.lead_admin)
    membership = Membership.objects.get(user=world.lead_staff)
    response = api.post(f"/api/v1/memberships/{membership.pk}/resend-invitation/")
    assert response.status_code == 400
    assert "already chosen a password" in response.json()["error"]["fields"]["membership"][0]
    assert not OutboundEmail.objects.exists()
    assert not AuditEvent.objects.filter(action="membership.invitation_resent").exists()
    assert User.objects.get(pk=world.lead_staff.pk).has_usable_password()
