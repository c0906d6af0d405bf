"""``manage.py benchmark_scale``: how Concord holds up on the data in this database.

Meant for a database filled by ``seed_scale`` (``benchmarks/run_scale.sh`` seeds one per
size — 1 %, 10 %, 100 % — and runs this on each), with
``DJANGO_SETTINGS_MODULE=coordination.settings.benchmark`` (no debug, limits out of the
way). It prints five sections:

1. **Queries** of every page and API list, for the person with 3 roles and the one with
   300 (and the administrators for their pages): the numbers must be the same at every
   size.
2. **Latency**, median and 95th percentile over ``--requests`` requests (in-process,
   Django's test client signed in with ``force_login``), of the dashboard, a task force
   page, the objectives board and the main API lists, for both people.
3. **Permission filtering**: each API list's query (count and first page of 50, the
   list's own ordering and joins) through ``restrict`` beside the same query over every
   row, and their ratio (target ≤ 2×).
4. **Throughput**: gunicorn (``--workers``) serving the real app on a free port, driven by
   ``wrk`` from another process for ``--seconds``: the objectives API list with a personal
   API token beside ``/bench/bare/`` (one query), and their ratio (target ≥ 0.5). The
   bare view is measured before and after the others, and the ratio taken to the mean
   of the two, so that a machine slowing down or speeding up meanwhile moves it less.
5. **Notification fan-out**: ``benchmark_fanout`` (needs ``REDIS_URL``), its ratio of
   recipients per second to Celery no-op tasks per second.

It writes nothing but two API tokens (made and revoked through the token service, so
audited) and, for the fan-out, benchmark_fanout's own scratch data (people, agencies and a
task force named "bench-…", kept: the append-only audit trail refuses its clean-up).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from agencies.api.views import AgencyViewSet, AgreementViewSet, MembershipViewSet
from agencies.models import Agency, Membership
from benchmarks.scale.data import ADMIN_EMAIL, HEAVY_EMAIL, LIGHT_EMAIL
from coordination.accounts.tokens import create_token, revoke_token
from coordination.models import User
from taskforces import access
from taskforces.api.views import (
    ObjectiveViewSet,
    ParticipationViewSet,
    RoleAssignmentViewSet,
    RoleViewSet,
    TaskForceViewSet,
    TaskViewSet,
    UpdateViewSet,
)
from taskforces.models import Objective, RoleAssignment, Task, TaskForce, Update

API = "/api/v1"
API_LISTS = (
    "task-forces",
    "participations",
    "roles",
    "role-assignments",
    "objectives",
    "tasks",
    "updates",
    "agencies",
    "memberships",
    "agreements",
    "notifications",
    "audit-events",
)
# the pages and lists timed for both people
TIMED = (
    ("dashboard", "page"),
    ("task force page", "page"),
    ("objectives board", "page"),
    ("API task-forces", "api"),
    ("API objectives", "api"),
    ("API tasks", "api"),
    ("API updates", "api"),
    ("API role-assignments", "api"),
)
FILTERED = (
    TaskForceViewSet,
    ParticipationViewSet,
    RoleViewSet,
    RoleAssignmentViewSet,
    ObjectiveViewSet,
    TaskViewSet,
    UpdateViewSet,
    AgencyViewSet,
    MembershipViewSet,
    AgreementViewSet,
)
PAGE = 50
THROUGHPUT_PATH = f"{API}/objectives/"
FLOOR_PATH = f"{API}/notifications/unread-count/"


@dataclass
class Person:
    label: str
    user: User
    roles: int
    targets: dict[str, Any]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    out = [line, "  ".join("-" * w for w in widths)]
    for row in rows:
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join("  " + x for x in out)


class Command(BaseCommand):
    help = "Measure query counts, latency, permission filtering, throughput and fan-out on this database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--requests", type=int, default=30, help="Requests per timed page or list (default 30)."
        )
        parser.add_argument(
            "--light", default=LIGHT_EMAIL, help="E-mail of the person with few roles."
        )
        parser.add_argument(
            "--heavy", default=HEAVY_EMAIL, help="E-mail of the person with many roles."
        )
        parser.add_argument(
            "--seconds", type=int, default=10, help="Seconds of load per throughput run."
        )
        parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
        parser.add_argument("--connections", type=int, default=8, help="wrk connections.")
        parser.add_argument("--fanout-recipients", type=int, default=2000)
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=("queries", "latency", "filtering", "throughput", "fanout"),
            help="Leave a section out (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["requests"] < 1 or options["seconds"] < 1 or options["workers"] < 1:
            raise CommandError("--requests, --seconds and --workers must be at least 1.")
        self.options = options
        self.people = [
            self.person("3 roles", options["light"]),
            self.person("300 roles", options["heavy"]),
        ]
        self.header()
        skip = set(options["skip"])
        if "queries" not in skip:
            self.section_queries()
        if "latency" not in skip:
            self.section_latency()
        if "filtering" not in skip:
            self.section_filtering()
        if "throughput" not in skip:
            self.section_throughput()
        if "fanout" not in skip:
            self.section_fanout()

    # --- setting up ---------------------------------------------------------------------

    def person(self, label: str, email: str) -> Person:
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(f"No person {email}: seed the database with seed_scale first.")
        roles = RoleAssignment.objects.current().filter(person=user).count()
        tf = (
            TaskForce.objects.restrict(user, "view")
            .annotate(n=Count("objectives"))
            .order_by("-n", "pk")
            .first()
        )
        if tf is None:
            raise CommandError(f"{email} sees no task force.")
        objective = (
            Objective.objects.restrict(user, "view").filter(task_force=tf).order_by("pk").first()
        )
        task = Task.objects.restrict(user, "view").filter(task_force=tf).order_by("pk").first()
        update = Update.objects.restrict(user, "view").filter(task_force=tf).order_by("pk").first()
        return Person(
            label, user, roles, {"tf": tf, "objective": objective, "task": task, "update": update}
        )

    def write(self, text: str = "") -> None:
        self.stdout.write(text)

    def header(self) -> None:
        db = connection.vendor
        if db == "postgresql":
            db = f"PostgreSQL {connection.pg_version // 10000}"  # type: ignore[attr-defined]
        counts = {
            "agencies": Agency.objects.count(),
            "people": User.objects.count(),
            "task forces": TaskForce.objects.count(),
            "role assignments": RoleAssignment.objects.count(),
            "objectives": Objective.objects.count(),
            "tasks": Task.objects.count(),
            "updates": Update.objects.count(),
        }
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        self.write("== Concord scale benchmark ==")
        self.write(
            f"  database {db}; settings {os.environ.get('DJANGO_SETTINGS_MODULE', '')}; debug {settings.DEBUG}"
        )
        self.write(
            f"  machine {platform.machine()}, {os.cpu_count()} CPU cores, load average {load:.2f} at start, Python {platform.python_version()}"
        )
        self.write("  data: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        for p in self.people:
            self.write(
                f"  person with {p.label}: {p.user.email} holds {p.roles} current roles; task force page for {p.targets['tf'].pk}"
            )
        if settings.DEBUG:
            self.write(
                "  WARNING: DEBUG is on (every query is recorded): use coordination.settings.benchmark for timings."
            )
        self.write("")

    def client(self, user: User) -> Client:
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(user)
        return client

    def pages(self, person: Person) -> list[tuple[str, str]]:
        t = person.targets
        named: list[tuple[str, str, Any]] = [
            ("dashboard", "dashboard", None),
            ("task force list", "taskforces:list", None),
            ("task force page", "taskforces:detail", t["tf"]),
            ("organisation chart", "taskforces:organisation", t["tf"]),
            ("objectives board", "taskforces:objectives", t["tf"]),
            ("updates feed", "taskforces:updates", t["tf"]),
            ("objective page", "taskforces:objective", t["objective"]),
            ("task page", "taskforces:task", t["task"]),
            ("update page", "taskforces:update", t["update"]),
            ("notification centre", "notifications:centre", None),
            ("notification preferences", "notifications:preferences", None),
            ("agency directory", "agencies:directory", None),
            ("API tokens page", "tokens", None),
        ]
        pages = []
        for label, name, obj in named:
            if obj is None and name.startswith("taskforces:") and name != "taskforces:list":
                continue  # nothing of that kind is visible to this person
            with contextlib.suppress(NoReverseMatch):
                pages.append(
                    (label, reverse(name, args=[obj.pk]) if obj is not None else reverse(name))
                )
        return pages

    def api_lists(self) -> list[tuple[str, str]]:
        return [(f"API {name}", f"{API}/{name}/") for name in API_LISTS]

    # --- 1. queries ---------------------------------------------------------------------

    def count_queries(self, client: Client, url: str) -> str:
        client.get(url)  # warm: sessions, content types
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        status = "" if response.status_code == 200 else f" ({response.status_code})"
        return f"{len(queries)}{status}"

    def section_queries(self) -> None:
        self.write("-- 1. Queries per request (must not grow with the data) --")
        clients = [self.client(p.user) for p in self.people]
        rows = []
        labels: dict[str, list[str]] = {}
        for i, p in enumerate(self.people):
            for label, url in [*self.pages(p), *self.api_lists()]:
                labels.setdefault(label, ["-"] * len(self.people))[i] = self.count_queries(
                    clients[i], url
                )
        rows = [[label, *counts] for label, counts in labels.items()]
        self.write(table(["page or list", *(p.label for p in self.people)], rows))
        admin_rows = []
        hub = Agency.objects.order_by("pk").first()
        agency_admin = (
            User.objects.filter(
                memberships__agency=hub,
                memberships__role=Membership.Role.ADMIN,
                memberships__is_active=True,
            ).first()
            if hub
            else None
        )
        portal_admin = (
            User.objects.filter(email=ADMIN_EMAIL).first()
            or User.objects.filter(is_portal_admin=True).first()
        )
        checks: list[tuple[str, User | None, str]] = []
        if hub is not None:
            checks += [
                (
                    "agency page (agency admin)",
                    agency_admin,
                    reverse("agencies:detail", args=[hub.pk]),
                ),
                (
                    "people page (agency admin)",
                    agency_admin,
                    reverse("agencies:people", args=[hub.pk]),
                ),
                ("API audit-events (agency admin)", agency_admin, f"{API}/audit-events/"),
                ("API memberships (agency admin)", agency_admin, f"{API}/memberships/"),
            ]
            with contextlib.suppress(NoReverseMatch):
                checks.append(
                    (
                        "access review (agency admin)",
                        agency_admin,
                        reverse("agencies:access-review", args=[hub.pk]),
                    )
                )
        checks += [
            ("review queue (portal admin)", portal_admin, reverse("agencies:review-queue")),
            ("agency directory (portal admin)", portal_admin, reverse("agencies:directory")),
            ("API agencies (portal admin)", portal_admin, f"{API}/agencies/"),
            ("API audit-events (portal admin)", portal_admin, f"{API}/audit-events/"),
        ]
        for label, user, url in checks:
            if user is not None:
                admin_rows.append([label, self.count_queries(self.client(user), url)])
        if admin_rows:
            self.write("")
            self.write(table(["administrators' pages", "queries"], admin_rows))
        self.write("")

    # --- 2. latency ---------------------------------------------------------------------

    def timed_urls(self, person: Person) -> dict[str, str]:
        t = person.targets
        return {
            "dashboard": reverse("dashboard"),
            "task force page": reverse("taskforces:detail", args=[t["tf"].pk]),
            "objectives board": reverse("taskforces:objectives", args=[t["tf"].pk]),
            "API task-forces": f"{API}/task-forces/",
            "API objectives": f"{API}/objectives/",
            "API tasks": f"{API}/tasks/",
            "API updates": f"{API}/updates/",
            "API role-assignments": f"{API}/role-assignments/",
        }

    def time_requests(self, client: Client, url: str, n: int) -> list[float]:
        for _ in range(2):
            client.get(url)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}.")
        return times

    def section_latency(self) -> None:
        n = self.options["requests"]
        self.write(f"-- 2. Latency in ms over {n} requests (in-process, signed in) --")
        headers = ["page or list"]
        for p in self.people:
            headers += [f"{p.label} median", f"{p.label} p95"]
        rows = []
        clients = [self.client(p.user) for p in self.people]
        urls = [self.timed_urls(p) for p in self.people]
        for label, _ in TIMED:
            row = [label]
            for client, url in zip(clients, urls, strict=True):
                times = self.time_requests(client, url[label], n)
                row += [ms(statistics.median(times)).strip(), ms(percentile(times, 0.95)).strip()]
            rows.append(row)
        self.write(table(headers, rows))
        self.write(
            "  (the same request repeated; nothing is kept between requests: each is computed)"
        )
        self.write("")

    # --- 3. filtered beside unfiltered -------------------------------------------------

    def list_query(self, viewset: Any, user: User, restricted: bool) -> Callable[[], int]:
        view = viewset()
        view.request = SimpleNamespace(user=user)
        view.kwargs = {}

        def run() -> int:
            # the permission filter is built each time: its cost (computing the person's
            # access, three statements) is part of what is measured
            base = view.visible() if restricted else view.model._default_manager.all()
            queryset = view.optimise(base).order_by(*view.ordering)
            page = Paginator(queryset, PAGE).page(1)
            return page.paginator.count + len(list(page))

        return run

    def time_call(self, call: Callable[[], Any], n: int) -> float:
        call()
        times = []
        for _ in range(n):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def section_filtering(self) -> None:
        n = self.options["requests"]
        self.write(
            f"-- 3. Permission-filtered list beside the same list unfiltered (count + first {PAGE}, median ms over {n}) --"
        )
        headers = ["list", "unfiltered"]
        for p in self.people:
            headers += [p.label, "ratio"]
        rows = []
        for viewset in FILTERED:
            label = viewset.model._meta.verbose_name_plural
            everything = self.time_call(self.list_query(viewset, self.people[0].user, False), n)
            row = [str(label), ms(everything).strip()]
            for p in self.people:
                filtered = self.time_call(self.list_query(viewset, p.user, True), n)
                row += [
                    ms(filtered).strip(),
                    f"{filtered / everything:.2f}×" if everything else "-",
                ]
            rows.append(row)
        self.write(table(headers, rows))
        self.write(
            "  (target: ratio ≤ 2×; below 1 means the person's list is smaller than the whole table)"
        )
        cold = [
            f"{p.label} {ms(self.time_call(functools.partial(access.compute, p.user), n)).strip()} ms"
            for p in self.people
        ]
        self.write(
            "  Each filtered list computes the person's access (taskforces.access), included "
            "above; alone: " + ", ".join(cold) + "."
        )
        self.write("")

    # --- 4. throughput ------------------------------------------------------------------

    def section_throughput(self) -> None:
        seconds, workers = self.options["seconds"], self.options["workers"]
        self.write(
            f"-- 4. Throughput: gunicorn × {workers} workers, wrk from another process, {seconds} s each --"
        )
        wrk = shutil.which("wrk")
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if wrk is None:
            self.write("  skipped: wrk is not installed (Debian: apt-get install wrk).")
            self.write("")
            return
        if connection.vendor != "postgresql":
            self.write("  skipped: needs PostgreSQL (SQLite serialises the workers).")
            self.write("")
            return
        tokens = []
        try:
            for p in self.people:
                token, secret = create_token(owner=p.user, name="scale benchmark")
                tokens.append((p, token, secret))
            connections = self.options["connections"]
            measured: list[tuple[str, WrkResult]] = []
            with gunicorn_server(gunicorn, workers) as base:
                before = run_wrk(wrk, f"{base}/bench/bare/", None, seconds, connections)
                measured.append(("bare view, one query (before)", before))
                floor = run_wrk(wrk, f"{base}{FLOOR_PATH}", tokens[0][2], seconds, connections)
                measured.append(("API unread count (one count query, not kept)", floor))
                for p, _, secret in tokens:
                    result = run_wrk(wrk, f"{base}{THROUGHPUT_PATH}", secret, seconds, connections)
                    measured.append((f"API objectives list, {p.label}", result))
                after = run_wrk(wrk, f"{base}/bench/bare/", None, seconds, connections)
                measured.append(("bare view, one query (after)", after))
            yardstick = (before.rps + after.rps) / 2
            rows = [[label, *result.cells(yardstick)] for label, result in measured]
            self.write(table(["endpoint", "requests/s", "mean latency", "ratio", "errors"], rows))
            self.write(
                f"  (ratios to the bare view's mean, {yardstick:,.0f} requests/s; "
                "target: API list ÷ bare view ≥ 0.5)"
            )
            self.write(
                "  Every request is computed: nothing is kept between requests (see benchmark_load"
            )
            self.write("  for the same lists under load, and for conditional GETs answered 304).")
        finally:
            for p, token, _ in tokens:
                revoke_token(token=token, by=p.user)
        self.write("")

    # --- 5. fan-out ---------------------------------------------------------------------

    def section_fanout(self) -> None:
        self.write("-- 5. Notification fan-out (benchmark_fanout) --")
        if not (getattr(settings, "REDIS_URL", "") or os.environ.get("REDIS_URL")):
            self.write(
                "  skipped: set REDIS_URL (the fan-out runs through Redis and a real worker)."
            )
            self.write("")
            return
        out = io.StringIO()
        try:
            # keep=True: the audit trail is append-only, so benchmark_fanout's clean-up
            # (which deletes its scratch people's audit events) is refused; its scratch data
            # (names starting "bench-") stays, which is why this section runs last
            call_command(
                "benchmark_fanout",
                recipients=self.options["fanout_recipients"],
                keep=True,
                stdout=out,
            )
        except Exception as error:  # report it; the other sections stand
            self.write(f"  failed: {error}")
            self.write("")
            return
        text = out.getvalue()
        ratio = re.search(r"ratio .*?: ([0-9.]+)", text)
        self.write(
            "\n".join(
                "  " + line
                for line in text.strip().splitlines()
                if line.strip() and not line.startswith("Run ")
            )
        )
        if ratio:
            self.write(f"  fan-out ratio (recipients/s ÷ no-op tasks/s): {ratio.group(1)}")
        self.write("")


# --- gunicorn and wrk -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gunicorn_server(
    gunicorn: Path, workers: int, settings_env: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "coordination.settings.benchmark",
        **(settings_env or {}),
    }
    process = subprocess.Popen(  # noqa: S603
        [
            str(gunicorn),
            "coordination.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise CommandError(
                    "gunicorn exited: "
                    + (process.stderr.read().decode()[-2000:] if process.stderr else "")
                )
            try:
                with urllib.request.urlopen(f"{base}/healthz/", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError("gunicorn did not answer within 60 s.") from None
                time.sleep(0.3)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class WrkResult:
    rps: float
    latency: str
    errors: str

    def cells(self, bare_rps: float) -> list[str]:
        """requests/s, mean latency, ratio to the bare view, errors."""
        ratio = f"{self.rps / bare_rps:.2f}" if bare_rps else "-"
        return [f"{self.rps:,.0f}", self.latency, ratio, self.errors]


def run_wrk(wrk: str, url: str, token: str | None, seconds: int, connections: int) -> WrkResult:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    # a short warm-up (each worker's first requests load code and open connections)
    subprocess.run([wrk, "-t1", "-c2", "-d2s", *headers, url], capture_output=True, check=False)  # noqa: S603
    done = subprocess.run(  # noqa: S603
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", *headers, url],
        capture_output=True,
        text=True,
        check=False,
    )
    text = done.stdout
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    latency = re.search(r"Latency\s+(\S+)", text)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    if rps is None:
        raise CommandError(f"wrk failed: {done.stderr or text}")
    problems = []
    if bad:
        problems.append(f"{bad.group(1)} non-2xx")
    if errors:
        problems.append(errors.group(0))
    return WrkResult(
        float(rps.group(1)), latency.group(1) if latency else "-", "; ".join(problems) or "0"
    )
