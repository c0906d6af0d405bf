"""In-process milliseconds per request for the API's hot paths, beside the bare views.

``benchmark_load`` measures throughput under gunicorn, which on a shared machine moves
with every other process. This command is the quick, steadier companion used while
making those paths faster: it sends each request through Django's whole stack (the
test ``Client``: middleware, authentication, throttling, the view, rendering) in this
process, alternating with the bare view (``/bench/bare/``, or ``/bench/bare-insert/``
for writes), and prints the median milliseconds of each and their ratio. Nothing is
kept between requests, as under gunicorn.

``--profile LABEL`` runs that request under cProfile instead and prints where its time
goes (``--profile-sort``, ``--profile-lines``). ``--sql`` prints the statements one
request of each kind runs. ``--plans`` runs each prepared statement a request executes
again, as it was sent, under a custom plan (planned for its own parameters) and under a
generic plan (one plan for every parameter: what production keeps, with
``plan_cache_mode=force_generic_plan``), and flags a statement whose generic plan is
much slower: its shape suits some people and not others.

Run it on a seeded scale database under ``coordination.settings.benchmark``, e.g.::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/concord_scale_100 \\
    DJANGO_SETTINGS_MODULE=coordination.settings.benchmark \\
    .venv/bin/python manage.py benchmark_requests --requests 40

It writes API tokens (revoked at the end) and, for the write, updates with their audit
and outbox events and rows of ``benchmarks_barerow``: run it on a scratch database.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from benchmarks.scale.data import HEAVY_EMAIL, LIGHT_EMAIL
from coordination import db
from coordination.accounts.tokens import create_token, revoke_token
from coordination.models import ApiToken, User

from .benchmark_load import API, API_LISTS, BARE, BARE_INSERT, CONCURRENT_ROLES, PAGES, TOKEN_NAME
from .benchmark_load import Command as Load


@dataclass
class Probe:
    """One kind of request and the status it must answer."""

    label: str
    send: Callable[[Client], Any]
    expect: int
    write: bool = False


class Command(BaseCommand):
    help = "Milliseconds per request, in process, for the API's hot paths beside the bare views."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=30, help="Per kind (median of).")
        parser.add_argument("--only", action="append", default=[], help="Labels containing.")
        parser.add_argument("--profile", default="", help="Profile the first label containing.")
        parser.add_argument("--profile-sort", default="cumulative")
        parser.add_argument("--profile-lines", type=int, default=45)
        parser.add_argument(
            "--profile-callers", default="", help="Print who calls functions matching this."
        )
        parser.add_argument("--sql", action="store_true", help="Print each kind's SQL once.")
        parser.add_argument(
            "--plans",
            action="store_true",
            help="Time each prepared statement under a custom and a generic plan.",
        )
        parser.add_argument("--no-writes", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        self.tokens: list[tuple[ApiToken, User]] = []
        try:
            self.run(options)
        finally:
            for token, user in self.tokens:
                revoke_token(token=token, by=user)

    def token(self, user: User) -> str:
        token, secret = create_token(owner=user, name=TOKEN_NAME)
        self.tokens.append((token, user))
        return secret

    def probes(self, *, writes: bool) -> list[Probe]:
        probes: list[Probe] = []
        loader = Load()
        for label, email in (("3 roles", LIGHT_EMAIL), ("300 roles", HEAVY_EMAIL)):
            user = User.objects.get(email=email)
            # the pages, each through a signed-in client of the person's own
            person = loader.person(label, email)
            browser = Client()
            browser.force_login(user)
            for page, name, takes_task_force in PAGES:
                args = [person.task_force.pk] if takes_task_force and person.task_force else []
                path = reverse(name, args=args)
                probes.append(
                    Probe(
                        f"page {page}, {label}",
                        lambda c, b=browser, p=path: b.get(p),  # type: ignore[misc]
                        200,
                    )
                )
            bearer = f"Bearer {self.token(user)}"
            for name in API_LISTS:
                path = f"{API}/{name}/"
                probes.append(
                    Probe(
                        f"API {name}, {label}",
                        lambda c, p=path, b=bearer: c.get(p, HTTP_AUTHORIZATION=b),  # type: ignore[misc]
                        200,
                    )
                )
            first = Client().get(f"{API}/objectives/", HTTP_AUTHORIZATION=bearer)
            etag = first["ETag"]
            probes.append(
                Probe(
                    f"API objectives 304, {label}",
                    lambda c, b=bearer, e=etag: c.get(  # type: ignore[misc]
                        f"{API}/objectives/", HTTP_AUTHORIZATION=b, HTTP_IF_NONE_MATCH=e
                    ),
                    304,
                )
            )
        if writes:
            loader.random = random.Random(1)  # noqa: S311 - picks a writer, no secret
            loader.tokens = self.tokens
            picked = loader.writers(1) + loader.writers(1, roles=CONCURRENT_ROLES)
            for writer in picked:
                # the load benchmark's own post (its body and token), sent in process
                post = writer.post(f"POST update, writer holding {writer.current_roles()} roles")
                probes.append(
                    Probe(
                        post.label,
                        lambda c, r=post: c.post(  # type: ignore[misc]
                            r.path,
                            r.body,
                            content_type="application/json",
                            HTTP_AUTHORIZATION=r.headers["Authorization"],
                        ),
                        201,
                        write=True,
                    )
                )
        return probes

    def run(self, options: dict[str, Any]) -> None:
        client = Client()
        bare = Probe("bare view", lambda c: c.get(BARE), 200)
        bare_insert = Probe("bare insert", lambda c: c.post(BARE_INSERT), 201, write=True)
        probes = self.probes(writes=not options["no_writes"])
        if options["only"]:
            probes = [p for p in probes if any(o in p.label for o in options["only"])]
        for probe in [bare, bare_insert, *probes]:  # one each, checked, before timing
            status = probe.send(client).status_code
            if status != probe.expect:
                raise SystemExit(f"{probe.label}: {status}, expected {probe.expect}")
        if options["profile"]:
            chosen = next(p for p in probes if options["profile"] in p.label)
            self.profile(client, chosen, options)
            return
        if options["plans"]:
            self.plans(client, probes, options["requests"])
            return
        if options["sql"]:
            for probe in [bare, *probes]:
                with CaptureQueriesContext(connection) as captured:
                    probe.send(client)
                self.stdout.write(f"-- {probe.label}: {len(captured)} queries")
                for query in captured:
                    self.stdout.write(f"   {query['time']}s {query['sql']}")
            return
        n = options["requests"]
        self.stdout.write(f"{'request':<44} {'ms':>7} {'bare ms':>8} {'÷ bare':>7}")
        for probe in probes:
            yardstick = bare_insert if probe.write else bare
            own, theirs = [], []
            for _ in range(n):
                theirs.append(self.timed(client, yardstick))
                own.append(self.timed(client, probe))
            mine, base = statistics.median(own), statistics.median(theirs)
            self.stdout.write(f"{probe.label:<44} {mine:7.2f} {base:8.2f} {base / mine:7.2f}")

    def timed(self, client: Client, probe: Probe) -> float:
        reset_queries()
        start = time.perf_counter()
        response = probe.send(client)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != probe.expect:
            raise SystemExit(f"{probe.label}: {response.status_code}, expected {probe.expect}")
        return elapsed

    def profile(self, client: Client, probe: Probe, options: dict[str, Any]) -> None:
        profiler = cProfile.Profile()
        for _ in range(options["requests"]):
            profiler.enable()
            probe.send(client)
            profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.strip_dirs().sort_stats(options["profile_sort"]).print_stats(options["profile_lines"])
        if options["profile_callers"]:
            stats.print_callers(options["profile_callers"])

    def plans(self, client: Client, probes: list[Probe], n: int) -> None:
        """Each prepared statement one request of each kind executes, run again ``n`` times
        as it was sent under each plan cache mode (medians); flagged where the generic
        plan is slower (``generic_slower``)."""
        names = statement_names()
        self.stdout.write(f"{'request':<40} {'statement':<52} {'custom ms':>9} {'generic ms':>10}")
        try:
            for probe in probes:
                with CaptureQueriesContext(connection) as captured:
                    probe.send(client)
                timed = set()
                for query in captured:
                    executed = _EXECUTE.match(query["sql"])
                    if executed is None or executed.group(1) in timed:
                        continue
                    timed.add(executed.group(1))
                    generic = planned(query["sql"], "force_generic_plan", n)
                    custom = planned(query["sql"], "force_custom_plan", n)
                    name = names.get(executed.group(1)) or prepared_from(executed.group(1))
                    self.stdout.write(
                        f"{probe.label:<40} {name:<52} {custom:9.2f} {generic:10.2f}"
                        + ("  <- generic plan slower" if generic_slower(custom, generic) else "")
                    )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET plan_cache_mode")  # the connection's own setting


_EXECUTE = re.compile(r"EXECUTE (concord_[0-9a-f]+)")
_APPS = ("coordination", "agencies", "taskforces", "mutualaid")


def statement_names() -> dict[str, str]:
    """The prepared name of each statement text the apps' loaded modules hold, with the
    module and name it is kept under (``taskforces.selectors._MY_NEXT_TASKS``)."""
    found: dict[str, str] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(_APPS):
            continue
        for name, value in list(vars(module).items()):
            if isinstance(value, str) and "SELECT" in value:
                found.setdefault(db.statement_name(value), f"{module_name}.{name}")
    return found


def generic_slower(custom: float, generic: float) -> bool:
    """Is a generic plan taking ``generic`` ms worth a look beside a custom one taking
    ``custom``: half as slow again, and by more than the 0.2 ms planning costs?"""
    return generic > 1.5 * custom and generic - custom > 0.2


def prepared_from(name: str) -> str:
    """A statement no module holds as text (made in a function): the first table it reads,
    from the connection's own list of what it prepared."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name])
        row = cursor.fetchone()
    table = re.search(r"\bFROM (\w+)", row[0]) if row else None
    return f"{name} ({table.group(1) if table else '?'})"


def planned(sql: str, mode: str, n: int) -> float:
    """Median milliseconds of ``sql`` (an ``EXECUTE`` of a prepared statement) under the
    plan cache mode ``mode``."""
    times = []
    with connection.cursor() as cursor:
        cursor.execute(f"SET plan_cache_mode = {mode}")
        for _ in range(n):
            start = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
