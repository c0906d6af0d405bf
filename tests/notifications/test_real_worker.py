"""Notifications through a real broker and real workers: exactly once, or not at all.

Every test here starts a private ``redis-server`` (nothing persisted; never the shared
Redis) and a Celery worker: an embedded one (``start_worker``, threads in this process)
or ``celery -A coordination worker`` as a subprocess sharing the test database and
writing e-mails to files. Data is committed (``transaction=True``) so the worker sees it.

What each test proves, for an update that 2,000 people may see:

* ``test_fan_out_reaches_everyone_once`` — a real worker creates one notification and
  sends one e-mail per person who may see the update, and none to a participating agency
  whose sharing agreement stops below the update's marking, nor to outsiders.
* ``test_worker_killed_mid_fan_out`` — the worker dies (SIGKILL, pool included) with a
  third of the e-mails out; a new worker and the sweeper finish the job: still one
  notification and one e-mail each. The e-mail backend's files are the evidence.
* ``test_broker_restarted_mid_fan_out`` — Redis dies (SIGKILL, queue and unacknowledged
  tasks lost) and comes back; the worker reconnects and the sweeper re-queues what was
  lost: nothing lost, nothing doubled.
* ``test_broker_down_at_commit_loses_nothing`` — Redis is down when the update commits:
  the update and its outbox event are saved; once Redis is back the sweeper dispatches
  the event and everyone is told once. (Today ``post_update`` also raises the broker's
  error to its caller after committing; the test reports that as an expected failure.)
* ``test_rolled_back_update_sends_nothing`` — an update posted in a transaction that
  rolls back leaves no event, no notification, no e-mail, while the same worker delivers
  a committed update posted straight after.
* ``test_access_lost_before_dispatch`` / ``test_access_lost_before_delivery`` — a person
  whose assignment ends after the update was posted but before the worker fanned it out
  gets no notification; one whose assignment ends after the fan-out but before the e-mail
  went gets a withdrawn notification that their notification centre does not show, and
  no e-mail. Everyone else gets theirs.

The at-least-once window: a worker killed after an e-mail left but before it was marked
sent leaves a stale claim, and the sweeper sends that e-mail again with the same
Message-ID. Duplicates are counted by Message-ID; at most one per killed pool process is
tolerated (the width of that window), and each test reports what it saw.

Needs PostgreSQL (DATABASE_URL) and the ``redis-server`` binary; skipped without them,
except on CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from agencies.models import Agency, Membership
from coordination import after_commit, notifications
from coordination.audit.models import AuditEvent
from coordination.celery import app as celery_app
from coordination.models import Event, Notification, User
from coordination.notifications.tasks import dispatch_event
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import RoleAssignment, TaskForce, Update
from taskforces.permissions import audience

from ..conftest import role_named
from ..factories import AgencyFactory, UserFactory, agreement_in_force, person
from .workers import (
    CeleryWorker,
    RedisServer,
    SentEmail,
    celery_via,
    count_written,
    in_process_worker,
    read_emails,
    require_postgres_and_redis,
    subprocess_database_url,
    wait_until,
)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

FAN_OUT = 2000
# Generous: a fan-out of 2,000 takes 15-60 s on two busy cores. A wait that runs out
# fails with what it was waiting for; nothing here waits forever.
FAN_OUT_TIMEOUT = 300
SMALL_TIMEOUT = 120
STALE_SECONDS = 5  # a claim older than this is taken back by the sweeper (tests only)
GRACE_SECONDS = 1
S = Notification.EmailStatus
MESSAGE_ID = re.compile(r"<notification-(\d+)@")


# --- the people ------------------------------------------------------------------------------


@dataclass
class Audience:
    """A task force at TLP:AMBER: the lead agency, a partner cleared to AMBER, and a
    participating agency whose agreement with the lead stops at GREEN."""

    task_force: TaskForce
    lead_liaison: User
    partner_liaison: User
    limited_liaison: User
    # who may see an AMBER update posted by the lead liaison: id -> address
    readers: dict[int, str]
    # role holders of the GREEN-only agency, and staff of an agency outside the task force
    not_readers: dict[int, str]
    liaison_of: dict[int, User] = field(default_factory=dict)


def _bulk_people(agency: Agency, count: int, tag: str) -> list[User]:
    users = User.objects.bulk_create(
        User(
            email=f"{tag}-{i}@{agency.acronym.lower()}.example.gov",
            first_name="Person",
            last_name=f"{agency.acronym} {i}",
            password="!",  # unusable
        )
        for i in range(count)
    )
    Membership.objects.bulk_create(
        Membership(user=user, agency=agency, role=Membership.Role.STAFF) for user in users
    )
    return users


def _bulk_assign(role_group: Group, role_id: int, people: list[User], liaison: User) -> None:
    """What ``services.assign_role`` writes for each person — the assignment row and the
    role's group — in two statements instead of 2,000 service calls.
    Not written: the audit rows and the "assignment.created" events, which would add
    2,000 notifications this test is not about."""
    agency_id = Membership.objects.get(user=liaison, is_active=True).agency_id
    now = timezone.now()
    RoleAssignment.objects.bulk_create(
        RoleAssignment(
            role_id=role_id, person=p, agency_id=agency_id, assigned_by=liaison, starts_at=now
        )
        for p in people
    )
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=p.pk, group_id=role_group.pk) for p in people
    )


def build_audience(readers: int, *, limited: int = 25, outsiders: int = 5) -> Audience:
    """``readers`` people who may see an AMBER update (the lead's and the partner's Members
    and the partner's liaison), ``limited`` Members of the GREEN-only agency and
    ``outsiders`` who may not. Built through the services but for the bulk assignments."""
    UserFactory(is_portal_admin=True)  # a portal administrator exists, as in production
    lead = AgencyFactory(name="National Flood Agency", acronym="NFA")
    partner = AgencyFactory(name="Regional Health Service", acronym="RHS")
    limited_agency = AgencyFactory(name="County Roads Department", acronym="CRD")
    outsider_agency = AgencyFactory(name="City Transport Authority", acronym="CTA")
    lead_liaison = person(lead, Membership.Role.LIAISON, email="liaison@nfa.example.gov")
    partner_liaison = person(partner, Membership.Role.LIAISON, email="liaison@rhs.example.gov")
    limited_liaison = person(
        limited_agency, Membership.Role.LIAISON, email="liaison@crd.example.gov"
    )
    for other, marking in ((partner, Marking.AMBER), (limited_agency, Marking.GREEN)):
        agreement_in_force(
            title=f"NFA–{other.acronym}",
            parties=[lead, other],
            max_marking=marking,
            valid_from=timezone.localdate(),
        )
    task_force = services.form_task_force(
        name="River Severn flood response", mandate="Protect life and property.", by=lead_liaison
    )
    for agency, liaison in ((partner, partner_liaison), (limited_agency, limited_liaison)):
        participation = services.invite_agency(
            task_force=task_force, agency=agency, by=lead_liaison
        )
        services.respond_to_invitation(participation=participation, accept=True, by=liaison)
    member = role_named(task_force, "member")

    lead_people = _bulk_people(lead, readers // 2, "member")
    partner_people = _bulk_people(partner, readers - 1 - len(lead_people), "member")
    limited_people = _bulk_people(limited_agency, limited, "member")
    outsider_people = _bulk_people(outsider_agency, outsiders, "staff")
    liaison_of = {}
    for people, liaison in (
        (lead_people, lead_liaison),
        (partner_people, partner_liaison),
        (limited_people, limited_liaison),
    ):
        _bulk_assign(member.group, member.pk, people, liaison)
        liaison_of.update({p.pk: liaison for p in people})

    reading = [*lead_people, *partner_people, partner_liaison]
    not_reading = [*limited_people, limited_liaison, *outsider_people]
    built = Audience(
        task_force=task_force,
        lead_liaison=lead_liaison,
        partner_liaison=partner_liaison,
        limited_liaison=limited_liaison,
        readers={p.pk: p.email for p in reading},
        not_readers={p.pk: p.email for p in not_reading},
        liaison_of=liaison_of,
    )
    assert len(built.readers) == readers
    return built


def post(aud: Audience, title: str = "Levels rising at Bewdley") -> tuple[Update, Event]:
    """The lead liaison posts an AMBER update (committed on return: ``post_update`` is
    atomic and the test runs in autocommit); its event is queued after the commit."""
    update = services.post_update(
        task_force=aud.task_force,
        title=title,
        body="The river is expected to peak tonight.",
        marking=Marking.AMBER,
        by=aud.lead_liaison,
    )
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    # the fixture's idea of who may see it is the permission core's
    assert set(audience(update).exclude(pk=aud.lead_liaison.pk).values_list("pk", flat=True)) == (
        set(aud.readers)
    ), "build_audience and the permission core disagree"
    return update, event


# --- checking --------------------------------------------------------------------------------


def statuses(event: Event) -> Counter[str]:
    return Counter(Notification.objects.filter(event=event).values_list("email_status", flat=True))


def settled(event: Event, expected: int) -> bool:
    """All ``expected`` notifications exist and none is waiting or being sent."""
    counts = statuses(event)
    return (
        sum(counts.values()) == expected
        and not counts[S.PENDING]
        and not counts[S.SENDING]
        and not Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).exists()
    )


@dataclass
class Outcome:
    copies: int  # e-mails about the event, duplicates included
    duplicated: dict[str, list[str]]  # Message-ID -> the files its copies are in

    @property
    def duplicates(self) -> int:
        """Copies beyond the first of the same Message-ID."""
        return sum(len(files) - 1 for files in self.duplicated.values())

    def __str__(self) -> str:
        text = f"{self.copies} e-mails, {self.duplicates} duplicate(s) by Message-ID"
        return text + (f": {self.duplicated}" if self.duplicated else "")


def assert_exactly_once(
    event: Event, readers: dict[int, str], not_readers: dict[int, str], sent: list[SentEmail]
) -> Outcome:
    """One notification per reader, none for anyone else; exactly one distinct e-mail
    (by Message-ID) per reader; at most a few resent copies of the same message."""
    rows = list(
        Notification.objects.filter(event=event).values_list("pk", "recipient_id", "email_status")
    )
    per_recipient = Counter(recipient for _, recipient, _ in rows)
    assert set(per_recipient) == set(readers), (
        f"{len(set(readers) - set(per_recipient))} reader(s) without a notification, "
        f"{len(set(per_recipient) - set(readers))} notification(s) for someone else"
    )
    assert max(per_recipient.values()) == 1
    assert Counter(status for *_, status in rows) == {S.SENT: len(readers)}

    address_of = {pk: readers[recipient] for pk, recipient, _ in rows}
    about_event = []
    for message in sent:
        match = MESSAGE_ID.search(message.message_id)
        if match and int(match.group(1)) in address_of:
            about_event.append(message)
            assert message.to == address_of[int(match.group(1))], (
                f"{message.message_id} went to {message.to}"
            )
    distinct = {m.message_id for m in about_event}
    per_address = Counter(
        address_of[int(MESSAGE_ID.search(mid).group(1))]  # type: ignore[union-attr]
        for mid in distinct
    )
    missing = set(readers.values()) - set(per_address)
    assert not missing, f"{len(missing)} reader(s) got no e-mail, e.g. {sorted(missing)[:3]}"
    assert set(per_address.values()) == {1}
    title = Update.objects.get(pk=event.object_id).title
    leaked = {m.to for m in sent if title in m.subject} & set(not_readers.values())
    assert not leaked, f"e-mailed people who may not see the update: {sorted(leaked)[:5]}"
    files: dict[str, list[str]] = {}
    for message in about_event:
        files.setdefault(message.message_id, []).append(message.file)
    return Outcome(
        copies=len(about_event),
        duplicated={mid: where for mid, where in files.items() if len(where) > 1},
    )


# --- the laboratory: a private broker, workers, e-mail files ----------------------------------


@dataclass
class Lab:
    redis: RedisServer
    database_url: str
    workdir: Path
    mail_dir: Path
    workers: list[CeleryWorker] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)

    def publish_here(self) -> None:
        """From now on this process's tasks go to the private broker (no eager mode)."""
        self.stack.enter_context(celery_via(self.redis.url))

    def worker(self, name: str) -> CeleryWorker:
        worker = CeleryWorker(
            broker_url=self.redis.url,
            database_url=self.database_url,
            email_dir=self.mail_dir / name,  # which worker wrote what
            workdir=self.workdir,
            stale_seconds=STALE_SECONDS,
            grace_seconds=GRACE_SECONDS,
            name=name,
        )
        self.workers.append(worker)
        return worker

    def finish(
        self, event: Event, expected: int, worker: CeleryWorker, timeout: float = FAN_OUT_TIMEOUT
    ) -> list[dict[str, int]]:
        """Let the worker drain the queue; whenever it is empty but the event is not
        settled, run the sweeper (as Celery beat would every minute; here every second).
        Returns what each sweep re-queued."""
        sweeps: list[dict[str, int]] = []
        deadline = time.monotonic() + timeout
        while not settled(event, expected):
            worker.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Not settled after {timeout:.0f}s: {dict(statuses(event))}, "
                    f"{self.redis.queued()} task(s) queued. Worker log:\n{worker.tail()}"
                )
            if self.redis.queued() == 0:
                found = notifications.sweep()
                if any(found.values()):
                    sweeps.append(found)
                time.sleep(1)
            else:
                time.sleep(0.2)
        return sweeps


@pytest.fixture
def lab(transactional_db, tmp_path: Path, settings) -> Iterator[Lab]:
    """Set up after the database (so torn down before its flush): workers are stopped
    before the tables are emptied under them."""
    redis_server = require_postgres_and_redis()
    # the sweeper runs in this process: the same short windows as the workers'
    settings.CONCORD_NOTIFY_STALE_SECONDS = STALE_SECONDS
    settings.CONCORD_NOTIFY_GRACE_SECONDS = GRACE_SECONDS
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    lab = Lab(
        redis=RedisServer(redis_server, tmp_path).start(),
        database_url=subprocess_database_url(),
        workdir=tmp_path,
        mail_dir=mail_dir,
    )
    try:
        yield lab
    finally:
        for worker in lab.workers:
            worker.kill()
        lab.stack.close()
        lab.redis.stop()


def took(start: float) -> str:
    return f"{time.monotonic() - start:.1f}s"


# --- the tests ---------------------------------------------------------------------------------


def test_fan_out_reaches_everyone_once(lab: Lab) -> None:
    aud = build_audience(FAN_OUT)
    lab.publish_here()
    mail.outbox.clear()
    with in_process_worker(celery_app):
        start = time.monotonic()
        update, event = post(aud)
        wait_until(
            lambda: settled(event, FAN_OUT),
            timeout=FAN_OUT_TIMEOUT,
            interval=0.2,
            what=f"{FAN_OUT} notifications sent by the in-process worker ({dict(statuses(event))})",
        )
        print(f"\nin-process fan-out to {FAN_OUT}: {took(start)}")
    sent = [
        SentEmail(m.to[0], m.extra_headers["Message-ID"], str(m.subject), "locmem")
        for m in mail.outbox
    ]
    outcome = assert_exactly_once(event, aud.readers, aud.not_readers, sent)
    assert outcome.duplicates == 0, outcome
    assert all(update.title in m.subject for m in sent if MESSAGE_ID.search(m.message_id))


def test_worker_killed_mid_fan_out(lab: Lab) -> None:
    aud = build_audience(FAN_OUT)
    lab.publish_here()
    first = lab.worker("first").start()
    start = time.monotonic()
    _, event = post(aud)
    wait_until(
        lambda: count_written(lab.mail_dir) >= FAN_OUT // 3,
        timeout=FAN_OUT_TIMEOUT,
        what=f"the first worker to write {FAN_OUT // 3} e-mails",
        check=first.check_alive,
    )
    first.kill()
    at_kill = (count_written(lab.mail_dir), dict(statuses(event)))
    print(f"\nkilled after {took(start)}: {at_kill[0]} e-mails written, statuses {at_kill[1]}")

    second = lab.worker("second").start()
    sweeps = lab.finish(event, FAN_OUT, second)
    second.stop()
    print(f"settled after {took(start)}; sweeps: {sweeps}")
    outcome = assert_exactly_once(event, aud.readers, aud.not_readers, read_emails(lab.mail_dir))
    print(f"outcome: {outcome}")
    # at most one message per killed pool process can have left unrecorded
    assert outcome.duplicates <= first.concurrency, outcome


def test_broker_restarted_mid_fan_out(lab: Lab) -> None:
    aud = build_audience(FAN_OUT)
    lab.publish_here()
    worker = lab.worker("survivor").start()
    start = time.monotonic()
    _, event = post(aud)
    wait_until(
        lambda: count_written(lab.mail_dir) >= FAN_OUT // 4,
        timeout=FAN_OUT_TIMEOUT,
        what=f"the worker to write {FAN_OUT // 4} e-mails",
        check=worker.check_alive,
    )
    lab.redis.kill()
    at_kill = (count_written(lab.mail_dir), dict(statuses(event)))
    time.sleep(1)  # the worker notices; the tasks in Redis are gone
    lab.redis.start()
    print(f"\nRedis killed after {took(start)} at {at_kill[0]} e-mails, {at_kill[1]}; restarted")
    sweeps = lab.finish(event, FAN_OUT, worker)
    worker.stop()
    print(f"settled after {took(start)}; sweeps: {sweeps}")
    outcome = assert_exactly_once(event, aud.readers, aud.not_readers, read_emails(lab.mail_dir))
    print(f"outcome: {outcome}")
    assert outcome.duplicates == 0, outcome


@pytest.mark.parametrize("in_a_request", [False, True], ids=["alone", "in-a-request"])
def test_broker_down_at_commit_loses_nothing(lab: Lab, in_a_request: bool) -> None:
    """At the commit, or, in a web request, when it ends (``coordination.after_commit``)."""
    aud = build_audience(20)
    lab.publish_here()
    lab.redis.kill()
    title = "Posted while the broker was down"
    failure = None
    try:
        with after_commit.one_message() if in_a_request else contextlib.nullcontext():
            services.post_update(
                task_force=aud.task_force,
                title=title,
                body="Levels rising.",
                marking=Marking.AMBER,
                by=aud.lead_liaison,
            )
    except KombuOperationalError as error:  # raised by the after-commit publish
        failure = error
    update = Update.objects.get(title=title)  # committed all the same
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    assert event.dispatched_at is None

    lab.redis.start()
    worker = lab.worker("w").start()
    sweeps = lab.finish(event, len(aud.readers), worker)
    worker.stop()
    assert sweeps and sweeps[0]["events"] == 1, sweeps
    outcome = assert_exactly_once(event, aud.readers, aud.not_readers, read_emails(lab.mail_dir))
    assert outcome.duplicates == 0, outcome
    # the change was saved and its maker got no error: the sweeper dispatched it later
    assert failure is None, failure


def test_a_request_sends_its_work_in_one_message(lab: Lab) -> None:
    """What a web request's commits leave goes to the broker in one message when the
    request ends (``coordination.after_commit``, as its middleware does); a real worker
    does every part of it: the event reaches everyone once and the audit trail is
    sealed, with no sweep to help."""
    aud = build_audience(20)
    lab.publish_here()
    with after_commit.one_message():
        update, event = post(aud)
        assert lab.redis.queued() == 0, "a message went before the request ended"
    assert lab.redis.queued_tasks() == [
        (
            "coordination.after_commit.run",
            [
                [
                    ["coordination.audit.request_seal", []],
                    ["coordination.tasks.dispatch_event", [event.pk]],
                ]
            ],
        )
    ]
    posted = AuditEvent.objects.get(action="update.posted", object_id=str(update.pk))
    assert posted.seq is None
    worker = lab.worker("w").start()
    wait_until(
        lambda: settled(event, len(aud.readers)),
        timeout=FAN_OUT_TIMEOUT,
        interval=0.2,
        what=f"the worker to notify {len(aud.readers)} readers ({dict(statuses(event))})",
        check=worker.check_alive,
    )
    wait_until(
        lambda: AuditEvent.objects.filter(pk=posted.pk, seq__isnull=False).exists(),
        timeout=30,
        what="the worker to seal the update's audit event",
        check=worker.check_alive,
    )
    worker.stop()
    outcome = assert_exactly_once(event, aud.readers, aud.not_readers, read_emails(lab.mail_dir))
    assert outcome.duplicates == 0, outcome


def test_rolled_back_update_sends_nothing(lab: Lab) -> None:
    aud = build_audience(20)
    lab.publish_here()
    worker = lab.worker("w").start()
    events_before = Event.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_update(
            task_force=aud.task_force,
            title="Posted then rolled back",
            body="Never happened.",
            marking=Marking.AMBER,
            by=aud.lead_liaison,
        )
        raise RuntimeError("the rest of the request failed")

    assert not Update.objects.filter(title="Posted then rolled back").exists()
    assert Event.objects.count() == events_before
    # the same worker delivers a committed update posted after it: had anything of the
    # rolled-back one been queued, it would have been handled first
    _, control = post(aud, title="Committed control")
    wait_until(
        lambda: settled(control, len(aud.readers)),
        timeout=SMALL_TIMEOUT,
        what=f"the control update's e-mails ({dict(statuses(control))})",
        check=worker.check_alive,
    )
    time.sleep(1)  # and a little longer, for anything late
    worker.stop()
    sent = read_emails(lab.mail_dir)
    assert not [m for m in sent if "rolled back" in m.subject]
    assert Event.objects.count() == events_before + 1
    assert (
        Notification.objects.exclude(event=control)
        .filter(created_at__gte=control.created_at)
        .count()
        == 0
    )
    assert_exactly_once(control, aud.readers, aud.not_readers, sent)


def _end(aud: Audience, person_id: int) -> None:
    assignment = RoleAssignment.objects.get(person_id=person_id, ended_at__isnull=True)
    services.end_assignment(
        assignment=assignment, by=aud.liaison_of[person_id], reason="Moved to another incident."
    )


def ended_e_mail_sent(leaver: int) -> bool:
    """The leaver's "role has ended" notification (its own event) has been e-mailed."""
    return Notification.objects.filter(
        kind="assignment.ended", recipient_id=leaver, email_status=S.SENT
    ).exists()


def test_access_lost_before_dispatch(lab: Lab) -> None:
    aud = build_audience(30)
    lab.publish_here()
    _, event = post(aud)  # no worker yet: the event waits in the queue
    assert Event.objects.filter(pk=event.pk, dispatched_at__isnull=True).exists()
    leaver = next(pk for pk in aud.readers if pk in aud.liaison_of)
    _end(aud, leaver)

    worker = lab.worker("late").start()
    stayers = {pk: a for pk, a in aud.readers.items() if pk != leaver}
    wait_until(
        lambda: settled(event, len(stayers)),
        timeout=SMALL_TIMEOUT,
        what=f"the update's e-mails ({dict(statuses(event))})",
        check=worker.check_alive,
    )
    wait_until(
        lambda: ended_e_mail_sent(leaver),
        timeout=SMALL_TIMEOUT,
        what="the leaver's role-ended e-mail",
        check=worker.check_alive,
    )
    worker.stop()
    sent = read_emails(lab.mail_dir)
    assert not Notification.objects.filter(event=event, recipient_id=leaver).exists()
    assert_exactly_once(event, stayers, {leaver: aud.readers[leaver], **aud.not_readers}, sent)
    # the leaver was e-mailed only that their role ended
    to_leaver = [m.subject for m in sent if m.to == aud.readers[leaver]]
    assert len(to_leaver) == 1 and "has ended" in to_leaver[0], to_leaver


def test_access_lost_before_delivery(lab: Lab) -> None:
    aud = build_audience(30)
    lab.publish_here()
    _, event = post(aud)
    # a worker fans the event out and dies before sending any e-mail: played here by
    # running the dispatch task in this process; its delivery tasks wait in the queue
    dispatch_event.apply(args=[event.pk])
    assert statuses(event) == {S.PENDING: len(aud.readers)}
    leaver = next(pk for pk in aud.readers if pk in aud.liaison_of)
    _end(aud, leaver)

    worker = lab.worker("late").start()
    wait_until(
        lambda: settled(event, len(aud.readers)),
        timeout=SMALL_TIMEOUT,
        what=f"the update's e-mails ({dict(statuses(event))})",
        check=worker.check_alive,
    )
    wait_until(
        lambda: ended_e_mail_sent(leaver),
        timeout=SMALL_TIMEOUT,
        what="the leaver's role-ended e-mail",
        check=worker.check_alive,
    )
    worker.stop()
    withdrawn = Notification.objects.get(event=event, recipient_id=leaver)
    assert withdrawn.email_status == S.WITHDRAWN
    assert withdrawn.emailed_at is None
    leaver_user = User.objects.get(pk=leaver)
    assert not notifications.visible_notifications(leaver_user).filter(event=event).exists()
    sent = read_emails(lab.mail_dir)
    to_leaver = [m.subject for m in sent if m.to == aud.readers[leaver]]
    assert len(to_leaver) == 1 and "has ended" in to_leaver[0], to_leaver
    stayers = {pk: a for pk, a in aud.readers.items() if pk != leaver}
    others = Notification.objects.filter(event=event).exclude(recipient_id=leaver)
    assert Counter(others.values_list("email_status", flat=True)) == {S.SENT: len(stayers)}
    got = Counter(m.to for m in sent if "Update in" in m.subject)
    assert got == Counter(stayers.values())
