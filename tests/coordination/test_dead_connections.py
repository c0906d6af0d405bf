"""A web process keeps its database connection between requests (``CONN_MAX_AGE``). When
PostgreSQL ends that connection (a restart, a failover, an administrator's
``pg_terminate_backend``, a proxy's idle timeout), the next request must not fail on it:
Django checks a kept connection before its first use in a request (``CONN_HEALTH_CHECKS``)
and opens a new one if it is dead.

Proved on a real server: gunicorn (sync workers, each keeping its connection) serving the
test database, its backends terminated from this process between two rounds of requests.
Needs PostgreSQL (set DATABASE_URL); skipped on the embedded SQLite default.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from coordination.accounts.tokens import create_token
from tests.factories import AgencyFactory, person
from tests.notifications.workers import (
    _die_with_parent,
    _tail,
    free_port,
    subprocess_database_url,
    wait_until,
)

WORKERS = 2
REQUESTS = 8


def get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """gunicorn on a free port with the test settings and the test database."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "DJANGO_")) and key != "REDIS_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="coordination.settings.test",
        DATABASE_URL=subprocess_database_url(),
        DJANGO_LOG_LEVEL="WARNING",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "gunicorn",
                "coordination.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WORKERS),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def alive() -> None:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{_tail(log)}")

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any answer: it is serving
        except OSError:
            return False

    try:
        wait_until(answers, timeout=60, what="gunicorn to answer", check=alive)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        print(_tail(log))


def terminate_other_backends() -> int:
    """What a database restart or an administrator does to idle connections: every other
    backend of the test database ends (not this test's own)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Needs PostgreSQL (set DATABASE_URL): its backends are terminated.",
)
def test_requests_after_the_database_ended_idle_connections_all_succeed(server: str) -> None:
    _, secret = create_token(owner=person(AgencyFactory()), name="Monitor")
    url = f"{server}/api/v1/agencies/"
    # every worker has served requests and kept its connection
    assert [get(url, secret) for _ in range(REQUESTS)] == [200] * REQUESTS
    assert terminate_other_backends() >= 1

    assert [get(url, secret) for _ in range(REQUESTS)] == [200] * REQUESTS


SETTINGS_MODULES = ("base", "local", "test", "benchmark", "production")


@pytest.mark.parametrize("name", SETTINGS_MODULES)
def test_every_settings_module_checks_kept_connections_before_use(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wherever connections are kept between requests, they are checked before use."""
    from tests.security.test_production_settings import CI_ENVIRONMENT

    for key, value in CI_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DJANGO_CONN_MAX_AGE", "60")
    for module in ("base", name):  # loaded afresh with this environment, then put back
        monkeypatch.delitem(sys.modules, f"coordination.settings.{module}", raising=False)
    module = importlib.import_module(f"coordination.settings.{name}")
    database = module.DATABASES["default"]
    assert database["CONN_MAX_AGE"] > 0
    assert database.get("CONN_HEALTH_CHECKS") is True
