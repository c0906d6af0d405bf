"""Live pages' fixtures: live pushing switched on against a real Redis (``REDIS_URL``, a
key prefix of the test's own), a reader of people's streams, and uvicorn in a subprocess
serving the portal (the ASGI server production runs) on a free port."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection

from coordination import live
from tests.notifications.workers import _die_with_parent, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        reason = "Live pages are tested against a real Redis: set REDIS_URL."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def needs_postgres() -> None:
    if connection.vendor != "postgresql":
        reason = "uvicorn in a subprocess shares the test database: needs PostgreSQL."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@dataclass
class Live:
    """Live pushing on, for this test only (its own key prefix in Redis)."""

    url: str
    prefix: str
    client: redis.Redis = field(init=False)

    def __post_init__(self) -> None:
        self.client = redis.Redis.from_url(self.url)

    def entries(self, user: Any) -> list[dict[str, Any]]:
        """Everything in the person's stream, oldest first, as pages receive it."""
        key = f"{self.prefix}:u:{user.pk}"
        return [
            {"id": entry_id.decode(), **live.payload_of(fields)}
            for entry_id, fields in self.client.xrange(key)
        ]

    def objects(self, user: Any) -> list[str]:
        return [entry["object"] for entry in self.entries(user)]

    def clean(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}:*"))
        if keys:
            self.client.delete(*keys)
        self.client.close()


@pytest.fixture
def live_on(world: SimpleNamespace, settings: Any) -> Iterator[Live]:
    """Switched on after the world is built, so its streams start empty."""
    state = Live(url=redis_url(), prefix=f"test-live-{uuid.uuid4().hex[:12]}")
    settings.CONCORD_LIVE_REDIS_URL = state.url
    settings.CONCORD_LIVE_KEY_PREFIX = state.prefix
    try:
        yield state
    finally:
        state.clean()


def session_cookie(user: Any) -> str:
    """A signed-in session for ``user``, as a sign-in would make it (committed by the
    caller's transactional test)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return str(store.session_key)


@dataclass
class Uvicorn:
    """uvicorn serving the portal (coordination.asgi) on the test database."""

    live: Live
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    # settings of this server's own (environment variables), over the quick defaults
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workdir: Path) -> Uvicorn:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "coordination.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CONCORD_LIVE_REDIS_URL": self.live.url,
            "CONCORD_LIVE_KEY_PREFIX": self.live.prefix,
            "CONCORD_TASKS_EAGER": "true",
            # quick keep-alives and session checks, so a test sees a sign-out end a stream
            "CONCORD_LIVE_KEEPALIVE_SECONDS": "0.5",
            "CONCORD_LIVE_RECHECK_SECONDS": "0.5",
            **self.extra_env,
        }
        self.log = workdir / f"uvicorn-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "coordination.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        wait_until(self._healthy, timeout=30, what="uvicorn to answer /healthz/", check=self._alive)
        return self

    def _alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            text = self.log.read_text(errors="replace")[-3000:] if self.log else ""
            raise AssertionError(f"uvicorn exited:\n{text}")

    def _healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz/")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def uvicorn(live_on: Live, tmp_path: Path) -> Iterator[Uvicorn]:
    needs_postgres()
    server = Uvicorn(live=live_on).start(tmp_path)
    try:
        yield server
    finally:
        server.stop()


class EventStream:
    """One Server-Sent Events connection, read line by line (the browser's EventSource
    protocol: ``id:``, ``event:``, ``data:``, a blank line ends an event)."""

    def __init__(
        self, server: Uvicorn, cookie: str, topics: list[str], last_event_id: str | None = None
    ) -> None:
        query = "&".join(f"topic={t}" for t in topics)
        headers = {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}",
            "Accept": "text/event-stream",
        }
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        self.conn.request("GET", f"/live/stream/?{query}", headers=headers)
        self.response = self.conn.getresponse()

    def next_event(self, timeout: float = 10) -> dict[str, Any]:
        """The next event (comments and keep-alives skipped)."""
        deadline = time.monotonic() + timeout
        event: dict[str, Any] = {}
        while time.monotonic() < deadline:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "data" in event:
                return event
        raise AssertionError("no event arrived in time")

    def ended(self, timeout: float = 10) -> bool:
        """Does the server end the response within ``timeout`` seconds?"""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.response.readline() == b"":
                return True
        return False

    def close(self) -> None:
        self.conn.close()
