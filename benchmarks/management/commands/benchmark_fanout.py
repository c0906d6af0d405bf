"""How fast one update reaches everyone, beside how fast Celery moves a task that does nothing.

    REDIS_URL=redis://127.0.0.1:6379/5 DATABASE_URL=postgres://… \\
        python manage.py benchmark_fanout --recipients 10000 [--keep]

1. Scratch data, in bulk, every name starting "bench-<run>": a lead agency and a partner
   cleared to TLP:AMBER by a sharing agreement, a task force at AMBER, and as many people
   as ``--recipients`` asks holding its Member role (the rows ``assign_role`` writes —
   assignment and role group — written in bulk; no audit rows or assignment events).
2. A Celery worker subprocess (prefork, ``--concurrency`` processes, 2 by default)
   consuming a queue of this run's own on the REDIS_URL broker, with Django's locmem
   e-mail backend: every message is built in full (MIME, headers) and kept in the
   worker's memory — no SMTP server and no disk in the measurement. ``--email dummy``
   uses the dummy backend instead (messages are not even built).
3. (a) Fan-out: the lead's liaison officer posts an update through
   ``taskforces.services.post_update``, timed from its commit until every recipient's
   notification exists and its e-mail is marked sent.
4. (b) Celery alone: ``--noop-tasks`` tasks of ``coordination.celery.noop`` (as many as
   recipients by default) through the same broker, queue and worker, timed from the first
   publish until the queue is empty and every task acknowledged.
5. Prints both and their ratio, then removes the scratch data it may (unless ``--keep``):
   the audit trail keeps its people, who are deactivated.

Works on SQLite too (the worker shares the file), though PostgreSQL is what production
runs. The command lives in the development-only ``benchmarks`` app with the other scale
tools (installed by the benchmark and test settings only).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from coordination.models import Event, Notification, User

BACKENDS = {
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
S = Notification.EmailStatus


@dataclass
class Scratch:
    prefix: str
    task_force: Any
    author: User
    recipients: int


@dataclass
class Timing:
    seconds: float
    count: int
    details: dict[str, Any]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")

    @property
    def ms_each(self) -> float:
        return 1000 * self.seconds / self.count if self.count else 0.0


class Command(BaseCommand):
    help = (
        "Fan one update out to N people through Redis and a real Celery worker, and compare "
        "with Celery's own no-op task throughput measured in the same run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recipients", type=int, default=10_000)
        parser.add_argument(
            "--noop-tasks", type=int, default=None, help="No-op tasks to time (default: N)."
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Worker processes.")
        parser.add_argument("--email", choices=sorted(BACKENDS), default="locmem")
        parser.add_argument("--timeout", type=float, default=1800, help="Seconds per phase.")
        parser.add_argument("--keep", action="store_true", help="Keep the scratch data.")
        # the worker subprocess runs this command again in this mode
        parser.add_argument("--serve-worker", metavar="QUEUE", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["serve_worker"]:
            serve_worker(options["serve_worker"], options["concurrency"], options["email"])
            return
        broker = getattr(settings, "REDIS_URL", "") or os.environ.get("REDIS_URL", "")
        if not broker.startswith(("redis://", "rediss://")):
            raise CommandError("Set REDIS_URL: the benchmark measures the Redis broker.")
        recipients = options["recipients"]
        if recipients < 2:
            raise CommandError("--recipients must be at least 2.")
        noops = options["noop_tasks"] or recipients
        run = uuid.uuid4().hex[:8]
        queue = f"bench-{run}"
        # from here on this process publishes to the run's queue, so even the setup's own
        # few events (invitation, acceptance) go to the worker, handled before timing starts
        bench = Bench(
            broker=broker,
            queue=queue,
            concurrency=options["concurrency"],
            email=options["email"],
            timeout=options["timeout"],
        )
        try:
            self.stdout.write(f"Run {run}: building {recipients:,} people …")
            started = time.monotonic()
            scratch = build_scratch(f"bench-{run}", recipients)
            built = time.monotonic() - started
            bench.start_worker()
            bench.warm_up()
            self.stdout.write("Fan-out …")
            fan_out = bench.fan_out(scratch)
            self.stdout.write(f"{noops:,} no-op tasks …")
            noop = bench.noops(noops)
        finally:
            bench.stop_worker()
            if options["keep"]:
                self.stdout.write(f"Kept the scratch data (names start with bench-{run}).")
            else:
                cleanup(f"bench-{run}")
        self.stdout.write(report(scratch, bench, built, fan_out, noop))


# --- scratch data ----------------------------------------------------------------------------


def build_scratch(prefix: str, recipients: int) -> Scratch:
    from agencies import services as agency_services
    from agencies.models import Agency, Membership
    from coordination.permissions.markings import Marking
    from taskforces import services
    from taskforces.models import Role, RoleAssignment

    User.objects.create_user(email=f"{prefix}-admin@bench.example", is_portal_admin=True)

    def agency(label: str) -> tuple[Agency, User]:
        body = Agency.objects.create(
            name=f"{prefix} {label}",
            acronym=label[:20],
            level=Agency.Level.NATIONAL,
            sector=Agency.Sector.EMERGENCY_MANAGEMENT,
            contact_email=f"{prefix}-{label.lower()}@bench.example",
            status=Agency.Status.ACTIVE,
        )
        liaison = User.objects.create_user(email=f"{prefix}-{label.lower()}-liaison@bench.example")
        Membership.objects.create(user=liaison, agency=body, role=Membership.Role.LIAISON)
        return body, liaison

    lead, lead_liaison = agency("Lead")
    partner, partner_liaison = agency("Partner")
    proposal = agency_services.propose_agreement(
        title=f"{prefix} agreement",
        parties=[lead, partner],
        max_marking=Marking.AMBER,
        valid_from=timezone.localdate(),
        by=lead_liaison,
    )
    agency_services.accept_agreement(agreement=proposal, by=partner_liaison)
    task_force = services.form_task_force(
        name=f"{prefix} task force", mandate="Benchmark scratch data.", by=lead_liaison
    )
    participation = services.invite_agency(task_force=task_force, agency=partner, by=lead_liaison)
    services.respond_to_invitation(participation=participation, accept=True, by=partner_liaison)
    member = Role.objects.get(task_force=task_force, template__slug="member")

    # the partner's liaison officer is a recipient too; the author is not
    people = recipients - 1
    now = timezone.now()
    for body, liaison, count in (
        (lead, lead_liaison, people // 2),
        (partner, partner_liaison, people - people // 2),
    ):
        with transaction.atomic():
            users = User.objects.bulk_create(
                (
                    User(
                        email=f"{prefix}-{body.acronym.lower()}-{i}@bench.example",
                        first_name="Bench",
                        last_name=f"{body.acronym} {i}",
                        password=UNUSABLE_PASSWORD_PREFIX,
                    )
                    for i in range(count)
                ),
                batch_size=1000,
            )
            Membership.objects.bulk_create(
                (Membership(user=u, agency=body) for u in users), batch_size=1000
            )
            RoleAssignment.objects.bulk_create(
                (
                    RoleAssignment(
                        role=member, person=u, agency=body, assigned_by=liaison, starts_at=now
                    )
                    for u in users
                ),
                batch_size=1000,
            )
            User.groups.through.objects.bulk_create(
                (User.groups.through(user_id=u.pk, group_id=member.group_id) for u in users),
                batch_size=1000,
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics, as production would have
            cursor.execute("ANALYZE")
    return Scratch(prefix=prefix, task_force=task_force, author=lead_liaison, recipients=recipients)


def cleanup(prefix: str) -> None:
    """Remove what the run made, as far as the append-only audit trail allows: the task
    force, its groups, agreements and notification events go; the scratch people, whom
    the audit trail names, are deactivated and their agencies offboarded (scratch data,
    changed directly). Run the benchmark on a scratch database to leave nothing behind."""
    from agencies.models import Agency, SharingAgreement
    from taskforces.models import Role, TaskForce

    people = User.objects.filter(email__startswith=f"{prefix}-")
    with transaction.atomic():
        Event.objects.filter(actor__in=people).delete()  # notifications go with them
        task_forces = TaskForce.objects.filter(name__startswith=prefix)
        groups = list(Role.objects.filter(task_force__in=task_forces).values_list("group_id"))
        task_forces.delete()
        Group.objects.filter(pk__in=[g for (g,) in groups]).delete()
        SharingAgreement.objects.filter(title__startswith=prefix).delete()
        people.update(is_active=False)
        Agency.objects.filter(name__startswith=prefix).update(status=Agency.Status.OFFBOARDED)


# --- the worker and the measurements ------------------------------------------------------------


def serve_worker(queue: str, concurrency: int, email: str) -> None:
    """The worker subprocess: this run's queue only, e-mail kept in memory (or dropped)."""
    from coordination.celery import app

    # notifications are sent through the mail transport (coordination.notifications.mail.transport)
    settings.CONCORD_EMAIL_TRANSPORT = BACKENDS[email]
    app.conf.update(task_always_eager=False, task_default_queue=queue)
    app.worker_main(
        [
            "worker",
            "--queues",
            queue,
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "warning",
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


@dataclass
class Bench:
    broker: str
    queue: str
    concurrency: int
    email: str
    timeout: float
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def __post_init__(self) -> None:
        import redis

        from coordination.celery import app

        # this process publishes to the same broker and queue, for real
        app.conf.update(broker_url=self.broker, task_always_eager=False)
        app.conf.task_default_queue = self.queue
        self.app = app
        self.redis = redis.Redis.from_url(self.broker)

    def start_worker(self) -> None:
        handle, name = tempfile.mkstemp(prefix=f"{self.queue}-", suffix=".log")
        os.close(handle)
        self.log = Path(name)
        env = {**os.environ, "REDIS_URL": self.broker, "DJANGO_LOG_LEVEL": "WARNING"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    str(Path(settings.BASE_DIR) / "manage.py"),
                    "benchmark_fanout",
                    "--serve-worker",
                    self.queue,
                    "--concurrency",
                    str(self.concurrency),
                    "--email",
                    self.email,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_worker(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()  # warm shutdown
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # and any pool process left
            self.process.wait(timeout=10)
        if self.log is not None:
            self.log.unlink(missing_ok=True)
        with contextlib.suppress(Exception):  # the run's queue and kombu's bindings for it
            for key in self.redis.scan_iter(match=f"*{self.queue}*"):
                self.redis.delete(key)

    def check(self, deadline: float, what: str) -> None:
        if self.process is not None and self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log else ""
            raise CommandError(f"The worker exited with {self.process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            raise CommandError(f"Timed out waiting for {what}.")

    def drained(self) -> bool:
        """Nothing waiting in the queue and nothing delivered but unacknowledged."""
        if self.redis.llen(self.queue):
            return False
        marker = self.queue.encode()
        return not any(marker in value for value in self.redis.hvals("unacked"))

    def wait_drained(self, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not self.drained():
            self.check(deadline, what)
            time.sleep(0.01)

    def warm_up(self) -> None:
        """Start-up, pool processes forked, the setup's own few notifications sent."""
        from coordination.celery import noop

        for _ in range(self.concurrency * 4):
            noop.apply_async(queue=self.queue)
        self.wait_drained("the worker to start")

    def fan_out(self, scratch: Scratch) -> Timing:
        from coordination.permissions.markings import Marking
        from taskforces import services
        from taskforces.permissions import audience

        update = services.post_update(
            task_force=scratch.task_force,
            title="Benchmark update",
            body="Everyone who may see this is told once.",
            marking=Marking.AMBER,
            by=scratch.author,
        )
        committed = time.monotonic()
        event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
        expected = audience(update).exclude(pk=scratch.author.pk).count()
        if expected != scratch.recipients:
            raise CommandError(f"{expected} may see the update; {scratch.recipients} expected.")
        notifications = Notification.objects.filter(event=event)
        deadline = committed + self.timeout
        dispatched = None
        while True:
            if dispatched is None and notifications.count() == expected:
                dispatched = time.monotonic() - committed
            if (
                dispatched is not None
                and not notifications.filter(email_status__in=(S.PENDING, S.SENDING)).exists()
            ):
                break
            self.check(deadline, "the fan-out")
            time.sleep(0.05)
        done = time.monotonic() - committed
        event.refresh_from_db()
        last = notifications.aggregate(last=Max("emailed_at"))["last"]
        counts = dict(
            notifications.order_by()
            .values_list("email_status")
            .annotate(n=Count("pk"))
            .values_list("email_status", "n")
        )
        return Timing(
            seconds=done,
            count=expected,
            details={
                "notified": dispatched or done,
                "db_dispatch": (event.dispatched_at - event.created_at).total_seconds()
                if event.dispatched_at
                else None,
                "db_last_email": (last - event.created_at).total_seconds() if last else None,
                "statuses": counts,
            },
        )

    def noops(self, count: int) -> Timing:
        from coordination.celery import noop

        started = time.monotonic()
        with self.app.producer_or_acquire() as producer:
            for _ in range(count):
                noop.apply_async(queue=self.queue, producer=producer)
        published = time.monotonic() - started
        self.wait_drained(f"{count} no-op tasks")
        return Timing(
            seconds=time.monotonic() - started, count=count, details={"published": published}
        )


# --- the report ------------------------------------------------------------------------------


def _database() -> str:
    if connection.vendor == "postgresql":
        return f"PostgreSQL {connection.pg_version // 10000}"  # type: ignore[attr-defined]
    return connection.vendor


def report(scratch: Scratch, bench: Bench, built: float, fan: Timing, noop: Timing) -> str:
    from coordination.notifications import CHUNK

    broker = bench.broker.split("@")[-1]
    backend = {"locmem": "locmem (built, kept in worker memory)", "dummy": "dummy (dropped)"}
    rows = [
        ("scratch data built in bulk", f"{built:9.2f}", "", ""),
        (
            "fan-out: commit → all notified",
            f"{fan.details['notified']:9.2f}",
            "",
            f"dispatch in DB {fan.details['db_dispatch']:.2f} s"
            if fan.details["db_dispatch"] is not None
            else "",
        ),
        (
            "fan-out: commit → all e-mailed",
            f"{fan.seconds:9.2f}",
            f"{fan.per_second:10,.0f} recipients/s",
            f"{fan.ms_each:7.2f} ms/recipient",
        ),
        (
            f"Celery no-op × {noop.count:,}",
            f"{noop.seconds:9.2f}",
            f"{noop.per_second:10,.0f} tasks/s",
            f"{noop.ms_each:7.2f} ms/task",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        "",
        f"Fan-out benchmark — {scratch.recipients:,} recipients",
        f"  database {_database()}, broker {broker} (queue {bench.queue}), "
        f"worker prefork × {bench.concurrency}, e-mail backend {backend[bench.email]}",
        f"  e-mail statuses: {fan.details['statuses']}; no-ops published in "
        f"{noop.details['published']:.2f} s",
        "",
        f"  {'':{width}}   {'seconds':>9}  {'rate':>22}  per item",
    ]
    lines += [f"  {a:{width}}   {b}  {c:>22}  {d}" for a, b, c, d in rows]
    ratio = fan.per_second / noop.per_second
    overhead = fan.ms_each - noop.ms_each
    lines += [
        "",
        f"  ratio fan-out recipients/s ÷ no-op tasks/s: {ratio:.3f}",
        f"  per-recipient cost beyond one no-op task: {overhead:.2f} ms "
        f"(the fan-out moves {CHUNK} recipients per Celery task, so Celery's own share is "
        f"about {noop.ms_each / CHUNK:.3f} ms of each recipient's {fan.ms_each:.2f} ms)",
        "",
    ]
    return "\n".join(lines)
