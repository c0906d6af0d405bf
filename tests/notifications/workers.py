"""Real brokers and real workers for the notification tests.

* :class:`RedisServer` — a private ``redis-server`` on a free port, nothing saved to disk,
  so killing it loses every queued message (the worst a broker restart can do). The
  shared Redis on 6379 is never touched.
* :class:`CeleryWorker` — ``celery -A coordination worker`` as a subprocess in its own
  process group, with the test settings switched to the private broker, the test
  database and e-mails written to files; :meth:`CeleryWorker.kill` SIGKILLs the whole
  group (parent and pool children at once, as when a machine or container dies).
* :func:`celery_via` — points this process's Celery app at the private broker with eager
  mode off, so ``emit``'s after-commit ``dispatch_event.delay`` and ``sweep`` publish there.
* :func:`in_process_worker` — ``celery.contrib.testing.worker.start_worker``, with a
  bounded wait for the worker to come up.
* :func:`read_emails` — the messages the file e-mail backend wrote.

Every wait has a timeout and fails with a message that says what did not happen.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import email
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery.contrib.testing.worker import TestWorkController, start_worker
from django.conf import settings
from django.db import connection

from coordination.celery import app as celery_app

ROOT = Path(settings.BASE_DIR)
SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # what Django's file e-mail backend writes between messages


# --- prerequisites -------------------------------------------------------------------------


def require_postgres_and_redis() -> str:
    """The path of ``redis-server``; skip (fail on CI) without it or without PostgreSQL."""
    missing = []
    if connection.vendor != "postgresql":
        missing.append(
            "PostgreSQL (set DATABASE_URL; a worker process must share the test database)"
        )
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        missing.append("the redis-server binary (a private broker is started per test)")
    if missing:
        reason = "Needs " + " and ".join(missing) + "."
        if os.environ.get("CI"):
            pytest.fail(f"Real-worker tests must run on CI. {reason}")
        pytest.skip(reason)
    assert redis_server is not None
    return redis_server


def subprocess_database_url() -> str:
    """A DATABASE_URL for the test database this process is using (``test_…``)."""
    s = connection.settings_dict
    user = quote(s.get("USER") or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or "5432"
    return f"postgres://{credentials}{host}:{port}/{s['NAME']}"


# --- waiting -------------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    check: Callable[[], None] | None = None,
) -> Any:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout`` s.
    ``check`` runs on every round (e.g. to fail at once if a worker process died)."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f}s waiting for {what}.")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: its own process group (so the test can kill the whole
    worker at once, and a Ctrl-C to pytest does not reach it), and SIGKILL when the
    process that started it dies, so nothing outlives a crashed test run (Linux)."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# --- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A private redis-server: no snapshots, no append-only file, so a kill loses all."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.workdir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
                cwd=self.workdir,
            )
        wait_until(
            self.ping,
            timeout=timeout,
            what=f"redis-server on port {self.port} to answer PING",
            check=self._check_alive,
        )
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def queued(self, queue: str = "celery") -> int:
        """Tasks waiting in ``queue`` (kombu keeps one Redis list per queue and priority)."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=5)
        try:
            return sum(
                int(client.llen(key))
                for key in client.scan_iter(match=f"{queue}*")
                if client.type(key) == b"list"
            )
        finally:
            client.close()

    def queued_tasks(self, queue: str = "celery") -> list[tuple[str, list[Any]]]:
        """The tasks waiting in ``queue``, oldest first: each one's name and arguments, as
        kombu wrote them (JSON, the body base64-encoded)."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=5)
        try:
            raw = client.lrange(queue, 0, -1)
        finally:
            client.close()
        tasks = []
        for message in reversed(raw):  # kombu pushes at the head; workers take the tail
            envelope = json.loads(message)
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            tasks.append((envelope["headers"]["task"], args))
        return tasks

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"redis-server on port {self.port} exited:\n{_tail(self.log)}")

    def kill(self) -> None:
        """SIGKILL: with nothing persisted, every queued and unacknowledged message is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    stop = kill


# --- Celery worker subprocess ------------------------------------------------------------


@dataclass
class CeleryWorker:
    """``celery -A coordination worker`` against the private broker and the test database."""

    broker_url: str
    database_url: str
    email_dir: Path
    workdir: Path
    concurrency: int = 2
    stale_seconds: int = 5
    grace_seconds: int = 1
    name: str = "worker"
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / f"celery-{self.name}.log"

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            # this process's pytest and Django state means nothing to the worker
            if not key.startswith(("PYTEST_", "DJANGO_")) and key != "REDIS_URL"
        }
        env.update(
            DJANGO_SETTINGS_MODULE="coordination.settings.test",
            DATABASE_URL=self.database_url,
            CONCORD_TASKS_EAGER="false",
            CONCORD_TEST_BROKER_URL=self.broker_url,
            CONCORD_TEST_EMAIL_DIR=str(self.email_dir),
            CONCORD_NOTIFY_STALE_SECONDS=str(self.stale_seconds),
            CONCORD_NOTIFY_GRACE_SECONDS=str(self.grace_seconds),
            CELERY_SKIP_CHECKS="1",  # system checks ran in the test process already
            DJANGO_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> CeleryWorker:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log.open("ab") as log:
            log.write(f"\n=== start {time.strftime('%H:%M:%S')} ===\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "coordination",
                    "worker",
                    "--loglevel",
                    "warning",
                    "--concurrency",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "--hostname",
                    f"{self.name}-{os.getpid()}-{time.monotonic_ns()}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        return self

    def tail(self) -> str:
        return _tail(self.log)

    def check_alive(self) -> None:
        """Fail at once, with the worker's log, if it died by itself."""
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(
                f"The Celery worker exited with {self.process.returncode}:\n{_tail(self.log)}"
            )

    def kill(self) -> None:
        """SIGKILL the worker's whole process group: parent and pool children together."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM: finish the running tasks), then make sure of it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()


# --- this process's Celery app ---------------------------------------------------------------


def _drop_broker_connections(app: Any) -> None:
    from kombu import pools

    pools.reset()  # closes every pooled connection and forgets the pools
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextlib.contextmanager
def celery_via(broker_url: str) -> Iterator[Any]:
    """Publish this process's tasks to ``broker_url`` for real (no eager mode), then put
    the app back as it was. Django's ``override_settings`` cannot do this: Celery reads
    the CELERY_* settings once."""
    app = celery_app
    keys = ("broker_url", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    _drop_broker_connections(app)
    app.conf.update(broker_url=broker_url, task_always_eager=False)
    try:
        yield app
    finally:
        _drop_broker_connections(app)
        app.conf.update(saved)


class _BoundedWorkController(TestWorkController):
    started_within = 30.0

    def ensure_started(self) -> None:
        if not self._on_started.wait(self.started_within):
            pytest.fail(f"The in-process Celery worker did not start in {self.started_within}s.")


@contextlib.contextmanager
def in_process_worker(app: Any, *, concurrency: int = 4) -> Iterator[Any]:
    """An embedded worker (threads in this process), consuming from the app's broker."""
    with start_worker(
        app,
        pool="threads",
        concurrency=concurrency,
        perform_ping_check=False,  # needs a result backend; Concord keeps none
        shutdown_timeout=30,
        loglevel="WARNING",
        WorkController=_BoundedWorkController,
    ) as worker:
        yield worker


# --- e-mails written by the file backend ---------------------------------------------------


@dataclass(frozen=True)
class SentEmail:
    to: str
    message_id: str
    subject: str
    file: str


def count_written(directory: Path) -> int:
    """How many messages the file backend has written so far (cheap; for polling)."""
    total = 0
    for path in directory.rglob("*.log"):
        with contextlib.suppress(OSError):
            total += path.read_bytes().count(SEPARATOR)
    return total


def read_emails(directory: Path) -> list[SentEmail]:
    """Every message in the backend's files. A message cut short by a kill (no Message-ID
    or no To:) fails the test: the backend writes one message per flush."""
    found = []
    for path in sorted(directory.rglob("*.log")):
        for chunk in path.read_bytes().split(SEPARATOR):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk)
            to, message_id = message.get("To"), message.get("Message-ID")
            assert to and message_id, f"a damaged message in {path.name}: {chunk[:200]!r}"
            where = str(path.relative_to(directory))
            found.append(SentEmail(str(to), str(message_id), str(message["Subject"]), where))
    return found
