"""What the concurrency tests share.

* ``release_together`` runs calls in threads released at the same moment by a barrier;
  each thread opens its own database connection before the barrier (so the requests
  overlap, not the connecting) and closes it at the end.
* ``Referee`` sends requests through the real API in-process (``APIClient``, one per
  thread and person, signed in with ``force_authenticate``), keeps every answer, judges
  it (2xx, or a clean refusal in the API's JSON error shape with a message; never a
  500, never an HTML page), and watches for deadlocks wherever they can surface: in an
  answer, in anything logged at ERROR (a 500's traceback, an ``on_commit`` hook that
  failed after the response was decided) and in PostgreSQL's own counter,
  ``pg_stat_database.deadlocks`` for the test database, which must not grow.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg2
import pytest
from django.db import connection
from django.db.models import F
from rest_framework.test import APIClient

from coordination import audit
from coordination.models import Event, User
from taskforces.models import Participation, Role, RoleAssignment, Task, TaskForce

# The marks of a module of races: PostgreSQL only (SQLite serialises every writer, so
# nothing would race), real transactions (each thread has its own connection), slow.
RACES_ON_POSTGRESQL = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL's row locks (set DATABASE_URL); SQLite serialises writers.",
    ),
]

# Refusals a race may bring, each in the API's error shape with a message: 400 (the state
# changed under the request: "already ended", "not open"), 404 (the object went out of
# the person's sight), 409 (a conflict), 403 (the permission core refused because the
# race took the right away, e.g. a withdrawal ended the liaison officer's own role
# between their two requests).
CLEAN_REFUSALS = frozenset({400, 403, 404, 409})
DEADLOCK = "deadlock detected"
# A deadlock PostgreSQL notices is broken after deadlock_timeout (1 s); a thread still
# running after this long is stuck on something PostgreSQL cannot see.
JOIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Answer:
    """One request and what came back (``status`` None: the request raised)."""

    label: str
    method: str
    path: str
    status: int | None
    body: str = ""
    error: str = ""  # the traceback, when the request raised or answered 500
    round: int | None = None

    @property
    def deadlocked(self) -> bool:
        return DEADLOCK in self.error or DEADLOCK in self.body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def fault(self) -> str | None:
        """What is wrong with this answer (None: a success or a clean refusal)."""
        if self.deadlocked:
            return "DEADLOCK"
        if self.status is None:
            return "the request raised"
        if self.ok:
            if not self.body:
                return None
            try:
                json.loads(self.body)
            except ValueError:
                return "a success whose body is not JSON"
            return None
        if self.status not in CLEAN_REFUSALS:
            return f"status {self.status}"
        try:
            error = json.loads(self.body)["error"]
        except (ValueError, KeyError, TypeError):
            return "a refusal not in the API's error shape (HTML?)"
        if not isinstance(error, dict) or error.get("status") != self.status:
            return "a refusal whose error.status differs from the HTTP status"
        message = error.get("message")
        if not isinstance(message, str) or not message.strip():
            return "a refusal without a message"
        if not error.get("code") or not isinstance(error.get("fields"), dict):
            return "a refusal without its code or fields"
        return None

    def describe(self) -> str:
        where = f"round {self.round}: " if self.round is not None else ""
        detail = self.body[:400]
        if self.error:
            detail = f"{detail}\n{self.error.strip()[-2500:]}"
        return f"{where}{self.label}: {self.method} {self.path} -> {self.status} {detail}"


class _ErrorLog(logging.Handler):
    """Everything logged at ERROR (or mentioning a deadlock) while a test runs, and the
    last traceback each thread logged (a 500's, from ``django.request``)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []
        self.last_traceback: dict[int, str] = {}
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}\n{''.join(traceback.format_exception(*record.exc_info))}"
        if record.levelno < logging.ERROR and DEADLOCK not in text:
            return
        with self._lock:
            self.records.append(f"[{record.threadName} {record.name}] {text}")
            self.last_traceback[record.thread or 0] = text


def deadlock_count() -> int:
    """PostgreSQL's count of deadlocks detected in this database since its statistics
    were last reset."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _wait_for_other_connections(timeout: float = 10.0) -> None:
    """A backend adds its deadlocks to the shared statistics at the latest when it exits:
    wait until the threads' connections are gone, then a moment more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    time.sleep(0.5)


class Referee:
    """Sends the requests, keeps every answer and watches for deadlocks. Use as a context
    manager around the rounds, then ``assert_clean()``."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.answers: list[Answer] = []
        self.notes: list[str] = []
        self.expected: dict[str, frozenset[int]] = {}
        self.rounds = 0
        self.facts: list[str] = []  # figures worth printing (seed, counts)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._log = _ErrorLog()
        self._deadlocks_before = 0
        self._deadlocks_after = 0
        self._started = 0.0
        self.seconds = 0.0

    # --- watching --------------------------------------------------------------------

    def __enter__(self) -> Referee:
        self._deadlocks_before = deadlock_count()
        logging.getLogger().addHandler(self._log)
        self._started = time.monotonic()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.seconds = time.monotonic() - self._started
        logging.getLogger().removeHandler(self._log)
        _wait_for_other_connections()
        self._deadlocks_after = deadlock_count()

    # --- asking ----------------------------------------------------------------------

    def expect(self, label: str, statuses: Iterable[int]) -> None:
        """The only statuses an answer labelled ``label`` may have in this test."""
        self.expected[label] = frozenset(statuses)

    def client(self, user: User) -> APIClient:
        """This thread's client for ``user``, signed in as a copy of them read in this
        thread (requests of one person in two threads share no Python object)."""
        clients: dict[int, APIClient] = self._local.__dict__.setdefault("clients", {})
        if user.pk not in clients:
            client = APIClient()
            # a 500 is an answer to judge, with its traceback taken from the log: the test
            # client's own re-raising would hand one thread's exception to every client
            # whose request was running at that moment (it listens to a global signal)
            client.raise_request_exception = False
            client.force_authenticate(User.objects.get(pk=user.pk))
            clients[user.pk] = client
        return clients[user.pk]

    def ask(
        self,
        user: User,
        method: str,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        label: str,
        round: int | None = None,
    ) -> Answer:
        """Send one request as ``user`` and keep the answer."""
        client = self.client(user)
        self._log.last_traceback.pop(threading.get_ident(), None)
        try:
            if method == "get":
                response = client.get(path, data)
            else:
                response = getattr(client, method)(path, data, format="json")
        except Exception:
            answer = Answer(
                label, method.upper(), path, None, error=traceback.format_exc(), round=round
            )
        else:
            status = response.status_code
            logged = (
                self._log.last_traceback.get(threading.get_ident(), "") if status >= 500 else ""
            )
            answer = Answer(
                label,
                method.upper(),
                path,
                status,
                response.content.decode("utf-8", "replace"),
                error=logged,
                round=round,
            )
        with self._lock:
            self.answers.append(answer)
        return answer

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Around a test's rounds: an exception in the test's own code (a round left in a
        state it cannot rebuild from) ends the rounds and is reported with the rest."""
        try:
            yield
        except Exception:
            self.note(f"the rounds stopped:\n{traceback.format_exc()}")

    def note(self, problem: str) -> None:
        """A problem found outside the answers (an inconsistency, a thread that raised)."""
        with self._lock:
            self.notes.append(problem)

    # --- judging ---------------------------------------------------------------------

    def unexpected(self) -> list[str]:
        found = []
        for answer in self.answers:
            fault = answer.fault()
            if fault is None and answer.status not in self.expected.get(
                answer.label, frozenset({answer.status})
            ):
                fault = f"clean, but not one of {sorted(self.expected[answer.label])}"
            if fault is not None:
                found.append(f"{fault}: {answer.describe()}")
        return found

    def counts(self) -> dict[str, Counter[int | None]]:
        by_label: dict[str, Counter[int | None]] = defaultdict(Counter)
        for answer in self.answers:
            by_label[answer.label][answer.status] += 1
        return dict(sorted(by_label.items()))

    def summary(self) -> str:
        statuses: Counter[int | None] = Counter(a.status for a in self.answers)
        lines = [
            f"{self.title}: {self.rounds} rounds, {len(self.answers)} answers in "
            f"{self.seconds:.1f} s; by status "
            + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=str)),
            f"  deadlocks counted by PostgreSQL: {self._deadlocks_before} before, "
            f"{self._deadlocks_after} after",
        ]
        for label, counter in self.counts().items():
            shown = ", ".join(f"{s}: {n}" for s, n in sorted(counter.items(), key=str))
            lines.append(f"  {label}: {shown}")
        lines.extend(f"  {fact}" for fact in self.facts)
        return "\n".join(lines)

    def problems(self) -> list[str]:
        found = self.unexpected()
        grown = self._deadlocks_after - self._deadlocks_before
        if grown:
            found.append(f"DEADLOCK: PostgreSQL counted {grown} deadlock(s) in this test")
        found.extend(f"logged: {record}" for record in self._log.records)
        found.extend(self.notes)
        return found

    def assert_clean(self) -> None:
        summary = self.summary()
        print(summary)  # shown with -rP / -s: the figures of a passing run
        problems = self.problems()
        assert not problems, f"{len(problems)} problem(s)\n{summary}\n\n" + "\n\n".join(
            problems[:60]
        )


def release_together(
    referee: Referee | None, *calls: Callable[[], Any], timeout: float = JOIN_TIMEOUT
) -> list[Any]:
    """Run each call in its own thread (its own database connection), all released at
    once; returns each call's result, or the exception it raised (which the referee, if
    any, also notes)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=timeout)
            results[index] = call()
        except Exception as error:
            results[index] = error
            if referee is not None:
                referee.note(f"thread {index} raised:\n{traceback.format_exc()}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call), name=f"race-{index}", daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, (
        f"threads still running after {timeout:.0f} s (a deadlock PostgreSQL cannot see?): "
        f"{stuck}\n{referee.summary() if referee is not None else ''}"
    )
    return results


# --- what must hold after every round ------------------------------------------------------


def inconsistencies(task_force: TaskForce) -> list[str]:
    """What is wrong with a task force's data: an open assignment of an agency that has not
    accepted (or was withdrawn), a role past its holder limit, a role group that differs
    from the people holding the role, a task not marked as its objective. (Four queries:
    this runs after every round.)"""
    found = []
    accepted = set(
        Participation.objects.filter(
            task_force=task_force, status=Participation.Status.ACCEPTED
        ).values_list("agency_id", flat=True)
    )
    roles = {
        pk: (name, limit, group_id)
        for pk, name, limit, group_id in Role.objects.filter(task_force=task_force).values_list(
            "pk", "name", "max_holders", "group_id"
        )
    }
    holders: dict[int, list[int]] = {pk: [] for pk in roles}
    for pk, role_id, person_id, agency_id in (
        RoleAssignment.objects.open()
        .filter(role__task_force=task_force)
        .values_list("pk", "role_id", "person_id", "agency_id")
    ):
        holders[role_id].append(person_id)
        if agency_id not in accepted:
            found.append(
                f"{task_force.name}: assignment {pk} ({roles[role_id][0]}, person "
                f"{person_id}) is open, but agency {agency_id} has not accepted a part"
            )
    members: dict[int, list[int]] = {group_id: [] for _, _, group_id in roles.values()}
    for group_id, user_id in User.groups.through.objects.filter(
        group_id__in=list(members)
    ).values_list("group_id", "user_id"):
        members[group_id].append(user_id)
    for role_id, (name, limit, group_id) in roles.items():
        if limit is not None and len(holders[role_id]) > limit:
            found.append(
                f"{task_force.name}: {name} has {len(holders[role_id])} holders, its limit "
                f"is {limit}"
            )
        if sorted(members[group_id]) != sorted(holders[role_id]):
            found.append(
                f"{task_force.name}: {name}'s group holds people {sorted(members[group_id])}, "
                f"its open assignments people {sorted(holders[role_id])}"
            )
    off = Task.objects.filter(task_force=task_force).exclude(marking=F("objective__marking"))
    found.extend(
        f"{task_force.name}: task {pk} is marked {marking}, its objective otherwise"
        for pk, marking in off.values_list("pk", "marking")
    )
    return found


def global_problems(referee: Referee) -> list[str]:
    """The audit chain verifies, and every notification event was dispatched (a dispatch
    whose transaction was chosen as a deadlock's victim is retried by Celery later in
    production; here, with tasks run in-process, it stays undispatched and is logged).

    Events whose writers ended are sealed by now; one still unsealed waits for a
    transaction older than it anywhere on the server (the sealer goes no further than the
    oldest one running), so it is reported, not failed."""
    found = []
    report = audit.verify_chain()
    referee.facts.append(
        f"audit chain: {report.checked} events verified, {report.unsealed} not sealed yet"
    )
    if not report.intact:
        found.append(f"audit chain broken: {report}")
    undispatched = Event.objects.filter(dispatched_at__isnull=True).count()
    if undispatched:
        found.append(f"{undispatched} notification event(s) never dispatched")
    return found


def note_all(referee: Referee, problems: list[str], number: int) -> None:
    for problem in problems:
        referee.note(f"round {number}: {problem}")


# --- gates: one interleaving, made certain ------------------------------------------------------


class Gate:
    """A transaction on a connection of the test's own (outside Django's) that takes a
    lock with ``sql`` and keeps it until ``open()``: a service that needs that lock stops
    at a known statement, so an interleaving that threads released together reach only
    now and then happens every time. Rolled back when opened: the gate changes nothing."""

    def __init__(self, sql: str, params: Iterable[Any] = ()) -> None:
        settings = connection.settings_dict
        self._connection = psycopg2.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            host=settings["HOST"] or None,
            port=settings["PORT"] or None,
        )
        with self._connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            self.pid = self._connection.get_backend_pid()

    def open(self) -> None:
        if not self._connection.closed:
            self._connection.rollback()
            self._connection.close()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.open()


class Background:
    """A call running in a thread of its own, with its own database connection (closed at
    the end); what it returned, or the exception it raised (which the referee notes)."""

    def __init__(self, referee: Referee, call: Callable[[], Any], name: str) -> None:
        self.result: Any = None
        self._referee = referee
        self._call = call
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self._call()
        except Exception as error:
            self.result = error
            self._referee.note(f"{self._thread.name} raised:\n{traceback.format_exc()}")
        finally:
            connection.close()

    def join(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """Waits for the call to finish; False if it is still running."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


def wait_for_waiters(count: int, *, timeout: float = 5.0) -> bool:
    """Waits until ``count`` backends of this database wait for a lock; False if that
    did not happen in time (the code no longer waits there: the interleaving the caller
    wanted cannot arise, which is no failure in itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return True
        time.sleep(0.02)
    return False


def lock_report() -> str:
    """Who waits for whom in this database, and which tables each backend holds row
    locks in (RowShareLock: SELECT ... FOR UPDATE/SHARE; RowExclusiveLock: a write), from
    ``pg_stat_activity`` and ``pg_locks``: the evidence for a diagnosis."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.pid, a.wait_event_type, pg_blocking_pids(a.pid),
                   left(regexp_replace(coalesce(substring(a.query from 'FROM .*'), a.query),
                                       '\\s+', ' ', 'g'), 220),
                   coalesce((SELECT string_agg(DISTINCT c.relname || ' ' || l.mode, ', ')
                             FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                             WHERE l.pid = a.pid AND l.granted AND c.relkind = 'r'
                               AND l.mode IN ('RowShareLock', 'RowExclusiveLock')), '')
            FROM pg_stat_activity a
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
              AND a.state <> 'idle'
            ORDER BY a.pid
            """
        )
        rows = cursor.fetchall()
    lines = [
        f"  pid {pid} waits on {wait or '-'} (blocked by {blocked}): {query}\n"
        f"      holds row locks in: {held}"
        for pid, wait, blocked, query, held in rows
    ]
    return "\n".join([*lines, *row_locks()])


# the tables whose rows the services lock, parents first
LOCKED_TABLES = (
    "agencies_agency",
    "coordination_user",
    "auth_group",
    "taskforces_taskforce",
    "taskforces_participation",
    "taskforces_role",
    "taskforces_roleassignment",
    "coordination_user_groups",
    "taskforces_objective",
    "taskforces_task",
)


def row_locks() -> list[str]:
    """Every row lock held now in the tables above, with the backends holding it, from the
    ``pgrowlocks`` extension (created in the test database if the server has it)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pgrowlocks")
    except Exception:  # the contrib module is not installed: the report goes without
        return ["  (row locks: the pgrowlocks extension is not available)"]
    found = []
    with connection.cursor() as cursor:
        for table in LOCKED_TABLES:
            cursor.execute(
                f"SELECT (SELECT t.id FROM {table} t WHERE t.ctid = r.locked_row),"  # noqa: S608 - fixed names
                f" r.modes, r.pids FROM pgrowlocks('{table}') r"
            )
            found.extend(
                f"  row lock: {table} id {pk}: {', '.join(modes)} by pid {', '.join(map(str, pids))}"
                for pk, modes, pids in cursor.fetchall()
            )
    return found
