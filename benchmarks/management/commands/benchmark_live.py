"""Live pages under load (issue 19): open Server-Sent Events connections to uvicorn, make
changes, and print how long each change took from its commit to its arrival in the
clients, and what each open connection costs in memory -- beside the number of
connections.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_live_bench   # scratch
    export REDIS_URL=redis://127.0.0.1:6379/7
    export DJANGO_SETTINGS_MODULE=coordination.settings.benchmark
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py benchmark_live | tee benchmarks/results/live-1000.txt

What it does:

1. Seeds (once; found again on later runs) one task force led by its own agency, with
   ``max(--levels)`` people of that agency holding its Member role, and signs each in
   with a session (made as ``force_login`` makes one; deleted at the end).
2. Starts uvicorn (``--workers``, default 2) on a free port serving the real application
   under ``coordination.settings.benchmark``, live pages on, a key prefix of this run's
   own in Redis.
3. For each level (10, 100, 1000 connections): measures the server's memory (the RSS of
   uvicorn's processes) and Redis's (``used_memory``), opens that many streams --
   ``--connect-batch`` at a time, each a different person, each listening to the task
   force's topic -- and measures both again: the difference divided by the connections
   is the memory per connection. Then makes ``--changes`` changes (an objective renamed
   through ``update_objective``, the service the page uses), ``--interval`` seconds
   apart, each audited, recorded as a live change and relayed after commit; every open
   client must receive every change. The time of each arrival minus the time the
   change's transaction committed (taken by an ``on_commit`` hook registered before
   the service's own, so it is the first thing to run after the commit) gives p50, p95
   and max per level. Missing arrivals are counted and printed.

The relay runs in this (the writing) process right after each commit, as it does on the
embedded default: the figures cover commit -> audience computed by the permission core ->
one Redis script call appending to every person's stream -> uvicorn's blocking stream reads
-> the clients; they leave out the wait in a Celery queue when a worker relays instead.
The clients (aiohttp on uvloop) run in ``--client-processes`` processes of their own (2),
so neither they nor the writer wait for the other's turn at a GIL; all of it shares the
machine's two cores with uvicorn, PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import platform
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from agencies.models import Agency, Membership
from coordination.accounts.signin import LAST_SEEN_AT, SIGNED_IN_AT
from coordination.celery import app as celery_app
from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, Role, RoleAssignment, TaskForce

from .benchmark_load import cpu_model, free_port, load_average, memory, percentile

AGENCY = "Live benchmark agency"
TASK_FORCE = "Live benchmark task force"
EMAIL = "live-bench-{n}@bench.example.gov"


class Command(BaseCommand):
    help = "Open many live-page streams under uvicorn; print commit-to-arrival time and memory per connection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--levels", default="10,100,1000", help="connections per level")
        parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
        parser.add_argument("--changes", type=int, default=20, help="changes made per level")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between changes")
        parser.add_argument("--connect-batch", type=int, default=20)
        parser.add_argument(
            "--client-processes", type=int, default=2, help="processes the clients run in"
        )
        parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Run it on a scratch PostgreSQL database (DATABASE_URL).")
        if not options["redis_url"]:
            raise CommandError("Live pages need Redis: set REDIS_URL or --redis-url.")
        try:
            levels = sorted({int(n) for n in options["levels"].split(",") if n.strip()})
        except ValueError as error:
            raise CommandError("--levels takes connection counts, e.g. 10,100,1000") from error
        if not levels or levels[0] < 1 or levels[-1] > 5000:
            raise CommandError("--levels: between 1 and 5000 connections")
        self.options = options
        self.redis_url: str = options["redis_url"]
        self.prefix = f"bench-live-{uuid.uuid4().hex[:8]}"
        raise_open_files_limit(4 * levels[-1] + 1000)
        settings.CONCORD_LIVE_REDIS_URL = self.redis_url
        settings.CONCORD_LIVE_KEY_PREFIX = self.prefix
        # the relay runs right after each commit in this process (see the docstring)
        celery_app.conf.task_always_eager = True

        self.task_force, self.objective, self.writer, people = self.seed(levels[-1])
        self.sessions: list[str] = []
        try:
            cookies = [self.session_for(p) for p in people]
            self.header(levels)
            with self.uvicorn() as (port, process):
                self.port, self.server = port, process
                # load every worker's code and connections before anything is measured
                warm = cookies[: 4 * self.options["workers"]]
                self.level(len(warm), warm, quiet=True)
                for level in levels:
                    self.level(level, cookies[:level])
        finally:
            self.clean()

    # --- data -----------------------------------------------------------------------------

    def seed(self, count: int) -> tuple[TaskForce, Objective, User, list[User]]:
        """The task force, its objective, its founder and ``count`` people holding its Member
        role (made once; a later run with more people adds the missing ones)."""
        agency, _ = Agency.objects.get_or_create(
            name=AGENCY,
            defaults={
                "acronym": "LIVEB",
                "level": Agency.Level.NATIONAL,
                "sector": Agency.Sector.EMERGENCY_MANAGEMENT,
                "contact_email": "contact@bench.example.gov",
                "status": Agency.Status.ACTIVE,
            },
        )
        founder, created = User.objects.get_or_create(email=EMAIL.format(n="founder"))
        if created:
            Membership.objects.create(user=founder, agency=agency, role=Membership.Role.LIAISON)
        task_force = TaskForce.objects.filter(name=TASK_FORCE, lead_agency=agency).first()
        if task_force is None:
            task_force = services.form_task_force(
                name=TASK_FORCE, mandate="Measure live pages.", by=founder
            )
        objective = Objective.objects.filter(task_force=task_force).first()
        if objective is None:
            objective = services.create_objective(
                task_force=task_force,
                title="Objective renamed by the benchmark",
                owner_agency=agency,
                marking=Marking.AMBER,
                by=founder,
            )
        member = Role.objects.get(task_force=task_force, template__slug="member")
        emails = [EMAIL.format(n=n) for n in range(count)]
        existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
        missing = [
            User(email=e, first_name="Live", last_name=e.split("@")[0])
            for e in emails
            if e not in existing
        ]
        with transaction.atomic():
            User.objects.bulk_create(missing, batch_size=500)
            users = list(User.objects.filter(email__in=emails).order_by("email"))
            have = set(Membership.objects.filter(user__in=users).values_list("user_id", flat=True))
            Membership.objects.bulk_create(
                [
                    Membership(user=u, agency=agency, role=Membership.Role.STAFF)
                    for u in users
                    if u.pk not in have
                ],
                batch_size=500,
            )
            holding = set(
                RoleAssignment.objects.current()
                .filter(role=member)
                .values_list("person_id", flat=True)
            )
            # seeded as seed_scale seeds (rows, not one service call per person): the
            # access rule reads the assignment rows themselves
            RoleAssignment.objects.bulk_create(
                [
                    RoleAssignment(role=member, person=u, agency=agency, assigned_by=founder)
                    for u in users
                    if u.pk not in holding
                ],
                batch_size=500,
            )
        order = {e: i for i, e in enumerate(emails)}
        users.sort(key=lambda u: order[u.email])
        return task_force, objective, founder, users

    def session_for(self, user: User) -> str:
        backend = settings.AUTHENTICATION_BACKENDS[-1]
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = int(time.time())
        session.save()
        self.sessions.append(str(session.session_key))
        return str(session.session_key)

    def clean(self) -> None:
        engine = import_module(settings.SESSION_ENGINE)
        for key in self.sessions:
            engine.SessionStore(key).delete()
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(f"{self.prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()

    # --- the server -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def uvicorn(self) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
        port = free_port()
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "coordination.settings.benchmark",
            "DATABASE_URL": (
                f"postgres://{db['USER']}"
                + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
                + f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
            ),
            "REDIS_URL": self.redis_url,
            "CONCORD_LIVE_REDIS_URL": self.redis_url,
            "CONCORD_LIVE_KEY_PREFIX": self.prefix,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        }
        # uvicorn's own log, in the system's temporary directory (not a fixed /tmp path)
        log = Path(tempfile.gettempdir()) / f"benchmark-live-uvicorn-{port}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "coordination.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(self.options["workers"]),
                    "--log-level",
                    "warning",
                    "--backlog",
                    "4096",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 60
            while not asyncio.run(self.healthy(port)):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"uvicorn did not start; see {log}")
                time.sleep(0.2)
            yield port, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    async def healthy(self, port: int) -> bool:
        import aiohttp

        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz/") as response,
            ):
                return response.status == 200
        except aiohttp.ClientError:
            return False

    def server_rss(self) -> int:
        """Bytes resident in uvicorn's processes (the supervisor and its workers)."""
        pids = [self.server.pid, *children(self.server.pid)]
        return sum(rss_of(pid) for pid in pids)

    def server_threads(self) -> int:
        """Threads in uvicorn's processes (Django runs each request's synchronous
        middleware in a thread of the request's own)."""
        pids = [self.server.pid, *children(self.server.pid)]
        return sum(threads_of(pid) for pid in pids)

    def redis_memory(self) -> int:
        client = redis.Redis.from_url(self.redis_url)
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()

    # --- one level ------------------------------------------------------------------------------

    def level(self, count: int, cookies: list[str], *, quiet: bool = False) -> None:
        """Open ``count`` streams (in ``--client-processes`` processes of their own, so
        the clients never wait for this process's writer, nor it for them), make the
        changes, then collect every arrival."""
        url = f"http://127.0.0.1:{self.port}/live/stream/?topic=tf:{self.task_force.pk}"
        context = multiprocessing.get_context("fork")
        connected_q = context.Queue()
        results_q = context.Queue()
        stop = context.Event()
        processes = max(1, min(self.options["client_processes"], count))
        shares = [cookies[i::processes] for i in range(processes)]
        batch = max(1, self.options["connect_batch"] // processes)
        connection.close()  # no database connection crosses the fork
        children_ = [
            context.Process(
                target=client_process,
                args=(
                    url,
                    settings.SESSION_COOKIE_NAME,
                    share,
                    batch,
                    connected_q,
                    stop,
                    results_q,
                ),
                daemon=True,
            )
            for share in shares
        ]
        rss_before, redis_before = self.server_rss(), self.redis_memory()
        started = time.monotonic()
        for child in children_:
            child.start()
        connected = 0
        deadline = time.monotonic() + 300
        while connected < count and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                connected += connected_q.get(timeout=1)
        opened_in = time.monotonic() - started
        time.sleep(1)  # let the server settle before reading its memory
        rss_open, redis_open = self.server_rss(), self.redis_memory()
        threads = self.server_threads()

        commits: dict[str, float] = {}
        self._relays = []
        for n in range(0 if quiet else self.options["changes"]):
            change_id = self.change(n)
            commits[change_id] = self._last_commit
            time.sleep(self.options["interval"])
        time.sleep(0 if quiet else 10)  # the last arrivals
        redis_after = self.redis_memory()
        stop.set()
        arrivals: dict[str, list[float]] = {}
        reconnects = 0
        failures: list[str] = []
        for _ in children_:
            got, again, failed = results_q.get(timeout=60)
            for change_id, times in got.items():
                arrivals.setdefault(change_id, []).extend(times)
            reconnects += again
            failures += failed
        for child in children_:
            child.join(timeout=30)
        if quiet:
            time.sleep(2)
            return
        latencies = [
            (arrived - commits[c]) * 1000 for c in commits for arrived in arrivals.get(c, [])
        ]
        self.report(
            count=count,
            connected=connected,
            opened_in=opened_in,
            rss=(rss_before, rss_open),
            redis_memory=(redis_before, redis_open, redis_after),
            latencies=latencies,
            missing=connected * len(commits) - len(latencies),
            reconnects=reconnects,
            threads=threads,
            relay=statistics.median(self._relays) if self._relays else float("nan"),
            missing_by_change={
                c: connected - len(arrivals.get(c, []))
                for c in commits
                if len(arrivals.get(c, [])) < connected
            },
            failures=failures,
        )
        time.sleep(2)  # the server closes the streams before the next level

    _last_commit = 0.0
    _relays: list[float]

    def change(self, n: int) -> str:
        """Rename the objective through its service; returns the live change's id. The
        first on_commit hook records when the transaction committed."""
        from coordination.models import LiveChange

        def committed() -> None:
            self._last_commit = time.time()

        with transaction.atomic():
            transaction.on_commit(committed)
            services.update_objective(
                objective=self.objective,
                by=self.writer,
                title=f"Objective renamed by the benchmark ({n} at {time.time():.3f})",
            )
            change = LiveChange.objects.filter(
                object_type="taskforces.objective", object_id=str(self.objective.pk)
            ).latest("pk")
        # the relay marks the row published right after its Redis call
        change.refresh_from_db(fields=["published_at"])
        if change.published_at is not None:
            self._relays.append((change.published_at.timestamp() - self._last_commit) * 1000)
        return str(change.pk)

    # --- output ----------------------------------------------------------------------------------

    def header(self, levels: list[int]) -> None:
        import aiohttp
        import uvicorn

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
        client = redis.Redis.from_url(self.redis_url)
        redis_version = client.info("server")["redis_version"]
        client.close()
        self.stdout.write("== Concord live pages benchmark (benchmark_live) ==")
        self.stdout.write(f"  date {timezone.now():%Y-%m-%d %H:%M:%S %Z}; code {code_version()}")
        self.stdout.write(
            f"  machine: {platform.machine()}, {os.cpu_count()} CPU cores ({cpu_model()}), "
            f"{memory()}, load average {load_average():.2f} at start"
        )
        self.stdout.write(
            f"  Python {platform.python_version()}, PostgreSQL {pg}, Redis {redis_version}, "
            f"uvicorn {uvicorn.__version__} ({self.options['workers']} workers), "
            f"aiohttp {aiohttp.__version__} (clients: {self.options['client_processes']} processes, one uvloop each)"
        )
        self.stdout.write(
            f"  task force {self.task_force.pk} with {RoleAssignment.objects.current().filter(role__task_force=self.task_force).count()} "
            f"people holding a role (the audience of every change); levels {levels}; "
            f"{self.options['changes']} changes per level, {self.options['interval']} s apart"
        )
        self.stdout.write(
            "  a change: update_objective (renamed), audited, its live change relayed in this "
            "process right after commit to every holder's Redis stream"
        )
        self.stdout.write("")
        self.stdout.write(
            f"{'connections':>11} {'open':>5} {'opened in':>9} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'max ms':>7} {'missing':>7} {'server RSS':>13} {'per conn':>9} "
            f"{'Redis':>11} {'per conn':>9} {'streams':>9}"
        )

    def report(
        self,
        *,
        count: int,
        connected: int,
        opened_in: float,
        rss: tuple[int, int],
        redis_memory: tuple[int, int, int],
        latencies: list[float],
        missing: int,
        reconnects: int,
        threads: int,
        relay: float,
        missing_by_change: dict[str, int],
        failures: list[str],
    ) -> None:
        per_conn = (rss[1] - rss[0]) / max(connected, 1)
        redis_per_conn = (redis_memory[1] - redis_memory[0]) / max(connected, 1)
        p50 = statistics.median(latencies) if latencies else float("nan")
        p95 = percentile(latencies, 0.95) if latencies else float("nan")
        top = max(latencies) if latencies else float("nan")
        self.stdout.write(
            f"{count:>11} {connected:>5} {opened_in:>8.1f}s {p50:>7.0f} {p95:>7.0f} {top:>7.0f} "
            f"{missing:>7} {mib(rss[0]):>6}→{mib(rss[1]):>6} {kib(per_conn):>9} "
            f"{mib(redis_memory[0]):>5}→{mib(redis_memory[1]):>5} {kib(redis_per_conn):>9} "
            f"{kib(redis_memory[2] - redis_memory[1]):>9}"
        )
        self.stdout.write(
            f"{'':>11} relay (commit to every stream appended to) p50 {relay:.0f} ms; "
            f"{threads} threads in uvicorn's processes with the streams open"
        )
        if reconnects:
            self.stdout.write(
                f"{'':>11} {reconnects} stream(s) ended by the server and reconnected from "
                "their Last-Event-ID (arrivals after a reconnect are counted)"
            )
        if missing_by_change:
            self.stdout.write(f"{'':>11} missing per live change id: {missing_by_change}")
        if failures:
            counts: dict[str, int] = {}
            for failure in failures:
                counts[failure] = counts.get(failure, 0) + 1
            self.stdout.write(f"{'':>11} failures: {counts}")
        self.stdout.flush()


def client_process(
    url: str,
    cookie_name: str,
    cookies: list[str],
    batch: int,
    connected_q: Any,
    stop: Any,
    results_q: Any,
) -> None:
    """A process of clients: one EventSource-like reader per cookie on one event loop.
    Reports each opened stream on ``connected_q``; on ``stop``, sends back every arrival
    time per live change id, the reconnections and the failures."""
    import uvloop

    arrivals: dict[str, list[float]] = {}
    state = {"reconnects": 0}
    failures: list[str] = []

    async def main() -> None:
        import aiohttp

        gate = asyncio.Semaphore(batch)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)

        async def client(session: aiohttp.ClientSession, cookie: str) -> None:
            """Reads events; when the server ends the stream, reconnects after its
            ``retry`` with ``Last-Event-ID``, as browsers do."""
            headers = {"Cookie": f"{cookie_name}={cookie}"}
            first = True
            await gate.acquire()
            try:
                while True:
                    async with session.get(url, headers=headers) as response:
                        if response.status != 200:
                            failures.append(f"status {response.status}")
                            return
                        async for raw in response.content:
                            line = raw.decode().rstrip("\n")
                            if line == ": connected" and first:
                                first = False
                                gate.release()
                                connected_q.put(1)
                            elif line.startswith("id: "):
                                headers["Last-Event-ID"] = line[4:]
                            elif line.startswith("data: "):
                                arrivals.setdefault(line_change(line), []).append(time.time())
                    state["reconnects"] += 1
                    await asyncio.sleep(1)  # the stream's "retry: 1000"
            except aiohttp.ClientError as error:
                failures.append(type(error).__name__)
            finally:
                if first:
                    gate.release()

        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            tasks = [asyncio.create_task(client(session, c)) for c in cookies]
            while not stop.is_set():
                await asyncio.sleep(0.2)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    uvloop.run(main())
    results_q.put((arrivals, state["reconnects"], failures))


def line_change(line: str) -> str:
    """The live change's id in an event's data line."""
    marker = '"change":"'
    if marker in line:
        return line.split(marker, 1)[1].split('"', 1)[0]
    return ""


def raise_open_files_limit(wanted: int) -> None:
    """Each connection is a socket on both sides (and one from uvicorn to Redis)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            for child in map(int, text):
                found += [child, *children(child)]
    return found


def rss_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def threads_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def kib(value: float) -> str:
    return f"{value / 1024:.1f} KiB"


def code_version() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"
